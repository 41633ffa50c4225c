package snapshot

import (
	"net/netip"

	"github.com/trellis-net/trellis/internal/model"
)

// INSTANCE and ALB targets resolve through the native registries
// (docs/targets.md) when the snapshot is compiled, so the request path
// dials an address exactly as it does for IP targets, inside the target
// group VPC's network (vpcnet) in netns mode.
//
//   - An INSTANCE target is the instance's private address and the
//     target's port, while the instance is running and in the group's VPC.
//     Lattice sends only to running instances (reference §6).
//   - An ALB target is the listener of the load balancer on the target's
//     port (the group's port: "listener on TG port required", reference §6).
//     A listener with several addresses becomes one Target per address, all
//     with the ALB's ID and port: the picker's round robin then spreads the
//     requests over them with no work (and no allocation) on the request
//     path, and outlier detection and connection pools are per address.
//     Keys stay unique by appending "@address".
//
// The scheme (HTTP or HTTPS) is the group's protocol, as for IP targets;
// an ALB listener's own protocol is what the load balancer was declared
// with and does not change how Lattice reaches it.

type registries struct {
	instances map[string]*model.Instance
	albs      map[string]*model.LoadBalancer // by ARN
}

func newRegistries(st *State) registries {
	r := registries{instances: make(map[string]*model.Instance, len(st.Instances)),
		albs: make(map[string]*model.LoadBalancer, len(st.LoadBalancers))}
	for _, i := range st.Instances {
		r.instances[i.ID] = i
	}
	for _, lb := range st.LoadBalancers {
		r.albs[lb.ARN] = lb
	}
	return r
}

// resolve returns the compiled targets of an INSTANCE or ALB target: none
// when it has no address to send to.
func (r registries) resolve(tg *TargetGroup, t *model.Target, key string) []*Target {
	if t.Port < 1 || t.Port > 65535 {
		return nil
	}
	switch tg.Type {
	case model.TargetGroupTypeInstance:
		i := r.instances[t.ID]
		if !i.Running() || i.VpcID != tg.VpcID {
			return nil
		}
		a, err := netip.ParseAddr(i.PrivateIPAddress)
		if err != nil {
			return nil
		}
		return []*Target{{ID: t.ID, Port: t.Port, Key: key, Addr: netip.AddrPortFrom(a, uint16(t.Port))}}
	case model.TargetGroupTypeALB:
		lb := r.albs[t.ID]
		if lb == nil || lb.VpcID != tg.VpcID {
			return nil
		}
		l := lb.Listener(t.Port)
		if l == nil {
			return nil
		}
		out := make([]*Target, 0, len(l.Addresses))
		for _, s := range l.Addresses {
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				continue
			}
			out = append(out, &Target{ID: t.ID, Port: t.Port, Key: key + "@" + ap.String(), Addr: ap})
		}
		return out
	}
	return nil
}
