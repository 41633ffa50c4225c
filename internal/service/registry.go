package service

import (
	"context"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Native registries of instances and load balancers (docs/targets.md): what
// the IDs of INSTANCE targets and the ARNs of ALB targets resolve to.
//
// Both follow security groups (securitygroup.go): they live in a VPC the
// caller may use, another account cannot see them (ResourceNotFoundException
// on GET and DELETE, absent from its list), and they never move to another
// VPC. Like every reference to a VPC, an unknown one is created in host
// mode the first time it is named (ensureVPC), so a quickstart needs no
// extra step; a netns VPC is declared first (PUT /trellis/v1/vpcs), and
// then an instance's address must lie in its CIDR blocks.
//
// Instance IDs are global (as in EC2): naming another account's instance in
// a PUT answers AccessDeniedException, since the ID is taken anyway. Load
// balancer names are per account (as in ELB): elb/<account>/<name>.

const (
	pfxInstance     = schema.Instance
	pfxLoadBalancer = schema.LoadBalancer
)

// loadBalancerKind makes the random part of a load balancer's ID through
// Config.NewID (deterministic in tests); the ARN takes its last 16 digits.
var loadBalancerKind = arn.Kind{Prefix: "lb", ResourceType: "loadbalancer"}

func (s *Service) loadBalancerARN(account, name, id string) string {
	return "arn:" + s.cfg.Partition + ":elasticloadbalancing:" + s.cfg.Region + ":" + account +
		":loadbalancer/app/" + name + "/" + id
}

// registryVPC returns the VPC a registry entry names, created in host mode
// when it is new: it must be the caller's (or the caller the
// administrator), and in netns mode every address (fields[i] holding
// addrs[i]) must lie in its CIDR blocks.
func (s *Service) registryVPC(tx store.Tx, c model.Caller, vpcID string, fields, addrs []string) (*model.VPC, error) {
	if err := s.ensureVPC(tx, c, vpcID); err != nil {
		return nil, err
	}
	vpc, err := getJSON[model.VPC](tx, pfxVPC+vpcID)
	if err != nil {
		return nil, err
	}
	if vpc == nil {
		return nil, model.NotFound("VPC", vpcID)
	}
	if vpc.Mode == model.VPCModeNetns {
		var v model.Validator
		for i, a := range addrs {
			if !model.AddrInBlocks(a, vpc.CIDRBlocks) {
				v.Addf(fields[i], "%s %s is not in the CIDR blocks of VPC %s (%s)", fields[i], a, vpcID, strings.Join(vpc.CIDRBlocks, ", "))
			}
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	return vpc, nil
}

// ---- instances ----

// PutInstanceInput is an instance as PUT declares it.
type PutInstanceInput struct {
	ID               string
	VpcID            string
	PrivateIPAddress string
	State            string // "" is running
}

// PutInstance creates an instance (created is true) or replaces the address
// and state of an existing one. Stopping it (any state but running) takes
// its targets out of rotation at the next snapshot.
func (s *Service) PutInstance(ctx context.Context, in PutInstanceInput) (*model.Instance, bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	var v model.Validator
	if !model.ValidInstanceID(in.ID) {
		v.Addf("instanceId", "instanceId must be i- followed by 8 or 17 lowercase hexadecimal digits")
	}
	if !model.ValidVpcID(in.VpcID) {
		v.Addf("vpcId", "vpcId must be vpc- followed by 8 or 17 lowercase letters and digits")
	}
	addr := model.CheckInstanceAddress(&v, "privateIpAddress", in.PrivateIPAddress)
	state := in.State
	if state == "" {
		state = model.InstanceStateRunning
	}
	if !model.ValidInstanceState(state) {
		v.Addf("state", "state must be one of %s", strings.Join(model.InstanceStates, ", "))
	}
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	var out *model.Instance
	created := false
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := getJSON[model.Instance](tx, pfxInstance+in.ID)
		if err != nil {
			return err
		}
		if cur != nil {
			if cur.Account != c.Account && !s.IsAdmin(c) {
				return model.AccessDenied("%s is not authorized to change instance %s: it belongs to another account, and only its owner may",
					who(c), in.ID)
			}
			if cur.VpcID != in.VpcID {
				return model.Conflict(model.TypeInstance, in.ID,
					"instance %s is in VPC %s; an instance cannot move to another VPC (delete it and create it again)", in.ID, cur.VpcID)
			}
		}
		vpc, err := s.registryVPC(tx, c, in.VpcID, []string{"privateIpAddress"}, []string{addr})
		if err != nil {
			return err
		}
		now := s.now()
		if cur != nil {
			cur.PrivateIPAddress, cur.State, cur.UpdatedAt = addr, state, now
			out = cur
			return putJSON(tx, pfxInstance+in.ID, cur)
		}
		// The instance belongs to the VPC's owner, also when the
		// administrator declares it in another account's VPC.
		out = &model.Instance{ID: in.ID, Account: vpc.Account, VpcID: in.VpcID, PrivateIPAddress: addr, State: state,
			CreatedAt: now, UpdatedAt: now}
		created = true
		return putJSON(tx, pfxInstance+in.ID, out)
	})
	return out, created, err
}

func (s *Service) loadInstance(tx store.ReadTx, c model.Caller, id string) (*model.Instance, error) {
	if !model.ValidInstanceID(id) {
		return nil, model.Invalid("instanceId", "instanceId must be i- followed by 8 or 17 lowercase hexadecimal digits")
	}
	i, err := getJSON[model.Instance](tx, pfxInstance+id)
	if err != nil {
		return nil, err
	}
	if i == nil || (i.Account != c.Account && !s.IsAdmin(c)) {
		return nil, model.NotFound(model.TypeInstance, id) // another account's instance is not visible
	}
	return i, nil
}

// GetInstance describes an instance.
func (s *Service) GetInstance(ctx context.Context, id string) (*model.Instance, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.Instance
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadInstance(tx, c, id)
		return err
	})
	return out, err
}

