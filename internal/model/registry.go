package model

import (
	"net/netip"
	"strconv"
	"time"
)

// Native registries of what INSTANCE and ALB targets name (docs/targets.md):
// Trellis is not EC2 or Elastic Load Balancing, so an instance ID or a load
// balancer ARN means something only once it is declared here.

// Resource types in errors.
const (
	TypeInstance     = "INSTANCE"
	TypeLoadBalancer = "LOAD_BALANCER"
)

// EC2 instance states (DescribeInstances InstanceState.Name). Only a
// running instance takes traffic: Lattice requires INSTANCE targets to be
// running (reference §6).
const (
	InstanceStatePending      = "pending"
	InstanceStateRunning      = "running"
	InstanceStateStopping     = "stopping"
	InstanceStateStopped      = "stopped"
	InstanceStateShuttingDown = "shutting-down"
	InstanceStateTerminated   = "terminated"
)

// InstanceStates lists the states in EC2's order (help and error texts).
var InstanceStates = []string{InstanceStatePending, InstanceStateRunning, InstanceStateStopping,
	InstanceStateStopped, InstanceStateShuttingDown, InstanceStateTerminated}

// ValidInstanceState reports whether s is one of InstanceStates.
func ValidInstanceState(s string) bool {
	for _, x := range InstanceStates {
		if s == x {
			return true
		}
	}
	return false
}

// ReasonInvalidState is the reasonCode ListTargets gives an INSTANCE target
// whose instance is not running or no longer exists: Elastic Load
// Balancing's reason for a stopped instance (unused, Target.InvalidState).
// Lattice does not document its reason codes; this is a plausible guess,
// marked unverified in docs/targets.md.
const ReasonInvalidState = "Target.InvalidState"

