package model

import (
	"net/netip"
	"strings"
	"time"
)

// Resource gateways and resource configurations (reference §2.1 "NEWER"):
// how a service network reaches a TCP resource (an IP address, a DNS name or
// an AWS ARN) through a gateway in the owner's VPC. The control plane keeps
// them; the data plane (next step) compiles a configuration's definition,
// port ranges and gateway into TCP forwarding.

// Resource type values in errors (resourceType member; unverified, like the
// others in model.go).
const (
	TypeResourceGateway                   = "RESOURCE_GATEWAY"
	TypeResourceConfiguration             = "RESOURCE_CONFIGURATION"
	TypeServiceNetworkResourceAssociation = "SERVICE_NETWORK_RESOURCE_ASSOCIATION"
	TypeDomainVerification                = "DOMAIN_VERIFICATION"
)

// Enumerations of the resource operations (reference §2.4).
const (
	ResourceConfigurationTypeSingle = "SINGLE"
	ResourceConfigurationTypeGroup  = "GROUP"
	ResourceConfigurationTypeChild  = "CHILD"
	ResourceConfigurationTypeARN    = "ARN"

	IPAddressTypeDualstack = "DUALSTACK"

	DNSResolutionInVPC  = "IN_VPC"
	DNSResolutionPublic = "PUBLIC"
)

// ResourceGateway is the point where a VPC accepts resource traffic. Trellis
// has no subnets or ENIs: SubnetIDs and IPv4AddressesPerEni are kept as
// given (and answered) but drive nothing.
type ResourceGateway struct {
	Meta
	Name                        string   `json:"name"`
	Status                      string   `json:"status"`
	VpcID                       string   `json:"vpcId"`
	SubnetIDs                   []string `json:"subnetIds,omitempty"`
	SecurityGroupIDs            []string `json:"securityGroupIds,omitempty"`
	IPAddressType               string   `json:"ipAddressType"`
	IPv4AddressesPerEni         *int     `json:"ipv4AddressesPerEni,omitempty"`
	ResourceConfigDNSResolution string   `json:"resourceConfigDnsResolution,omitempty"`
}

// ResourceConfigurationDefinition is the wire union: exactly one member.
type ResourceConfigurationDefinition struct {
	IPResource  *IPResource  `json:"ipResource,omitempty"`
	DNSResource *DNSResource `json:"dnsResource,omitempty"`
	ARNResource *ARNResource `json:"arnResource,omitempty"`
}

// IPResource is a resource reached at one IP address.
type IPResource struct {
	IPAddress string `json:"ipAddress"`
}

// DNSResource is a resource reached by a domain name.
type DNSResource struct {
	DomainName    string `json:"domainName"`
	IPAddressType string `json:"ipAddressType,omitempty"`
}

// ARNResource is an AWS resource named by its ARN.
type ARNResource struct {
	ARN string `json:"arn"`
}

// ResourceConfiguration is one resource (SINGLE, ARN), a group of them
// (GROUP) or a member of a group (CHILD).
type ResourceConfiguration struct {
	Meta
	Name                 string                           `json:"name"`
	Type                 string                           `json:"type"`
	Status               string                           `json:"status"`
	PortRanges           []string                         `json:"portRanges,omitempty"`
	Protocol             string                           `json:"protocol,omitempty"`
	ResourceGatewayID    string                           `json:"resourceGatewayId,omitempty"`
	GroupID              string                           `json:"resourceConfigurationGroupId,omitempty"`
	Definition           *ResourceConfigurationDefinition `json:"resourceConfigurationDefinition,omitempty"`
	AllowShareableSN     bool                             `json:"allowAssociationToShareableServiceNetwork"`
	CustomDomainName     string                           `json:"customDomainName,omitempty"`
	GroupDomain          string                           `json:"groupDomain,omitempty"`
	DomainVerificationID string                           `json:"domainVerificationId,omitempty"`
}

// ServiceNetworkResourceAssociation puts a resource configuration (SINGLE,
// GROUP or ARN) in a service network. The children of a GROUP are in the
// network with it (ListServiceNetworkResourceAssociations includeChildren).
type ServiceNetworkResourceAssociation struct {
	Meta
	ServiceNetworkID        string `json:"serviceNetworkId"`
	ResourceConfigurationID string `json:"resourceConfigurationId"`
	PrivateDNSEnabled       bool   `json:"privateDnsEnabled"`
	Status                  string `json:"status"`
	CreatedBy               string `json:"createdBy"`
}

// Domain verification statuses (reference §2.4 VerificationStatus).
const (
	VerificationPending  = "PENDING"
	VerificationVerified = "VERIFIED"
	VerificationTimedOut = "VERIFICATION_TIMED_OUT"
)

// DomainVerification proves that an account controls a domain: it
// publishes TXT record TXTName with value TXTValue.
type DomainVerification struct {
	Meta
	DomainName       string     `json:"domainName"`
	Status           string     `json:"status"`
	TXTName          string     `json:"txtName"`
	TXTValue         string     `json:"txtValue"`
	LastVerifiedTime *time.Time `json:"lastVerifiedTime,omitempty"`
}

// NetnsResourcePrefix is where a network-namespace VPC reaches the
// resource configurations of its network: each (VPC, configuration) pair
// gets an address of it, local inside the VPC's namespace (a `local`
// route for the whole prefix on lo), so that a resource never shares an
// address with the service listeners or another resource. Lattice answers
// resource names with addresses of a range of its own for VPC resources;
// 129.224.0.0/17 is the range given for them (unverified: it is not in the
// reference). A netns VPC's cidrBlocks may not overlap it.
var NetnsResourcePrefix = netip.MustParsePrefix("129.224.0.0/17")

// ResourceDNSZone is the zone of the generated DNS names of a region's
// resource associations (Lattice: vpc-lattice-rsc.REGION.on.aws), not
// fully qualified.
func ResourceDNSZone(region string) string {
	return "vpc-lattice-rsc." + strings.ToLower(region) + ".on.aws"
}

// ResourceDNSName is the generated DNS name of the service-network
// resource association snraID of configuration rcfgID, in Lattice's shape
// SNRA-ID.RCFG-ID.TOKEN.vpc-lattice-rsc.REGION.on.aws (token: the
// installation's DNS token, as in service names). A GROUP's association
// names each CHILD one label deeper: ResourceChildDNSName.
func ResourceDNSName(snraID, rcfgID, token, region string) string {
	return snraID + "." + rcfgID + "." + token + "." + ResourceDNSZone(region)
}

// ResourceChildDNSName is the name of a GROUP association's CHILD
// configuration childID: CHILD-ID.<the association's name>. Lattice gives
// every child its own name under the group's association; the reference
// does not spell it, so this shape is Trellis's (docs/resources.md).
func ResourceChildDNSName(childID, associationName string) string {
	return childID + "." + associationName
}
