package vpcnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/netns"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Runner keeps one network namespace per netns VPC of the snapshot:
// it creates (or, after a restart, adopts — workloads inside keep running)
// each VPC's namespace with its CIDR blocks and the resource range
// (model.NetnsResourcePrefix) local and its ingress/DNS address on lo, and removes the namespaces (NamePrefix only) of VPCs that
// left the snapshot. Its Lookup gives the data plane each VPC's Net.
//
// The proxy, health checker and DNS follow the runner (Subscribe), not the
// snapshot watcher directly, so that a VPC's namespace exists before they
// open sockets in it.
type Runner struct {
	Holder *snapshot.Holder
	// Prefix starts the names of the installation's namespaces
	// ("trellis-TOKEN-", service.NetnsPrefix); at the first Sync, those
	// with it that no VPC names (their VPC was deleted while Trellis was
	// down) are removed. Empty: only VPC deletions remove namespaces.
	Prefix string
	Logger *slog.Logger
	// CAPEM is the installation CA's certificate (PEM): each namespace's
	// system trust bundle, as `ip netns exec` shows it, is the host's plus
	// this one (cabundle.go), so that workloads inside trust the HTTPS
	// listeners' certificates. Empty: the host's trust store, unchanged.
	CAPEM []byte

	nets atomic.Pointer[map[string]*InNamespace] // by VPC ID; read on the request path

	mu      sync.Mutex
	cfgs    map[string]string // VPC ID -> the config its namespace was made with (fingerprint)
	bundled map[string]bool   // VPC ID -> its namespace's CA bundle is written
	subs    []chan struct{}
	removed bool // the first Sync swept stale namespaces
}

// Lookup returns the Net of a netns VPC whose namespace exists, else nil
// (the host's network). It does not allocate.
func (r *Runner) Lookup(vpcID string) Net {
	m := r.nets.Load()
	if m == nil {
		return nil
	}
	if n, ok := (*m)[vpcID]; ok {
		return n
	}
	return nil
}

// Subscribe returns a channel told (without blocking, capacity 1) after
// every Sync; call before Run.
func (r *Runner) Subscribe() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := make(chan struct{}, 1)
	r.subs = append(r.subs, c)
	return c
}

func (r *Runner) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// want is what one netns VPC's namespace holds.
type want struct {
	name string
	cfg  netns.Config
}

func fingerprint(w want) string {
	return fmt.Sprint(w.name, w.cfg.CIDRBlocks, w.cfg.Addresses, w.cfg.Nameservers)
}

func wanted(snap *snapshot.Snapshot) map[string]want {
	out := map[string]want{}
	if snap == nil {
		return out
	}
	for id, v := range snap.VPCs {
		if v == nil || v.Mode != model.VPCModeNetns || v.NetnsName == "" || !v.Ingress.IsValid() {
			continue
		}
		// The resource range is local too, as the blocks are: each
		// resource configuration the VPC reaches listens at an address of
		// it (snapshot.Resource.Addr) and clients connect there. A VPC
		// stored with a block overlapping it reaches no resources (the
		// compile says so) and keeps its blocks as they are.
		blocks := slices.Clone(v.CIDRBlocks)
		if !slices.ContainsFunc(blocks, model.NetnsResourcePrefix.Overlaps) {
			blocks = append(blocks, model.NetnsResourcePrefix)
		}
		out[id] = want{name: v.NetnsName, cfg: netns.Config{
			CIDRBlocks:  blocks,
			Addresses:   []netip.Prefix{netip.PrefixFrom(v.Ingress, v.Ingress.BitLen())},
			Nameservers: []netip.Addr{v.Ingress},
		}}
	}
	return out
}

