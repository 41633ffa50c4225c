package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Quota is a per-account limit (reference §4.3). Codes are Trellis's own;
// AWS's Service Quotas codes are not part of the reference.
type Quota struct {
	Name         string // flag name, e.g. "services"
	Code         string // quotaCode in ServiceQuotaExceededException
	ResourceType string
	Description  string
	Default      int
}

// The quotas Trellis enforces, with Lattice's defaults.
var (
	QuotaServiceNetworks          = Quota{"service-networks", "service-networks-per-account", TypeServiceNetwork, "Service networks per account", 50}
	QuotaServices                 = Quota{"services", "services-per-account", TypeService, "Services per account", 2000}
	QuotaTargetGroups             = Quota{"target-groups", "target-groups-per-account", TypeTargetGroup, "Target groups per account", 500}
	QuotaTargetGroupsPerService   = Quota{"target-groups-per-service", "target-groups-per-service", TypeService, "Target groups per service", 10}
	QuotaListenersPerService      = Quota{"listeners-per-service", "listeners-per-service", TypeListener, "Listeners per service", 2}
	QuotaRulesPerListener         = Quota{"rules-per-listener", "rules-per-listener", TypeRule, "Rules per listener", 10}
	QuotaTargetsPerTargetGroup    = Quota{"targets-per-target-group", "targets-per-target-group", TypeTarget, "Targets per target group", 1000}
	QuotaVpcAssociationsPerSN     = Quota{"vpc-associations-per-service-network", "vpc-associations-per-service-network", TypeServiceNetworkVpcAssociation, "VPC associations per service network", 500}
	QuotaServiceAssociationsPerSN = Quota{"service-associations-per-service-network", "service-associations-per-service-network", TypeServiceNetworkServiceAssociation, "Service associations per service network", 500}
	QuotaResourceGatewaysPerVPC   = Quota{"resource-gateways-per-vpc", "resource-gateways-per-vpc", TypeResourceGateway, "Resource gateways per VPC", 500}
	QuotaResourceConfigurations   = Quota{"resource-configurations", "resource-configurations-per-account", TypeResourceConfiguration, "Resource configurations per account", 2000}
	QuotaDomainVerifications      = Quota{"domain-verifications", "domain-verifications-per-account", TypeDomainVerification, "Domain verifications per account", 5}
	QuotaChildrenPerGroup         = Quota{"child-configurations-per-group", "child-resource-configurations-per-group", TypeResourceConfiguration, "Child resource configurations per group", 60}
)

// AllQuotas lists every quota.
var AllQuotas = []Quota{QuotaServiceNetworks, QuotaServices, QuotaTargetGroups, QuotaTargetGroupsPerService,
	QuotaListenersPerService, QuotaRulesPerListener, QuotaTargetsPerTargetGroup, QuotaVpcAssociationsPerSN,
	QuotaServiceAssociationsPerSN, QuotaResourceGatewaysPerVPC, QuotaResourceConfigurations, QuotaChildrenPerGroup, QuotaDomainVerifications}

// Quotas holds the configured limits; a missing entry means the default.
type Quotas map[string]int

// Limit returns the configured limit of q.
func (qs Quotas) Limit(q Quota) int {
	if v, ok := qs[q.Name]; ok {
		return v
	}
	return q.Default
}

// Set parses "name=value" (the --quota flag).
func (qs Quotas) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("quota %q: want name=value", s)
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < 0 {
		return fmt.Errorf("quota %q: value must be a non-negative integer", s)
	}
	for _, q := range AllQuotas {
		if q.Name == name {
			qs[name] = n
			return nil
		}
	}
	names := make([]string, len(AllQuotas))
	for i, q := range AllQuotas {
		names[i] = q.Name
	}
	sort.Strings(names)
	return fmt.Errorf("unknown quota %q (known: %s)", name, strings.Join(names, ", "))
}