// ListInstances lists the caller's instances (every instance, for the
// administrator), of one VPC when vpcID is set.
func (s *Service) ListInstances(ctx context.Context, vpcID string, p Page) ([]*model.Instance, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if vpcID != "" && !model.ValidVpcID(vpcID) {
		return nil, "", model.Invalid("vpcId", "vpcId must be vpc- followed by 8 or 17 lowercase letters and digits")
	}
	var out []*model.Instance
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxInstance, p, func(i *model.Instance) bool {
			return (i.Account == c.Account || s.IsAdmin(c)) && (vpcID == "" || i.VpcID == vpcID)
		})
		return err
	})
	return out, next, err
}

// DeleteInstance removes an instance. Targets naming it stay registered
// (as in ELB, where a terminated instance's target lingers until it is
// deregistered) but have no address: the data plane sends them nothing and
// ListTargets shows them UNUSED, Target.InvalidState.
func (s *Service) DeleteInstance(ctx context.Context, id string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		if _, err := s.loadInstance(tx, c, id); err != nil {
			return err
		}
		return tx.Delete(pfxInstance + id)
	})
}

// ---- load balancers ----

// PutLoadBalancerInput is a load balancer as PUT declares it.
type PutLoadBalancerInput struct {
	Name      string
	VpcID     string
	Listeners []model.LoadBalancerListenerInput
}

func loadBalancerKey(account, name string) string { return pfxLoadBalancer + account + "/" + name }

