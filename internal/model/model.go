package model

import "time"

// Resource types as they appear in ResourceNotFoundException and
// ConflictException (resourceType member). AWS does not document the values;
// these are the upper-snake forms of the resource names (unverified).
const (
	TypeServiceNetwork                   = "SERVICE_NETWORK"
	TypeService                          = "SERVICE"
	TypeListener                         = "LISTENER"
	TypeRule                             = "RULE"
	TypeTargetGroup                      = "TARGET_GROUP"
	TypeTarget                           = "TARGET"
	TypeServiceNetworkServiceAssociation = "SERVICE_NETWORK_SERVICE_ASSOCIATION"
	TypeServiceNetworkVpcAssociation     = "SERVICE_NETWORK_VPC_ASSOCIATION"
	TypeAccessLogSubscription            = "ACCESS_LOG_SUBSCRIPTION"
	TypeAuthPolicy                       = "AUTH_POLICY"
	TypeResourcePolicy                   = "RESOURCE_POLICY"
	TypeClientToken                      = "CLIENT_TOKEN"
)

// Enumerations.
const (
	AuthTypeNone   = "NONE"
	AuthTypeAWSIAM = "AWS_IAM"

	StatusActive           = "ACTIVE"
	StatusCreateInProgress = "CREATE_IN_PROGRESS"
	StatusDeleteInProgress = "DELETE_IN_PROGRESS"
	StatusUpdateInProgress = "UPDATE_IN_PROGRESS"

	ProtocolHTTP           = "HTTP"
	ProtocolHTTPS          = "HTTPS"
	ProtocolTLSPassthrough = "TLS_PASSTHROUGH"
	ProtocolTCP            = "TCP"

	TargetGroupTypeIP       = "IP"
	TargetGroupTypeInstance = "INSTANCE"
	TargetGroupTypeLambda   = "LAMBDA"
	TargetGroupTypeALB      = "ALB"

	ProtocolVersionHTTP1 = "HTTP1"
	ProtocolVersionHTTP2 = "HTTP2"
	ProtocolVersionGRPC  = "GRPC"

	IPAddressTypeIPv4 = "IPV4"
	IPAddressTypeIPv6 = "IPV6"

	LambdaEventV1 = "V1"
	LambdaEventV2 = "V2"

	TargetStatusDraining    = "DRAINING"
	TargetStatusUnavailable = "UNAVAILABLE"
	TargetStatusHealthy     = "HEALTHY"
	TargetStatusUnhealthy   = "UNHEALTHY"
	TargetStatusInitial     = "INITIAL"
	TargetStatusUnused      = "UNUSED"

	LogTypeService  = "SERVICE"
	LogTypeResource = "RESOURCE"

	AuthPolicyActive   = "Active"
	AuthPolicyInactive = "Inactive"
)

// Meta is what every top-level resource has.
type Meta struct {
	ID        string            `json:"id"`
	ARN       string            `json:"arn"`
	Account   string            `json:"account"` // owner account
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	Tags      map[string]string `json:"tags,omitempty"`
}

// GetMeta gives generic code access to the common fields.
func (m *Meta) GetMeta() *Meta { return m }

// ServiceNetwork is the trust-and-reachability boundary.
type ServiceNetwork struct {
	Meta
	Name          string         `json:"name"`
	AuthType      string         `json:"authType"`
	SharingConfig *SharingConfig `json:"sharingConfig,omitempty"`
}

// SharingConfig says whether a network may be shared (RAM).
type SharingConfig struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// Service is a callable application.
type Service struct {
	Meta
	Name               string    `json:"name"`
	AuthType           string    `json:"authType"`
	Status             string    `json:"status"`
	CustomDomainName   string    `json:"customDomainName,omitempty"`
	CertificateArn     string    `json:"certificateArn,omitempty"`
	DNS                *DNSEntry `json:"dnsEntry,omitempty"`
	IdleTimeoutSeconds int       `json:"idleTimeoutSeconds,omitempty"`
}

// DNSEntry is a DNS name and the hosted zone that holds it.
type DNSEntry struct {
	DomainName   string `json:"domainName,omitempty"`
	HostedZoneID string `json:"hostedZoneId,omitempty"`
}

