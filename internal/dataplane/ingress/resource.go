package ingress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// Resources relays the TCP connections of resource configuration ports
// (snapshot.VPC.Resources; internal/dataplane/passthrough's ServeResource).
type Resources interface {
	// ServeResource relays c, accepted at addr (a resource address of the
	// VPC and one of its ports), to the resource the VPC reaches there,
	// until it is over, and closes c. Cancelling ctx closes it.
	ServeResource(ctx context.Context, c net.Conn, vpcID string, addr netip.AddrPort)
}

// resourceServer serves one resource socket: every connection the
// security groups admit (the socket's listener is an sgListener, as every
// socket's) is handed to Resources as it is, no byte read: a resource
// port carries any TCP protocol, so nothing is dispatched.
type resourceServer struct {
	res   Resources
	vpcID string
	addr  netip.AddrPort

	ctx    context.Context // ends on Close: relayed connections are closed
	cancel context.CancelFunc
	conns  sync.WaitGroup
	mu     sync.Mutex
	ln     net.Listener
}

func newResourceServer(res Resources, vpcID string, addr netip.AddrPort) *resourceServer {
	ctx, cancel := context.WithCancel(context.Background())
	return &resourceServer{res: res, vpcID: vpcID, addr: addr, ctx: ctx, cancel: cancel}
}

func (s *resourceServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			s.res.ServeResource(s.ctx, c, s.vpcID, s.addr)
		}()
	}
}

// Shutdown stops accepting and waits for the relayed connections to end,
// or for ctx, when it closes them.
func (s *resourceServer) Shutdown(ctx context.Context) error {
	s.closeListener()
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return ctx.Err()
	}
}

// Close closes the listener and every relayed connection.
func (s *resourceServer) Close() error {
	s.closeListener()
	s.cancel()
	s.conns.Wait()
	return nil
}

func (s *resourceServer) closeListener() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		_ = s.ln.Close()
	}
}
