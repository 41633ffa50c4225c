//go:build linux

package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Where iproute2 keeps namespaces and their files; `ip netns` and this
// package agree on both, so each sees what the other made.
var (
	runDir = "/run/netns"
	etcDir = "/etc/netns"
)

// RouteProtocol marks the local routes this package adds (rtm_protocol),
// so re-applying a config removes the blocks it no longer names and leaves
// the kernel's own local routes (protocol kernel) alone. Values above
// RTPROT_STATIC belong to routing daemons; 171 is unassigned in iproute2's
// rt_protos and echoes 169.254.171.0/24.
const RouteProtocol = 171

// mu serialises Create and Delete within the process, so two callers
// cannot race on the same name's mount point.
var mu sync.Mutex

// Namespace is a named network namespace. Its methods are safe for
// concurrent use. It holds an open descriptor of the namespace until Close
// or Delete.
type Namespace struct {
	name string
	fd   int

	closeOnce sync.Once
}

// Name is the namespace's name, as `ip netns list` shows it.
func (n *Namespace) Name() string { return n.name }

// Close releases the descriptor; the namespace itself stays.
func (n *Namespace) Close() error {
	var err error
	n.closeOnce.Do(func() { err = unix.Close(n.fd) })
	return err
}

// Create makes the named namespace and applies cfg to it, or, when a
// namespace of that name exists, adopts it and applies cfg again: addresses
// and blocks it no longer names are removed, the rest left in place, so
// sockets and processes inside keep working across a restart of the caller.
func Create(name string, cfg Config) (*Namespace, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	n, err := Open(name)
	fresh := false
	if errors.Is(err, fs.ErrNotExist) {
		n, err = create(name)
		fresh = true
	}
	if err != nil {
		return nil, err
	}
	if err := n.apply(&cfg); err != nil {
		n.Close()
		if fresh {
			// Leave nothing half-made behind; an adopted namespace
			// keeps running as it was.
			removeLocked(name)
		}
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	return n, nil
}

// Open adopts an existing namespace. An error wrapping fs.ErrNotExist means
// there is none of that name.
func Open(name string) (*Namespace, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	path := filepath.Join(runDir, name)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: open %s: %w", path, err)
	}
	// A file that is not a namespace mount (an empty mount point left by a
	// create that died half-way) counts as absent.
	if !isNetNS(fd) {
		unix.Close(fd)
		return nil, fmt.Errorf("netns: %s is not a network namespace: %w", path, fs.ErrNotExist)
	}
	return &Namespace{name: name, fd: fd}, nil
}

// isNetNS reports whether fd refers to a network namespace (nsfs, and of
// type CLONE_NEWNET where the kernel can tell).
func isNetNS(fd int) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil || st.Type != unix.NSFS_MAGIC {
		return false
	}
	t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	return err != nil || t == unix.CLONE_NEWNET
}