// Listener is a protocol and port on a service.
type Listener struct {
	Meta
	ServiceID     string     `json:"serviceId"`
	ServiceARN    string     `json:"serviceArn"`
	Name          string     `json:"name"`
	Protocol      string     `json:"protocol"`
	Port          int        `json:"port"`
	DefaultAction RuleAction `json:"defaultAction"`
}

// Rule is a prioritised match and action on a listener. Every listener has
// exactly one default rule (IsDefault), which carries its default action.
type Rule struct {
	Meta
	ServiceID  string     `json:"serviceId"`
	ListenerID string     `json:"listenerId"`
	Name       string     `json:"name"`
	Priority   int        `json:"priority,omitempty"`
	IsDefault  bool       `json:"isDefault"`
	Match      *RuleMatch `json:"match,omitempty"`
	Action     RuleAction `json:"action"`
}

// TargetGroup is the compute behind a service.
type TargetGroup struct {
	Meta
	Name   string             `json:"name"`
	Type   string             `json:"type"`
	Status string             `json:"status"`
	Config *TargetGroupConfig `json:"config,omitempty"`
}

// Target is one registered target of a target group.
type Target struct {
	TargetGroupID  string     `json:"targetGroupId"`
	ID             string     `json:"id"`
	Port           int        `json:"port,omitempty"`
	RegisteredAt   time.Time  `json:"registeredAt"`
	DeregisteredAt *time.Time `json:"deregisteredAt,omitempty"` // set while draining
}

// ServiceNetworkServiceAssociation makes a service callable in a network.
type ServiceNetworkServiceAssociation struct {
	Meta
	ServiceNetworkID string `json:"serviceNetworkId"`
	ServiceID        string `json:"serviceId"`
	Status           string `json:"status"`
	CreatedBy        string `json:"createdBy"`
}

// ServiceNetworkVpcAssociation lets a VPC's clients call a network's services.
type ServiceNetworkVpcAssociation struct {
	Meta
	ServiceNetworkID  string      `json:"serviceNetworkId"`
	VpcID             string      `json:"vpcId"`
	SecurityGroupIDs  []string    `json:"securityGroupIds,omitempty"`
	PrivateDNSEnabled *bool       `json:"privateDnsEnabled,omitempty"`
	DNSOptions        *DNSOptions `json:"dnsOptions,omitempty"`
	Status            string      `json:"status"`
	CreatedBy         string      `json:"createdBy"`
}

// DNSOptions are the private DNS preferences of a VPC association.
type DNSOptions struct {
	PrivateDNSPreference       string   `json:"privateDnsPreference,omitempty"`
	PrivateDNSSpecifiedDomains []string `json:"privateDnsSpecifiedDomains,omitempty"`
}