// Sync makes the namespaces those of the current snapshot and tells the
// subscribers. A namespace that cannot be made is logged and left out of
// Lookup (its VPC is not served); the returned error joins those failures.
func (r *Runner) Sync() error {
	r.mu.Lock()
	defer func() {
		subs := r.subs
		r.mu.Unlock()
		for _, c := range subs {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}()
	if r.cfgs == nil {
		r.cfgs = map[string]string{}
		r.bundled = map[string]bool{}
	}
	want := wanted(r.Holder.Load())
	old := r.nets.Load()
	next := map[string]*InNamespace{}
	var errs []error
	for id, w := range want {
		fp := fingerprint(w)
		if old != nil {
			if n, ok := (*old)[id]; ok && r.cfgs[id] == fp {
				next[id] = n
				continue
			}
		}
		// Create adopts an existing namespace and converges it: sockets
		// and processes inside stay.
		ns, err := netns.Create(w.name, w.cfg)
		if err != nil {
			r.log().Error("vpc namespace: cannot create", "vpc", id, "netns", w.name, "err", err)
			errs = append(errs, fmt.Errorf("vpc %s: namespace %s: %w", id, w.name, err))
			continue
		}
		if old != nil {
			if n, ok := (*old)[id]; ok && n.NS.Name() == w.name {
				// Same namespace, new config: keep the Net's identity
				// (connection pools stay valid) and drop the new handle.
				_ = ns.Close()
				next[id] = n
				r.cfgs[id] = fp
				continue
			}
		}
		r.log().Info("vpc namespace ready", "vpc", id, "netns", w.name, "cidrBlocks", w.cfg.CIDRBlocks)
		next[id] = &InNamespace{NS: ns}
		r.cfgs[id] = fp
	}
	r.nets.Store(&next)

	// Namespaces of VPCs that left: ours by prefix, not wanted any more.
	// The first Sync also sweeps those left by a run that ended before it
	// could remove them.
	keep := map[string]bool{}
	for _, w := range want {
		keep[w.name] = true
	}
	if old != nil {
		for id, n := range *old {
			if _, ok := next[id]; !ok || next[id] != n {
				delete(r.cfgs, id)
				delete(r.bundled, id)
				if !keep[n.NS.Name()] {
					if err := n.NS.Delete(); err != nil {
						errs = append(errs, err)
					}
					r.log().Info("vpc namespace removed", "vpc", id, "netns", n.NS.Name())
				} else {
					_ = n.NS.Close()
				}
			}
		}
	}
	if !r.removed && len(errs) == 0 && r.Prefix != "" {
		names, err := netns.List(r.Prefix)
		if err != nil && !errors.Is(err, netns.ErrNotSupported) {
			errs = append(errs, err)
		}
		for _, name := range names {
			if keep[name] || !strings.HasPrefix(name, r.Prefix+"vpc-") {
				continue
			}
			if err := netns.Remove(name); err != nil {
				errs = append(errs, err)
				continue
			}
			r.log().Info("vpc namespace removed (its VPC is gone)", "netns", name)
		}
		r.removed = err == nil
	}
	for id, w := range want {
		if _, ok := next[id]; !ok || r.bundled[id] {
			continue
		}
		// After Create (which makes /etc/netns/NAME) and after the removals
		// above (which forget a replaced namespace's bundle); a failure is
		// retried at the next Sync, and the VPC is served meanwhile.
		if _, err := os.Stat(filepath.Join("/run/netns", w.name)); err != nil {
			// The namespace went away under us: writing would leave
			// /etc/netns/NAME behind it.
			errs = append(errs, fmt.Errorf("vpc %s: namespace %s is gone: %w", id, w.name, err))
			continue
		}
		if err := writeCABundle("/etc", "/etc/netns", w.name, r.CAPEM); err != nil {
			r.log().Error("vpc namespace: cannot write the CA bundle", "vpc", id, "netns", w.name, "err", err)
			errs = append(errs, err)
			continue
		}
		r.bundled[id] = true
	}
	return errors.Join(errs...)
}

// Run calls Sync after each value on changes until ctx ends or changes is
// closed; after a failed Sync it tries again within 30s (1s doubling).
func (r *Runner) Run(ctx context.Context, changes <-chan struct{}) {
	backoff := time.Second
	for {
		var retry <-chan time.Time
		if err := r.Sync(); err != nil {
			retry = time.After(backoff)
			backoff = min(2*backoff, 30*time.Second)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
		case <-retry:
		}
	}
}

// Close closes the namespace handles. The namespaces stay, with whatever
// runs inside, for the next start to adopt; a VPC deleted while Trellis
// was down has its namespace removed by the next start's first Sync.
func (r *Runner) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.nets.Swap(nil); m != nil {
		for _, n := range *m {
			_ = n.NS.Close()
		}
	}
}