// PutLoadBalancer creates a load balancer in the caller's account (created
// is true) or replaces the listeners of an existing one; its ARN, and so
// the ALB targets naming it, stay the same.
func (s *Service) PutLoadBalancer(ctx context.Context, in PutLoadBalancerInput) (*model.LoadBalancer, bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	var v model.Validator
	if !model.ValidLoadBalancerName(in.Name) {
		v.Addf("name", "name must be 1 to 32 letters, digits and hyphens, and must not start or end with a hyphen")
	}
	if !model.ValidVpcID(in.VpcID) {
		v.Addf("vpcId", "vpcId must be vpc- followed by 8 or 17 lowercase letters and digits")
	}
	listeners := model.CheckLoadBalancerListeners(&v, "listeners", in.Listeners)
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	var fields, addrs []string
	for i, l := range listeners {
		for j, a := range l.Addresses {
			fields = append(fields, "listeners["+strconv.Itoa(i)+"].addresses["+strconv.Itoa(j)+"]")
			addrs = append(addrs, a)
		}
	}
	key := loadBalancerKey(c.Account, in.Name)
	var out *model.LoadBalancer
	created := false
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := getJSON[model.LoadBalancer](tx, key)
		if err != nil {
			return err
		}
		if cur != nil && cur.VpcID != in.VpcID {
			return model.Conflict(model.TypeLoadBalancer, in.Name,
				"load balancer %s is in VPC %s; a load balancer cannot move to another VPC (delete it and create it again)", in.Name, cur.VpcID)
		}
		if _, err := s.registryVPC(tx, c, in.VpcID, fields, addrs); err != nil {
			return err
		}
		now := s.now()
		if cur != nil {
			cur.Listeners, cur.UpdatedAt = listeners, now
			out = cur
			return putJSON(tx, key, cur)
		}
		id := s.cfg.NewID(loadBalancerKind)
		id = id[len(id)-model.LoadBalancerIDLen:]
		out = &model.LoadBalancer{Name: in.Name, ID: id, ARN: s.loadBalancerARN(c.Account, in.Name, id), Account: c.Account,
			VpcID: in.VpcID, Listeners: listeners, CreatedAt: now, UpdatedAt: now}
		created = true
		return putJSON(tx, key, out)
	})
	return out, created, err
}

func (s *Service) loadLoadBalancer(tx store.ReadTx, c model.Caller, name string) (*model.LoadBalancer, error) {
	if !model.ValidLoadBalancerName(name) {
		return nil, model.Invalid("name", "name must be 1 to 32 letters, digits and hyphens, and must not start or end with a hyphen")
	}
	lb, err := getJSON[model.LoadBalancer](tx, loadBalancerKey(c.Account, name))
	if err != nil {
		return nil, err
	}
	if lb == nil {
		return nil, model.NotFound(model.TypeLoadBalancer, name)
	}
	return lb, nil
}

// GetLoadBalancer describes one of the caller's load balancers.
func (s *Service) GetLoadBalancer(ctx context.Context, name string) (*model.LoadBalancer, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.LoadBalancer
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadLoadBalancer(tx, c, name)
		return err
	})
	return out, err
}

// ListLoadBalancers lists the caller's load balancers (every one, for the
// administrator), of one VPC when vpcID is set.
func (s *Service) ListLoadBalancers(ctx context.Context, vpcID string, p Page) ([]*model.LoadBalancer, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if vpcID != "" && !model.ValidVpcID(vpcID) {
		return nil, "", model.Invalid("vpcId", "vpcId must be vpc- followed by 8 or 17 lowercase letters and digits")
	}
	prefix := pfxLoadBalancer + c.Account + "/"
	if s.IsAdmin(c) {
		prefix = pfxLoadBalancer
	}
	var out []*model.LoadBalancer
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, prefix, p, func(lb *model.LoadBalancer) bool {
			return vpcID == "" || lb.VpcID == vpcID
		})
		return err
	})
	return out, next, err
}

// DeleteLoadBalancer removes one of the caller's load balancers. ALB
// targets naming it stay registered with no address (the data plane sends
// them nothing), as Lattice keeps a target whose ALB is gone.
func (s *Service) DeleteLoadBalancer(ctx context.Context, name string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		if _, err := s.loadLoadBalancer(tx, c, name); err != nil {
			return err
		}
		return tx.Delete(loadBalancerKey(c.Account, name))
	})
}

// loadBalancerByARN returns the load balancer an ALB ARN names, or nil: the
// ARN's account, name and ID must all match one (a load balancer deleted
// and created again under the same name is another one).
func loadBalancerByARN(tx store.ReadTx, s string) (*model.LoadBalancer, error) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "elasticloadbalancing" {
		return nil, nil
	}
	parts := strings.Split(a.Resource, "/")
	if len(parts) != 4 || parts[0] != "loadbalancer" || parts[1] != "app" || !model.ValidLoadBalancerName(parts[2]) ||
		!validAccountID(a.Account) {
		return nil, nil
	}
	lb, err := getJSON[model.LoadBalancer](tx, loadBalancerKey(a.Account, parts[2]))
	if err != nil || lb == nil || lb.ARN != s {
		return nil, err
	}
	return lb, nil
}

func validAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ---- targets ----