// AuthPolicy is the IAM-style policy of a service network or service.
type AuthPolicy struct {
	ResourceID string    `json:"resourceId"`
	Policy     string    `json:"policy"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// ResourcePolicy is the sharing policy of a service network or service.
type ResourcePolicy struct {
	ResourceID string `json:"resourceId"`
	Policy     string `json:"policy"`
}

// AccessLogSubscription sends a network's or a service's access logs somewhere.
type AccessLogSubscription struct {
	Meta
	ResourceID            string `json:"resourceId"`
	ResourceARN           string `json:"resourceArn"`
	DestinationARN        string `json:"destinationArn"`
	ServiceNetworkLogType string `json:"serviceNetworkLogType,omitempty"`
}

// RuleAction is a union: exactly one of Forward and FixedResponse is set.
type RuleAction struct {
	Forward       *ForwardAction       `json:"forward,omitempty"`
	FixedResponse *FixedResponseAction `json:"fixedResponse,omitempty"`
}

// ForwardAction splits traffic over weighted target groups.
type ForwardAction struct {
	TargetGroups []WeightedTargetGroup `json:"targetGroups"`
}

// WeightedTargetGroup is one target group of a forward action.
type WeightedTargetGroup struct {
	TargetGroupIdentifier string `json:"targetGroupIdentifier"`
	Weight                *int   `json:"weight,omitempty"`
}

// FixedResponseAction answers with a status code and no body.
type FixedResponseAction struct {
	StatusCode *int `json:"statusCode"`
}

// RuleMatch is a union with one member, httpMatch.
type RuleMatch struct {
	HTTPMatch *HTTPMatch `json:"httpMatch,omitempty"`
}

// HTTPMatch criteria all must hold.
type HTTPMatch struct {
	Method        string        `json:"method,omitempty"`
	PathMatch     *PathMatch    `json:"pathMatch,omitempty"`
	HeaderMatches []HeaderMatch `json:"headerMatches,omitempty"`
}

// PathMatch matches the request path.
type PathMatch struct {
	Match         MatchType `json:"match"`
	CaseSensitive *bool     `json:"caseSensitive,omitempty"`
}

// HeaderMatch matches one request header.
type HeaderMatch struct {
	Name          string    `json:"name"`
	Match         MatchType `json:"match"`
	CaseSensitive *bool     `json:"caseSensitive,omitempty"`
}

// MatchType is a union: exactly one member is set. Paths use Exact and
// Prefix; headers use all three.
type MatchType struct {
	Exact    *string `json:"exact,omitempty"`
	Prefix   *string `json:"prefix,omitempty"`
	Contains *string `json:"contains,omitempty"`
}

// TargetGroupConfig is a target group's configuration.
type TargetGroupConfig struct {
	Port                        *int               `json:"port,omitempty"`
	Protocol                    string             `json:"protocol,omitempty"`
	ProtocolVersion             string             `json:"protocolVersion,omitempty"`
	IPAddressType               string             `json:"ipAddressType,omitempty"`
	VpcIdentifier               string             `json:"vpcIdentifier,omitempty"`
	HealthCheck                 *HealthCheckConfig `json:"healthCheck,omitempty"`
	LambdaEventStructureVersion string             `json:"lambdaEventStructureVersion,omitempty"`
}

// HealthCheckConfig configures active health checks.
type HealthCheckConfig struct {
	Enabled                    *bool    `json:"enabled,omitempty"`
	Protocol                   string   `json:"protocol,omitempty"`
	ProtocolVersion            string   `json:"protocolVersion,omitempty"`
	Port                       *int     `json:"port,omitempty"`
	Path                       string   `json:"path,omitempty"`
	HealthCheckIntervalSeconds *int     `json:"healthCheckIntervalSeconds,omitempty"`
	HealthCheckTimeoutSeconds  *int     `json:"healthCheckTimeoutSeconds,omitempty"`
	HealthyThresholdCount      *int     `json:"healthyThresholdCount,omitempty"`
	UnhealthyThresholdCount    *int     `json:"unhealthyThresholdCount,omitempty"`
	Matcher                    *Matcher `json:"matcher,omitempty"`
}

// Matcher is a union with one member, httpCode.
type Matcher struct {
	HTTPCode *string `json:"httpCode,omitempty"`
}

// Caller is the authenticated principal of an API request.
type Caller struct {
	Account      string
	PrincipalARN string
}

// VPC modes.
const (
	VPCModeHost  = "host"  // clients reach an ingress on a loopback address; targets are dialed from the host
	VPCModeNetns = "netns" // a Linux network namespace holding the VPC's CIDR blocks (docs/netns.md)
)

// VPC is a Trellis-native network where clients and targets live. Traffic
// is attributed to the VPC whose ingress it entered through.
type VPC struct {
	ID             string `json:"vpcId"`
	ARN            string `json:"arn"`
	Account        string `json:"account"`
	Mode           string `json:"mode"`
	IngressAddress string `json:"ingressAddress"`
	// CIDRBlocks are a netns VPC's address ranges (canonical prefixes),
	// every address of which is local inside its namespace.
	CIDRBlocks []string `json:"cidrBlocks,omitempty"`
	// NetnsName is the name of a netns VPC's namespace (`ip netns exec`).
	NetnsName   string    `json:"netnsName,omitempty"`
	AutoCreated bool      `json:"autoCreated,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}
