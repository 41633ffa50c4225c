// Package snapshot compiles the store's state into the immutable routing
// state the data plane reads: per VPC, host → service → listener (by port)
// → rules in priority order → weighted target groups → targets.
//
// Compile is a pure function of the state (golden-tested); Incremental
// gives the same result recompiling only what a change touched, sharing the
// rest with the previous snapshot (proven equal on random changes): the
// large tables are Tables (table.go), structurally shared so that an edit
// copies only what it touches, and each snapshot records which target
// groups changed since its predecessors (history.go), for readers that
// must follow changes without comparing every group; a Holder keeps
// the current *Snapshot in an atomic.Pointer, swapped whole on every change
// and never mutated after it is published, so the request path loads it once
// per request without locks. Live state that must survive a swap (health,
// connection pools, counters) is keyed by target outside the snapshot.
//
// snapshot imports only model and policy: the data plane depends on it and must never
// depend on the store. internal/snapshot/watch feeds it from the store.
package snapshot

import (
	"crypto/tls"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/policy"
)

// Snapshot is one compiled revision of the state.
type Snapshot struct {
	Revision int64
	Region   string
	// VPCs by ID.
	VPCs map[string]*VPC
	// ByIngress maps an ingress address to its VPC.
	ByIngress map[netip.Addr]*VPC
	// TargetGroups by ID: every target group, used or not (the health checker
	// checks those a listener uses: InUse).
	TargetGroups Table[*TargetGroup]
	// Services by ID: every compiled service, reachable or not.
	Services Table[*Service]
	// Identities by access key ID: who holds each usable key.
	Identities map[string]*Identity
	// DNSZone is the zone of the generated DNS names (LatticeDNSZone of
	// Region); ServiceNames holds every service's generated and custom
	// names, lowercased and fully qualified, reachable or not (dns.go).
	DNSZone      string
	ServiceNames Table[*Service]
	// ResourceDNSZone is the zone of the resource associations' generated
	// names (model.ResourceDNSZone of Region, fully qualified);
	// ResourceNames maps every name of a resource association (generated,
	// and privateDnsEnabled custom ones a verified domain covers:
	// privdns.go), reached from a VPC or not, to its
	// configuration's ID (resources.go): a VPC's resolver answers NXDOMAIN
	// for those it does not reach.
	ResourceDNSZone string
	ResourceNames   Table[string]
	// Certificates maps an ACM certificate's ARN to its key pair, parsed
	// once when loaded (certificates.go), for the HTTPS listeners.
	Certificates map[string]*tls.Certificate
	// Seq numbers the snapshots an Incremental makes: unique in the
	// process and rising, 0 for Compile's. A reader that remembers the Seq
	// of the last snapshot it handled asks TargetGroupsChangedSince what
	// changed since (history.go).
	Seq     uint64
	history *history
	// Warnings says what Compile left out of the state because it could not
	// be used safely (stored data the API would refuse today), sorted; the
	// watcher logs each once.
	Warnings []string
}

// Identity is an access key and its holder, for data-plane SigV4 and the
// policy keys aws:Principal*.
type Identity struct {
	AccessKeyID  string
	Secret       string
	SessionToken string    // temporary credentials only
	Expiration   time.Time // zero: does not expire
	// PrincipalARN is the caller as policies see it: the root
	// (arn:aws:iam::ACCOUNT:root), a user or role ARN, or for an assumed
	// role the session ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION).
	PrincipalARN  string
	RoleARN       string // for sessions: the role assumed
	SessionName   string
	PrincipalType string // Account (root), User, AssumedRole
	Account       string
	OrgID         string
	OrgPath       string
	Tags          map[string]string
	Username      string // users only: the name in their ARN
	// Header and TagsHeader are the values of x-amzn-lattice-identity and
	// x-amzn-lattice-identity-tags sent to targets, made once at compile.
	Header     []string
	TagsHeader []string
}

// VPC is a network clients call from.
type VPC struct {
	ID      string
	ARN     string // arn:aws:ec2:REGION:ACCOUNT:vpc/ID — x-amzn-lattice-network SourceVpcArn
	Account string
	Mode    string
	Ingress netip.Addr
	// CIDRBlocks and NetnsName are a netns VPC's address ranges and the
	// name of its namespace (empty in host mode).
	CIDRBlocks []netip.Prefix
	NetnsName  string
	// ServiceNetwork is the network the VPC is associated with, or nil.
	ServiceNetwork *ServiceNetwork
	// Hosts maps a lowercased host name (generated DNS name or custom
	// domain) to a service reachable from this VPC: both the VPC and the
	// service are associated with ServiceNetwork (the double association).
	Hosts Table[*Service]
	// SecurityGroups gate every connection into the VPC's ingress (the
	// groups of its association, compiled); nil admits every connection.
	SecurityGroups *SGRules
	// Ports are the listener ports of every service (HTTP, HTTPS and
	// TLS_PASSTHROUGH alike), sorted: the ingress listens on Ingress:port
	// for each, so that a request for an unreachable service still gets an
	// answer (404), and tells the protocols apart per connection.
	Ports []int
	// DNS is the VPC's name table by lowercased fully qualified name: the
	// names of Hosts, answered with Ingress (dns.go).
	DNS Table[*DNSRecord]
	// Resources are the resource configuration ports the VPC reaches
	// through its network, by address then port (resources.go): each
	// configuration has an address of its own in the VPC, and the ingress
	// listens on Addr:Port for each and relays TCP to the resource.
	Resources []*Resource
	// ResourceDNS answers the names of Resources (generated, and custom
	// ones the VPC association admits: privdns.go) with their Addr, by lowercased fully
	// qualified name, after DNS (a service's name wins).
	ResourceDNS Table[*DNSRecord]
	// WithheldResourceNames are the custom names of resources the VPC
	// reaches that its VPC association's private DNS settings do not admit
	// (privdns.go), by lowercased fully qualified name, with why: only
	// `trellis dns lookup` reads it (the resolver answers such a name as
	// one the VPC does not reach). nil when there are none.
	WithheldResourceNames map[string]Withheld
}

