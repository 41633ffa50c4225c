// Package watch feeds the snapshot from the store: Load reads the state in
// one consistent view, and the Watcher recompiles and publishes a new
// snapshot after every committed change. It is the only bridge between the
// store and the data plane, so that the data plane's packages, which import
// internal/snapshot, never depend on the store.
package watch

import (
	"encoding/json"
	"fmt"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Load reads the state from a consistent view of the store.
func Load(tx store.ReadTx) (*snapshot.State, error) {
	st := &snapshot.State{Revision: tx.Revision()}
	var err error
	if st.ServiceNetworks, err = loadAll[model.ServiceNetwork](tx, schema.ServiceNetwork); err != nil {
		return nil, err
	}
	if st.Services, err = loadAll[model.Service](tx, schema.Service); err != nil {
		return nil, err
	}
	if st.Listeners, err = loadAll[model.Listener](tx, schema.Listener); err != nil {
		return nil, err
	}
	if st.Rules, err = loadAll[model.Rule](tx, schema.Rule); err != nil {
		return nil, err
	}
	if st.TargetGroups, err = loadAll[model.TargetGroup](tx, schema.TargetGroup); err != nil {
		return nil, err
	}
	if st.Targets, err = loadAll[model.Target](tx, schema.Target); err != nil {
		return nil, err
	}
	if st.SNSAs, err = loadAll[model.ServiceNetworkServiceAssociation](tx, schema.SNSA); err != nil {
		return nil, err
	}
	if st.SNVAs, err = loadAll[model.ServiceNetworkVpcAssociation](tx, schema.SNVA); err != nil {
		return nil, err
	}
	if st.AuthPolicies, err = loadAll[model.AuthPolicy](tx, schema.AuthPolicy); err != nil {
		return nil, err
	}
	if st.VPCs, err = loadAll[model.VPC](tx, schema.VPC); err != nil {
		return nil, err
	}
	if st.Accounts, err = loadAll[model.Account](tx, schema.Account); err != nil {
		return nil, err
	}
	if st.Principals, err = loadAll[model.Principal](tx, schema.Principal); err != nil {
		return nil, err
	}
	if st.AccessKeys, err = loadAll[model.AccessKey](tx, schema.AccessKey); err != nil {
		return nil, err
	}
	return st, nil
}

func loadAll[T any](tx store.ReadTx, prefix string) ([]*T, error) {
	var out []*T
	err := tx.Scan(prefix, "", func(k string, b []byte) (bool, error) {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return false, fmt.Errorf("snapshot: decode %s: %w", k, err)
		}
		out = append(out, v)
		return true, nil
	})
	return out, err
}
