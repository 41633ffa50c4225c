package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxTxnOps is the most operations one publishing transaction holds:
// within etcd's default --max-txn-ops (128), so publishing needs none of
// the limits the store's transactions need raised.
const maxTxnOps = 100

// Status is one node's report of one target, the value of
// <prefix>health/<node>/<tg>/<target>/<port>.
type Status struct {
	Status     string `json:"status"`
	ReasonCode string `json:"reasonCode,omitempty"`
	// Since is when the node first published this status.
	Since time.Time `json:"since"`
}

// publisher writes this node's status transitions, batched: the checker's
// hooks mark targets and groups dirty (cheap, never blocking); every
// FlushInterval the dirty ones are read from the Source, compared with
// what was published, and only the differences are written, in
// transactions of at most maxTxnOps puts and deletes under the lease.
type publisher struct {
	e *Etcd

	mu        sync.Mutex
	groups    map[string]struct{}
	targets   map[string]struct{}
	republish bool
	wake      chan struct{}

	// published is what etcd holds of this node, by group then key;
	// failing is whether the last flush failed. Both owned by run's
	// goroutine.
	published map[string]map[string]Status
	failing   bool
}

func (p *publisher) init(e *Etcd) {
	p.e = e
	p.groups = map[string]struct{}{}
	p.targets = map[string]struct{}{}
	p.wake = make(chan struct{}, 1)
	p.published = map[string]map[string]Status{}
}

func (p *publisher) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *publisher) markTarget(key string) {
	p.mu.Lock()
	p.targets[key] = struct{}{}
	p.mu.Unlock()
	p.poke()
}

func (p *publisher) markGroups(ids []string) {
	if len(ids) == 0 {
		return
	}
	p.mu.Lock()
	for _, id := range ids {
		p.groups[id] = struct{}{}
	}
	p.mu.Unlock()
	p.poke()
}

// republishAll makes the next flush put every published status again (a
// new lease: the old one's keys are gone).
func (p *publisher) republishAll() {
	p.mu.Lock()
	p.republish = true
	p.mu.Unlock()
	p.poke()
}

// run flushes at most every FlushInterval, when something is dirty.
func (p *publisher) run(ctx context.Context) {
	every := p.e.cfg.FlushInterval
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		if wait := every - time.Since(last); wait > 0 && !sleep(ctx, wait) {
			return
		}
		last = time.Now()
		p.flush(ctx)
	}
}

// change is one key to put (st set) or delete.
type change struct {
	group, key string
	st         *Status
}

// flush publishes what changed since the last flush.
func (p *publisher) flush(ctx context.Context) {
	p.mu.Lock()
	groups, targets, all := p.groups, p.targets, p.republish
	p.groups, p.targets, p.republish = map[string]struct{}{}, map[string]struct{}{}, false
	p.mu.Unlock()

	now := time.Now().UTC()
	var changes []change
	set := func(group, key, status, reason string) {
		old, ok := p.published[group][key]
		if ok && old.Status == status && old.ReasonCode == reason {
			return
		}
		changes = append(changes, change{group: group, key: key, st: &Status{Status: status, ReasonCode: reason, Since: now}})
	}
	src := p.e.cfg.Source
	for g := range groups {
		seen := map[string]bool{}
		src.GroupStatuses(g, func(key, status, reason string) {
			seen[key] = true
			set(g, key, status, reason)
		})
		for key := range p.published[g] {
			if !seen[key] {
				changes = append(changes, change{group: g, key: key})
			}
		}
	}
	for key := range targets {
		g, _, ok := strings.Cut(key, "/")
		if !ok {
			continue
		}
		if _, done := groups[g]; done {
			continue
		}
		if status, reason, ok := src.TargetStatus(key); ok {
			set(g, key, status, reason)
		} else if _, was := p.published[g][key]; was {
			changes = append(changes, change{group: g, key: key})
		}
	}
	if all {
		// Everything again, changed or not, under the new lease.
		pending := map[string]bool{}
		for _, c := range changes {
			pending[c.key] = true
		}
		for g, keys := range p.published {
			for key, st := range keys {
				if !pending[key] {
					changes = append(changes, change{group: g, key: key, st: &st})
				}
			}
		}
	}
	if len(changes) == 0 {
		return
	}
	s := p.e.session()
	if s == nil {
		// Not joined: everything waits for the lease (joining calls
		// republishAll, which flushes again).
		p.mu.Lock()
		for _, c := range changes {
			p.targets[c.key] = struct{}{}
		}
		p.republish = p.republish || all
		p.mu.Unlock()
		return
	}
	lease := clientv3.WithLease(s.Lease())
	pfx := p.e.healthPrefix() + p.e.cfg.Node.Name + "/"
	for i := 0; i < len(changes); i += maxTxnOps {
		chunk := changes[i:min(i+maxTxnOps, len(changes))]
		ops := make([]clientv3.Op, 0, len(chunk))
		for _, c := range chunk {
			if c.st == nil {
				ops = append(ops, clientv3.OpDelete(pfx+c.key))
				continue
			}
			b, _ := json.Marshal(c.st)
			ops = append(ops, clientv3.OpPut(pfx+c.key, string(b), lease))
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := p.e.cli.Txn(cctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			// Look again at what did not go out, at the next flush: the
			// Source's status then, not the stale one.
			if ctx.Err() == nil {
				// Once per outage: a flush is retried every interval.
				if !p.failing {
					p.e.log.Warn("cluster: publishing target statuses failed; retrying until etcd answers", "err", err, "changes", len(changes)-i)
				}
				p.failing = true
			}
			p.mu.Lock()
			for _, c := range changes[i:] {
				p.targets[c.key] = struct{}{}
			}
			if all {
				p.republish = true
			}
			p.mu.Unlock()
			if ctx.Err() == nil {
				time.AfterFunc(p.e.cfg.FlushInterval, p.poke)
			}
			return
		}
		if p.failing {
			p.failing = false
			p.e.log.Info("cluster: publishing target statuses again")
		}
		for _, c := range chunk {
			if c.st == nil {
				delete(p.published[c.group], c.key)
				if len(p.published[c.group]) == 0 {
					delete(p.published, c.group)
				}
				continue
			}
			m := p.published[c.group]
			if m == nil {
				m = map[string]Status{}
				p.published[c.group] = m
			}
			m[c.key] = *c.st
		}
	}
}