// ServiceNetwork is a network with its auth settings.
type ServiceNetwork struct {
	ID         string
	ARN        string
	Name       string
	Account    string
	AuthType   string
	AuthPolicy string // raw JSON
	// Policy is AuthPolicy compiled; nil when there is none (or it did not
	// compile: PolicyError says why). An AWS_IAM level without one denies.
	Policy      *policy.Policy
	PolicyError string
	// AccessLogs are the network's subscriptions of log type SERVICE: every
	// request through the network to any of its services is logged to them.
	AccessLogs []*LogSubscription
	// ResourceAccessLogs are the network's subscriptions of log type
	// RESOURCE: every connection through the network to a resource
	// configuration is logged to them.
	ResourceAccessLogs []*LogSubscription
}

// LogSubscription is an access log subscription, by ID.
type LogSubscription struct {
	ID             string
	ARN            string
	ResourceID     string // the service network or service it belongs to
	Account        string // its owner (the resource's owner)
	DestinationARN string
	// Resource: a network's subscription of log type RESOURCE, which gets
	// the VpcLatticeResourceAccessLogs records (ServiceNetwork.ResourceAccessLogs).
	Resource bool
}

// Service is a callable service. Shared by every VPC that can reach it.
type Service struct {
	ID           string
	ARN          string
	Name         string
	Account      string
	DNSName      string
	CustomDomain string
	// CertificateARN names the ACM certificate (Snapshot.Certificates) an
	// HTTPS listener presents for CustomDomain; "" when there is none.
	CertificateARN string
	AuthType       string
	AuthPolicy     string
	Policy         *policy.Policy // compiled AuthPolicy; see ServiceNetwork.Policy
	PolicyError    string
	// AccessLogs are the service's own access log subscriptions.
	AccessLogs []*LogSubscription
	// Listeners by port.
	Listeners map[int]*Listener
}

// Listener is a protocol and port of a service.
type Listener struct {
	ID       string
	ARN      string
	Protocol string
	Port     int
	// Rules in evaluation order: custom rules by ascending priority, then
	// the default rule (which always matches).
	Rules []*Rule
}

// Rule is a compiled rule.
type Rule struct {
	ID        string
	ARN       string
	Name      string
	Priority  int
	IsDefault bool
	Match     Match
	Action    Action
}

// Match is a compiled HTTP match; every present criterion must hold.
type Match struct {
	Method  string // exact, case-sensitive; "" matches any
	Path    *PathMatch
	Headers []HeaderMatch
}

// PathMatch compares the request path.
type PathMatch struct {
	Exact         bool   // exact match, else prefix
	Value         string // lowercased when !CaseSensitive
	CaseSensitive bool
}

// Header match kinds.
const (
	HeaderExact = iota
	HeaderPrefix
	HeaderContains
)

// HeaderMatch compares one request header.
type HeaderMatch struct {
	Name          string // canonical MIME header key
	Kind          int
	Value         string // lowercased when !CaseSensitive
	CaseSensitive bool
}

// Action is what a matching rule does: a fixed response, or a weighted
// forward.
type Action struct {
	FixedStatus int // 404 or 500; 0 for a forward
	Forward     []WeightedTargetGroup
	// TotalWeight is the sum of the weights; 0 means no target group takes
	// traffic (every weight is 0).
	TotalWeight int
}

// WeightedTargetGroup is one target group of a forward action.
type WeightedTargetGroup struct {
	TargetGroup *TargetGroup
	Weight      int
	// Cumulative is the sum of the weights up to and including this one, so
	// a pick is a search for the first Cumulative > n in [0, TotalWeight).
	Cumulative int
}

// TargetGroup is a compiled target group.
type TargetGroup struct {
	ID                 string
	ARN                string
	Name               string
	Account            string
	Type               string // IP, INSTANCE, LAMBDA, ALB
	Protocol           string // HTTP, HTTPS, TCP
	ProtocolVersion    string // HTTP1, HTTP2, GRPC
	Port               int
	VpcID              string
	LambdaEventVersion string
	// Upstream is how its targets are reached (UpstreamOf of Type,
	// Protocol and ProtocolVersion), settled at compile time.
	Upstream    Upstream
	HealthCheck *model.HealthCheckConfig // with defaults filled; nil for LAMBDA/ALB
	// InUse reports whether some listener rule forwards to the group.
	InUse bool
	// ServiceIDs lists the services using it.
	ServiceIDs []string
	// Targets that take new requests (registered, not draining).
	Targets []*Target
	// Draining targets: no new requests, still health-checked for status.
	Draining []*Target
}

// Target is one registered target.
type Target struct {
	ID   string // IP address, instance ID, or ARN
	Port int
	// Addr is where to dial, in the target group VPC's network: an IP
	// target's address, an INSTANCE target's instance address, or one
	// address of an ALB's listener on the target's port (targets.go);
	// invalid for LAMBDA targets.
	Addr netip.AddrPort
	// Key identifies the target across snapshots: "<tg>/<id>/<port>", and
	// for an ALB target "<tg>/<arn>/<port>@<address>", one per address.
	Key string
}

// Holder publishes the current snapshot.
type Holder struct{ p atomic.Pointer[Snapshot] }

// Load returns the current snapshot (never nil once Store was called).
func (h *Holder) Load() *Snapshot { return h.p.Load() }

// Store publishes s.
func (h *Holder) Store(s *Snapshot) { h.p.Store(s) }