// checkRegistryTarget checks an INSTANCE or ALB target against the
// registries when it is registered (reference §6): an instance must be
// running and in the group's VPC; a load balancer must be in the group's
// VPC and have a listener on the group's port. Lattice answers a
// ValidationException for such a target, which RegisterTargets reports in
// unsuccessful[] like every other problem with one target.
func (s *Service) checkRegistryTarget(tx store.ReadTx, c model.Caller, tg *model.TargetGroup, i int, id string, port int) error {
	field := "targets[" + strconv.Itoa(i) + "].id"
	vpcID, groupPort := "", 0
	if tg.Config != nil {
		vpcID = tg.Config.VpcIdentifier
		if tg.Config.Port != nil {
			groupPort = *tg.Config.Port
		}
	}
	switch tg.Type {
	case model.TargetGroupTypeInstance:
		if !model.ValidInstanceID(id) {
			return model.Invalid(field, "target %q is not an instance ID (i- followed by 8 or 17 hexadecimal digits)", id)
		}
		inst, err := getJSON[model.Instance](tx, pfxInstance+id)
		if err != nil {
			return err
		}
		switch {
		case inst == nil || (inst.Account != c.Account && !s.IsAdmin(c)):
			return model.Invalid(field, "instance %s does not exist (declare it: PUT /trellis/v1/instances/%s)", id, id)
		case inst.VpcID != vpcID:
			return model.Invalid(field, "instance %s is in VPC %s, not in VPC %s of the target group", id, inst.VpcID, vpcID)
		case !inst.Running():
			return model.Invalid(field, "instance %s is %s; only running instances can be registered", id, inst.State)
		}
	case model.TargetGroupTypeALB:
		lb, err := loadBalancerByARN(tx, id)
		if err != nil {
			return err
		}
		switch {
		case lb == nil:
			return model.Invalid(field, "load balancer %s does not exist (declare it: PUT /trellis/v1/load-balancers/NAME)", id)
		case lb.VpcID != vpcID:
			return model.Invalid(field, "load balancer %s is in VPC %s, not in VPC %s of the target group", id, lb.VpcID, vpcID)
		case port != groupPort:
			return model.Invalid("targets["+strconv.Itoa(i)+"].port", "an ALB target's port must be the target group's port %d", groupPort)
		case lb.Listener(port) == nil:
			return model.Invalid(field, "load balancer %s has no listener on port %d, the target group's port", id, port)
		}
	}
	return nil
}

// registryTargetStatus is the ListTargets status of an INSTANCE target
// whose instance is not running (or no longer exists): UNUSED with reason
// Target.InvalidState, what ELB shows for a stopped instance (Lattice's own
// answer is unverified; docs/targets.md). ok is false for every other
// target, which keeps the status targetStatus gave it.
func registryTargetStatus(tx store.ReadTx, tg *model.TargetGroup, t *model.Target) (status, reason string, ok bool, err error) {
	if tg.Type != model.TargetGroupTypeInstance || t.DeregisteredAt != nil {
		return "", "", false, nil
	}
	inst, err := getJSON[model.Instance](tx, pfxInstance+t.ID)
	if err != nil {
		return "", "", false, err
	}
	if inst.Running() && tg.Config != nil && inst.VpcID == tg.Config.VpcIdentifier {
		return "", "", false, nil
	}
	return model.TargetStatusUnused, model.ReasonInvalidState, true, nil
}

// registryInVPC refuses deleting a VPC that still holds an instance or a
// load balancer.
func registryInVPC(tx store.ReadTx, vpcID string) error {
	var found string
	if err := scanJSON(tx, pfxInstance, func(_ string, i *model.Instance) (bool, error) {
		if i.VpcID == vpcID {
			found = "instance " + i.ID
			return false, nil
		}
		return true, nil
	}); err != nil {
		return err
	}
	if found == "" {
		if err := scanJSON(tx, pfxLoadBalancer, func(_ string, lb *model.LoadBalancer) (bool, error) {
			if lb.VpcID == vpcID {
				found = "load balancer " + lb.ARN
				return false, nil
			}
			return true, nil
		}); err != nil {
			return err
		}
	}
	if found != "" {
		return model.Conflict("VPC", vpcID, "%s is in VPC %s; delete it first", found, vpcID)
	}
	return nil
}
