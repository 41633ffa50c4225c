// Package watch feeds the snapshot from the store: Load reads the state in
// one consistent view, and the Watcher recompiles and publishes a new
// snapshot after every committed change. It is the only bridge between the
// store and the data plane, so that the data plane's packages, which import
// internal/snapshot, never depend on the store.
package watch

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Load reads the state from a consistent view of the store.
func Load(tx store.ReadTx) (*snapshot.State, error) { return (&Loader{}).Load(tx) }

// Loader reads the state like Load, but keeps what it decoded: an entity
// whose stored bytes did not change since the last Load is not decoded
// again. Decoding JSON is most of the cost of a compile, and a change
// usually touches a handful of keys. Entities are shared between states, so
// nothing may modify them (Compile does not). A Loader is not safe for
// concurrent use.
type Loader struct {
	cache map[string]cached
	seen  map[string]bool
}

type cached struct {
	raw []byte
	v   any
}

// Load reads the state from a consistent view of the store.
func (l *Loader) Load(tx store.ReadTx) (*snapshot.State, error) {
	if l.cache == nil {
		l.cache = map[string]cached{}
	}
	l.seen = make(map[string]bool, len(l.cache))
	st := &snapshot.State{Revision: tx.Revision()}
	var err error
	if st.ServiceNetworks, err = loadAll[model.ServiceNetwork](l, tx, schema.ServiceNetwork); err != nil {
		return nil, err
	}
	if st.Services, err = loadAll[model.Service](l, tx, schema.Service); err != nil {
		return nil, err
	}
	if st.Listeners, err = loadAll[model.Listener](l, tx, schema.Listener); err != nil {
		return nil, err
	}
	if st.Rules, err = loadAll[model.Rule](l, tx, schema.Rule); err != nil {
		return nil, err
	}
	if st.TargetGroups, err = loadAll[model.TargetGroup](l, tx, schema.TargetGroup); err != nil {
		return nil, err
	}
	if st.Targets, err = loadAll[model.Target](l, tx, schema.Target); err != nil {
		return nil, err
	}
	if st.SNSAs, err = loadAll[model.ServiceNetworkServiceAssociation](l, tx, schema.SNSA); err != nil {
		return nil, err
	}
	if st.SNVAs, err = loadAll[model.ServiceNetworkVpcAssociation](l, tx, schema.SNVA); err != nil {
		return nil, err
	}
	if st.AuthPolicies, err = loadAll[model.AuthPolicy](l, tx, schema.AuthPolicy); err != nil {
		return nil, err
	}
	if st.VPCs, err = loadAll[model.VPC](l, tx, schema.VPC); err != nil {
		return nil, err
	}
	if st.Accounts, err = loadAll[model.Account](l, tx, schema.Account); err != nil {
		return nil, err
	}
	if st.Principals, err = loadAll[model.Principal](l, tx, schema.Principal); err != nil {
		return nil, err
	}
	if st.AccessKeys, err = loadAll[model.AccessKey](l, tx, schema.AccessKey); err != nil {
		return nil, err
	}
	if st.AccessLogs, err = loadAll[model.AccessLogSubscription](l, tx, schema.ALS); err != nil {
		return nil, err
	}
	if st.SecurityGroups, err = loadAll[model.SecurityGroup](l, tx, schema.SecurityGroup); err != nil {
		return nil, err
	}
	if st.Certificates, err = loadAll[snapshot.StoredCertificate](l, tx, schema.Certificate); err != nil {
		return nil, err
	}
	if st.Instances, err = loadAll[model.Instance](l, tx, schema.Instance); err != nil {
		return nil, err
	}
	if st.LoadBalancers, err = loadAll[model.LoadBalancer](l, tx, schema.LoadBalancer); err != nil {
		return nil, err
	}
	for k := range l.cache {
		if !l.seen[k] {
			delete(l.cache, k) // deleted from the store
		}
	}
	return st, nil
}

func loadAll[T any](l *Loader, tx store.ReadTx, prefix string) ([]*T, error) {
	var out []*T
	err := tx.Scan(prefix, "", func(k string, b []byte) (bool, error) {
		l.seen[k] = true
		if c, ok := l.cache[k]; ok && bytes.Equal(c.raw, b) {
			out = append(out, c.v.(*T))
			return true, nil
		}
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return false, fmt.Errorf("snapshot: decode %s: %w", k, err)
		}
		l.cache[k] = cached{raw: b, v: v}
		out = append(out, v)
		return true, nil
	})
	return out, err
}
