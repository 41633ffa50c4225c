package snapshot

import (
	"encoding/json"
	"fmt"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// State is everything Compile needs, read from the store in one view.
type State struct {
	Revision        int64
	ServiceNetworks []*model.ServiceNetwork
	Services        []*model.Service
	Listeners       []*model.Listener
	Rules           []*model.Rule
	TargetGroups    []*model.TargetGroup
	Targets         []*model.Target
	SNSAs           []*model.ServiceNetworkServiceAssociation
	SNVAs           []*model.ServiceNetworkVpcAssociation
	AuthPolicies    []*model.AuthPolicy
	VPCs            []*model.VPC
}

// Load reads the state from a consistent view of the store.
func Load(tx store.ReadTx) (*State, error) {
	st := &State{Revision: tx.Revision()}
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