// Instance is a Trellis-native EC2-style instance: an ID with a private
// address in a VPC, and a state. It belongs to its VPC's owner account.
type Instance struct {
	ID               string    `json:"instanceId"`
	Account          string    `json:"account"`
	VpcID            string    `json:"vpcId"`
	PrivateIPAddress string    `json:"privateIpAddress"`
	State            string    `json:"state"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// Running reports whether the instance takes traffic.
func (i *Instance) Running() bool { return i != nil && i.State == InstanceStateRunning }

// ValidInstanceID reports whether s is an EC2 instance ID: i- followed by 8
// or 17 lowercase hexadecimal digits.
func ValidInstanceID(s string) bool {
	if len(s) != 10 && len(s) != 19 || s[0] != 'i' || s[1] != '-' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Load balancer limits and values.
const (
	MaxLoadBalancerName      = 32 // ELB: at most 32 characters
	MaxLoadBalancerListeners = 50 // ELB's default quota of listeners per ALB
	MaxListenerAddresses     = 16 // Trellis: addresses one listener spreads over
	LoadBalancerIDLen        = 16 // the hexadecimal ID in the ARN
)

// LoadBalancer is a Trellis-native Application Load Balancer: a name in an
// account, a VPC, and per listener port the addresses that serve it. An ALB
// target group forwards to the listener on the group's port (reference §6:
// "listener on TG port required").
type LoadBalancer struct {
	Name      string                 `json:"loadBalancerName"`
	ARN       string                 `json:"loadBalancerArn"`
	ID        string                 `json:"id"` // the 16 hex digits closing the ARN, stable across updates
	Account   string                 `json:"account"`
	VpcID     string                 `json:"vpcId"`
	Listeners []LoadBalancerListener `json:"listeners"`
	CreatedAt time.Time              `json:"createdAt"`
	UpdatedAt time.Time              `json:"updatedAt"`
}

// LoadBalancerListener is one listener of a load balancer: where the
// requests to Port are served (Addresses, canonical ip:port).
type LoadBalancerListener struct {
	Port      int      `json:"port"`
	Protocol  string   `json:"protocol"`
	Addresses []string `json:"addresses"`
}

// Listener returns the listener on port, or nil.
func (lb *LoadBalancer) Listener(port int) *LoadBalancerListener {
	for i := range lb.Listeners {
		if lb.Listeners[i].Port == port {
			return &lb.Listeners[i]
		}
	}
	return nil
}

// LoadBalancerListenerInput is a listener as a request carries it: the port
// is a pointer so that an absent port is told from 0.
type LoadBalancerListenerInput struct {
	Port      *int
	Protocol  string
	Addresses []string
}

// ValidLoadBalancerName reports whether s is an ELB name: 1 to 32
// letters, digits and hyphens, not starting or ending with a hyphen. The
// name is part of an ARN and a store key, so nothing else may pass.
func ValidLoadBalancerName(s string) bool {
	if len(s) < 1 || len(s) > MaxLoadBalancerName || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// CheckLoadBalancerListeners validates the listeners of a load balancer
// and returns them normalised (addresses canonical; the protocol exactly
// HTTP or HTTPS, as ELB spells them). Every error names its
// field, e.g. listeners[0].addresses[1].
func CheckLoadBalancerListeners(v *Validator, field string, in []LoadBalancerListenerInput) []LoadBalancerListener {
	if len(in) == 0 {
		v.Addf(field, "%s must have at least one listener", field)
		return nil
	}
	if len(in) > MaxLoadBalancerListeners {
		v.Addf(field, "%s must have at most %d listeners", field, MaxLoadBalancerListeners)
		return nil
	}
	out := make([]LoadBalancerListener, 0, len(in))
	seen := map[int]int{}
	for i, l := range in {
		f := field + "[" + strconv.Itoa(i) + "]"
		var n LoadBalancerListener
		switch {
		case l.Port == nil:
			v.Addf(f+".port", "%s.port is required", f)
		case *l.Port < 1 || *l.Port > 65535:
			v.Addf(f+".port", "%s.port must be between 1 and 65535", f)
		default:
			if j, dup := seen[*l.Port]; dup {
				v.Addf(f+".port", "%s.port %d is also the port of %s[%d]; listener ports must be unique", f, *l.Port, field, j)
			}
			seen[*l.Port] = i
			n.Port = *l.Port
		}
		switch l.Protocol {
		case ProtocolHTTP, ProtocolHTTPS:
			n.Protocol = l.Protocol
		case "":
			v.Addf(f+".protocol", "%s.protocol is required: HTTP or HTTPS", f)
		default:
			v.Addf(f+".protocol", "%s.protocol must be HTTP or HTTPS", f)
		}
		n.Addresses = checkAddrPorts(v, f+".addresses", l.Addresses)
		out = append(out, n)
	}
	return out
}

func checkAddrPorts(v *Validator, field string, in []string) []string {
	if len(in) == 0 {
		v.Addf(field, "%s must have at least one address (ip:port)", field)
		return nil
	}
	if len(in) > MaxListenerAddresses {
		v.Addf(field, "%s must have at most %d addresses", field, MaxListenerAddresses)
		return nil
	}
	out := make([]string, 0, len(in))
	seen := map[netip.AddrPort]bool{}
	for j, s := range in {
		f := field + "[" + strconv.Itoa(j) + "]"
		ap, err := netip.ParseAddrPort(s)
		switch {
		case err != nil || ap.Addr().Zone() != "":
			v.Addf(f, "%s must be an address and port such as 10.0.1.9:8080 or [2001:db8::9]:8080", f)
			continue
		case ap.Port() == 0:
			v.Addf(f, "%s must have a port between 1 and 65535", f)
			continue
		case ap.Addr().Is4In6():
			v.Addf(f, "%s must write an IPv4 address in IPv4 form", f)
			continue
		case !ap.Addr().IsGlobalUnicast() && !ap.Addr().IsLoopback() && !ap.Addr().IsPrivate():
			v.Addf(f, "%s must be a unicast address", f)
			continue
		case seen[ap]:
			v.Addf(f, "%s repeats %s", f, ap)
			continue
		}
		seen[ap] = true
		out = append(out, ap.String())
	}
	return out
}

// CheckInstanceAddress validates an instance's private address: an IPv4 or
// IPv6 unicast address, returned canonical.
func CheckInstanceAddress(v *Validator, field, s string) string {
	a, err := netip.ParseAddr(s)
	switch {
	case s == "":
		v.Addf(field, "%s is required: the instance's IPv4 or IPv6 address", field)
	case err != nil || a.Zone() != "":
		v.Addf(field, "%s must be an IPv4 or IPv6 address such as 10.0.1.5", field)
	case a.Is4In6():
		v.Addf(field, "%s must write an IPv4 address in IPv4 form", field)
	case !a.IsGlobalUnicast() && !a.IsLoopback() && !a.IsPrivate():
		v.Addf(field, "%s must be a unicast address", field)
	default:
		return a.String()
	}
	return ""
}

// AddrInBlocks reports whether the address of s (an address, or ip:port)
// lies in one of the CIDR blocks.
func AddrInBlocks(s string, blocks []string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return false
		}
		a = ap.Addr()
	}
	for _, b := range blocks {
		if p, err := netip.ParsePrefix(b); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}
