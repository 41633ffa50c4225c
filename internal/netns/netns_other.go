//go:build !linux

package netns

import (
	"context"
	"net"
	"os/exec"
)

// Namespace is a named network namespace; on this system none can exist.
type Namespace struct{ name string }

// Create returns ErrNotSupported.
func Create(name string, cfg Config) (*Namespace, error) { return nil, ErrNotSupported }

// Open returns ErrNotSupported.
func Open(name string) (*Namespace, error) { return nil, ErrNotSupported }

// List returns ErrNotSupported.
func List(prefix string) ([]string, error) { return nil, ErrNotSupported }

// Remove returns ErrNotSupported.
func Remove(name string) error { return ErrNotSupported }

// Name is the namespace's name.
func (n *Namespace) Name() string { return n.name }

// Close returns ErrNotSupported.
func (n *Namespace) Close() error { return ErrNotSupported }

// Delete returns ErrNotSupported.
func (n *Namespace) Delete() error { return ErrNotSupported }

// Do returns ErrNotSupported.
func (n *Namespace) Do(fn func() error) error { return ErrNotSupported }

// Listen returns ErrNotSupported.
func (n *Namespace) Listen(network, address string) (net.Listener, error) {
	return nil, ErrNotSupported
}

// ListenPacket returns ErrNotSupported.
func (n *Namespace) ListenPacket(network, address string) (net.PacketConn, error) {
	return nil, ErrNotSupported
}

// Dial returns ErrNotSupported.
func (n *Namespace) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return nil, ErrNotSupported
}

// DialContext returns a dial function that fails with ErrNotSupported.
func (n *Namespace) DialContext(d *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	return n.Dial
}

// Command returns a command whose Err is ErrNotSupported.
func (n *Namespace) Command(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Err = ErrNotSupported
	return c
}

// CommandContext returns a command whose Err is ErrNotSupported.
func (n *Namespace) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Err = ErrNotSupported
	return c
}
