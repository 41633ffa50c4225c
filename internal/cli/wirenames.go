package cli

import "strings"

// wireMembers lists the JSON member names of the VPC Lattice REST API as they
// appear in aws-sdk-go-v2/service/vpclattice (v1.21.2): the `case "…":`
// strings of deserializers.go, and the body keys, URI labels and query
// parameters of serializers.go. It is used to spell SDK field names exactly
// as the wire does (numberOfAssociatedVPCs, serviceArns, vpcId, dnsEntry,
// httpMatch, httpCode, ipAddressType, ...), whatever their Go casing.
var wireMembers = []string{
	"accessLogSubscriptionIdentifier",
	"action",
	"allowAssociationToShareableServiceNetwork",
	"amazonManaged",
	"arn",
	"arnResource",
	"authType",
	"caseSensitive",
	"certificateArn",
	"clientToken",
	"config",
	"contains",
	"createdAt",
	"createdBy",
	"customDomainName",
	"defaultAction",
	"destinationArn",
	"dnsEntry",
	"dnsOptions",
	"dnsResource",
	"domainName",
	"domainVerificationArn",
	"domainVerificationId",
	"domainVerificationIdentifier",
	"domainVerificationStatus",
	"enabled",
	"exact",
	"failureCode",
	"failureMessage",
	"failureReason",
	"fieldList",
	"fixedResponse",
	"forward",
	"groupDomain",
	"headerMatches",
	"healthCheck",
	"healthCheckIntervalSeconds",
	"healthCheckTimeoutSeconds",
	"healthyThresholdCount",
	"hostedZoneId",
	"httpCode",
	"httpMatch",
	"id",
	"includeChildren",
	"ipAddress",
	"ipAddressType",
	"ipResource",
	"ipv4AddressesPerEni",
	"isDefault",
	"isManagedAssociation",
	"items",
	"lambdaEventStructureVersion",
	"lastUpdatedAt",
	"lastVerifiedTime",
	"listenerIdentifier",
	"managedBy",
	"match",
	"matcher",
	"maxResults",
	"message",
	"method",
	"name",
	"nextToken",
	"numberOfAssociatedResourceConfigurations",
	"numberOfAssociatedServices",
	"numberOfAssociatedVPCs",
	"path",
	"pathMatch",
	"policy",
	"port",
	"portRanges",
	"prefix",
	"priority",
	"privateDnsEnabled",
	"privateDnsEntry",
	"privateDnsPreference",
	"privateDnsSpecifiedDomains",
	"protocol",
	"protocolVersion",
	"quotaCode",
	"reason",
	"reasonCode",
	"resourceArn",
	"resourceConfigDnsResolution",
	"resourceConfigurationArn",
	"resourceConfigurationDefinition",
	"resourceConfigurationGroupId",
	"resourceConfigurationGroupIdentifier",
	"resourceConfigurationId",
	"resourceConfigurationIdentifier",
	"resourceConfigurationName",
	"resourceEndpointAssociationIdentifier",
	"resourceGatewayId",
	"resourceGatewayIdentifier",
	"resourceId",
	"resourceIdentifier",
	"resourceType",
	"retryAfterSeconds",
	"ruleIdentifier",
	"rules",
	"securityGroupIds",
	"serviceArn",
	"serviceArns",
	"serviceCode",
	"serviceId",
	"serviceIdentifier",
	"serviceManaged",
	"serviceName",
	"serviceNetworkArn",
	"serviceNetworkId",
	"serviceNetworkIdentifier",
	"serviceNetworkLogType",
	"serviceNetworkName",
	"serviceNetworkResourceAssociationIdentifier",
	"serviceNetworkServiceAssociationIdentifier",
	"serviceNetworkVpcAssociationIdentifier",
	"sharingConfig",
	"state",
	"status",
	"statusCode",
	"subnetIds",
	"successful",
	"tagKeys",
	"tags",
	"targetGroupIdentifier",
	"targetGroupType",
	"targetGroups",
	"targets",
	"txtMethodConfig",
	"type",
	"unhealthyThresholdCount",
	"unsuccessful",
	"value",
	"vpcEndpointId",
	"vpcEndpointOwner",
	"vpcEndpointOwnerId",
	"vpcId",
	"vpcIdentifier",
	"weight",
}

// wireNameByLower maps the lower-cased member name to its wire spelling.
var wireNameByLower = func() map[string]string {
	m := make(map[string]string, len(wireMembers))
	for _, n := range wireMembers {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// wireName returns the Lattice wire (JSON) member name for an SDK struct
// field name: the spelling from wireMembers when the field is known,
// otherwise the field name with its first letter lower-cased.
func wireName(goName string) string {
	if n, ok := wireNameByLower[strings.ToLower(goName)]; ok {
		return n
	}
	return lowerFirst(goName)
}

// isKnownWireName reports whether goName corresponds to a member of wireMembers.
func isKnownWireName(goName string) bool {
	_, ok := wireNameByLower[strings.ToLower(goName)]
	return ok
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