// List returns the names under /run/netns that start with prefix, sorted.
func List(prefix string) ([]string, error) {
	ents, err := os.ReadDir(runDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && ValidName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	return names, nil // ReadDir sorts by name
}

// Delete removes the namespace's mount point and /etc/netns/NAME, and
// closes n. Processes and sockets still inside keep the kernel namespace
// alive until they end; nothing can enter it by name any more.
func (n *Namespace) Delete() error {
	n.Close()
	return Remove(n.name)
}

// Remove deletes the named namespace as Delete does, without opening it
// first. Removing a namespace that does not exist is not an error.
func Remove(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return removeLocked(name)
}

func removeLocked(name string) error {
	path := filepath.Join(runDir, name)
	// MNT_DETACH, as `ip netns delete` does: the mount goes now even if a
	// process holds the file open.
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("netns: unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("netns: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(etcDir, name)); err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	return nil
}

// create makes a new namespace the way `ip netns add` does: a shared
// /run/netns (so the mount propagates into the mount namespaces `ip netns
// exec` makes), an empty file, and a bind mount of a fresh namespace on it.
func create(name string) (*Namespace, error) {
	if err := sharedRunDir(); err != nil {
		return nil, err
	}
	path := filepath.Join(runDir, name)
	// A leftover mount point of a create that died is not a namespace
	// (Open said so); start again from nothing.
	unix.Unmount(path, unix.MNT_DETACH)
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	f.Close()
	err = onFreshThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netns: unshare: %w", err)
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("netns: bind %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return Open(name)
}

// sharedRunDir makes /run/netns a shared mount, binding it onto itself
// first when it is not a mount point yet (EINVAL), as iproute2 does.
func sharedRunDir() error {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	err := unix.Mount("", runDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == unix.EINVAL {
		if err = unix.Mount(runDir, runDir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.Mount("", runDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	}
	if err != nil {
		return fmt.Errorf("netns: make %s shared: %w", runDir, err)
	}
	return nil
}

// hostNS is the network namespace the process started in; threads are put
// back into it after visiting another one. It is read from the thread
// group leader (/proc/self), which Go never moves.
var hostNS = sync.OnceValues(func() (int, error) {
	fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("netns: open own namespace: %w", err)
	}
	return fd, nil
})

// setns is unix.Setns; a test swaps it to make returning home fail.
var setns = unix.Setns

// onFreshThread runs fn on a new goroutine locked to its OS thread and
// waits for it. Whatever fn does to the thread's network namespace, the
// thread is set back to the host namespace afterwards; if that fails the
// goroutine exits still locked, and the runtime terminates the thread
// rather than reuse it in the wrong namespace.
func onFreshThread(fn func() error) error {
	host, err := hostNS()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := fn()
		if rerr := setns(host, unix.CLONE_NEWNET); rerr != nil {
			// Stay locked: the thread dies with this goroutine.
			done <- errors.Join(err, fmt.Errorf("netns: restore thread namespace: %w", rerr))
			return
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// Do runs fn on an OS thread that is inside the namespace and waits for
// it. Sockets fn creates belong to the namespace for their whole life and
// may be used from any goroutine afterwards. fn must finish its namespace
// work on the calling goroutine: goroutines it starts, and name lookups
// (which run on other goroutines), run outside the namespace.
func (n *Namespace) Do(fn func() error) error {
	return onFreshThread(func() error {
		if err := setns(n.fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netns %s: enter: %w", n.name, err)
		}
		return fn()
	})
}

// checkNet refuses networks whose sockets are not namespaced by address.
func checkNet(network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		return literalHost(address)
	}
	return fmt.Errorf("netns: network %q: only tcp and udp (4 or 6) are supported", network)
}

// Listen is net.Listen inside the namespace. The address's host must be
// empty or an IP literal.
func (n *Namespace) Listen(network, address string) (net.Listener, error) {
	if err := checkNet(network, address); err != nil {
		return nil, err
	}
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket is net.ListenPacket inside the namespace, for udp.
func (n *Namespace) ListenPacket(network, address string) (net.PacketConn, error) {
	if err := checkNet(network, address); err != nil {
		return nil, err
	}
	var c net.PacketConn
	err := n.Do(func() (err error) {
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

// Dial connects from inside the namespace with a zero net.Dialer. Its
// signature is http.Transport's DialContext.
func (n *Namespace) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return n.dial(ctx, &net.Dialer{}, network, address)
}

// DialContext returns d's DialContext run inside the namespace (d's
// Timeout, LocalAddr, KeepAlive and Control apply), for http.Transport and
// other places that take a dial function. d is copied.
func (n *Namespace) DialContext(d *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	dd := *d
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		return n.dial(ctx, &dd, network, address)
	}
}

// dial runs the whole DialContext on the namespace thread: with an IP
// literal it neither resolves nor races fallbacks, so the socket is made on
// this thread; waiting for the connection parks the goroutine with its
// thread, which costs a thread per dial in flight, not correctness.
func (n *Namespace) dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	if err := checkNet(network, address); err != nil {
		return nil, err
	}
	var c net.Conn
	err := n.Do(func() (err error) {
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Command returns a command that runs name with args inside the namespace
// through `ip netns exec`, which also gives it its own mount namespace
// with /etc/netns/NAME/* bind-mounted over /etc (so resolv.conf is the
// namespace's) and /sys remounted for the namespace. It needs `ip`
// (iproute2) on PATH; when missing, the command's Err says so.
func (n *Namespace) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// CommandContext is Command with a context, as exec.CommandContext.
func (n *Namespace) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// apply brings the namespace to cfg: lo up, the blocks' local routes, the
// addresses on lo, resolv.conf. Each step replaces what is there, so
// applying twice changes nothing and disturbs no socket.
func (n *Namespace) apply(cfg *Config) error {
	if err := n.writeResolvConf(cfg.Nameservers); err != nil {
		return err
	}
	return n.Do(func() error {
		if hasV6(cfg) {
			// IPv6 bind() accepts only configured addresses unless
			// nonlocal bind is on; the local route alone is enough for
			// IPv4 (inet_bind asks the local table). Per namespace: the
			// file is opened from a thread inside it.
			if err := os.WriteFile("/proc/sys/net/ipv6/ip_nonlocal_bind", []byte("1\n"), 0); err != nil {
				return fmt.Errorf("enable IPv6 nonlocal bind: %w", err)
			}
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		defer h.Close()
		lo, err := h.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("find lo: %w", err)
		}
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lo up: %w", err)
		}
		if err := applyAddrs(h, lo, cfg.Addresses); err != nil {
			return err
		}
		return applyRoutes(h, lo, cfg.CIDRBlocks)
	})
}

func hasV6(cfg *Config) bool {
	for _, p := range cfg.CIDRBlocks {
		if p.Addr().Is6() {
			return true
		}
	}
	for _, p := range cfg.Addresses {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func toPrefix(ipn *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(ipn.IP)
	ones, _ := ipn.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

// loopbackDefault reports the addresses the kernel puts on lo itself.
func loopbackDefault(p netip.Prefix) bool {
	return p == netip.MustParsePrefix("127.0.0.1/8") || p == netip.MustParsePrefix("::1/128")
}

// applyAddrs makes lo's addresses the kernel's own plus want.
func applyAddrs(h *netlink.Handle, lo netlink.Link, want []netip.Prefix) error {
	have, err := h.AddrList(lo, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list lo addresses: %w", err)
	}
	for _, a := range have {
		p := toPrefix(a.IPNet)
		if !loopbackDefault(p) && !slices.Contains(want, p) {
			if err := h.AddrDel(lo, &a); err != nil {
				return fmt.Errorf("remove %v from lo: %w", p, err)
			}
		}
	}
	for _, p := range want {
		// NODAD: lo skips duplicate address detection anyway; saying so
		// keeps an IPv6 address usable the moment it is added.
		a := &netlink.Addr{IPNet: ipNet(p), Flags: unix.IFA_F_NODAD}
		if err := h.AddrReplace(lo, a); err != nil {
			return fmt.Errorf("add %v to lo: %w", p, err)
		}
	}
	return nil
}

// applyRoutes makes this package's local routes on lo exactly the blocks:
// `ip route replace local BLOCK dev lo table local proto 171`.
func applyRoutes(h *netlink.Handle, lo netlink.Link, blocks []netip.Prefix) error {
	filter := &netlink.Route{Table: unix.RT_TABLE_LOCAL, Protocol: RouteProtocol}
	have, err := h.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("list local routes: %w", err)
	}
	for _, r := range have {
		if r.Dst == nil || !slices.Contains(blocks, toPrefix(r.Dst)) {
			if err := h.RouteDel(&r); err != nil {
				return fmt.Errorf("remove local route %v: %w", r.Dst, err)
			}
		}
	}
	for _, b := range blocks {
		r := &netlink.Route{
			LinkIndex: lo.Attrs().Index,
			Dst:       ipNet(b),
			Table:     unix.RT_TABLE_LOCAL,
			Type:      unix.RTN_LOCAL,
			Scope:     netlink.SCOPE_HOST,
			Protocol:  RouteProtocol,
		}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("local route %v on lo: %w", b, err)
		}
	}
	return nil
}

// writeResolvConf writes /etc/netns/NAME/resolv.conf when its content
// changes. It rewrites the file in place rather than renaming a new one
// over it: `ip netns exec` bind-mounts the file's inode, so processes
// already running inside see the new content only in place.
func (n *Namespace) writeResolvConf(servers []netip.Addr) error {
	dir := filepath.Join(etcDir, n.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "resolv.conf")
	want := resolvConf(servers)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(want)
	return errors.Join(err, f.Close())
}
