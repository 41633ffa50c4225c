package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Resource gateways, resource configurations, service-network resource
// associations and domain verification (docs/resources.md): the Lattice
// operations through the SDK, plus the native operator path
// POST /trellis/v1/domainverifications/{id}/verify.

const (
	flagResourceGateway       = "resource-gateway"
	flagResourceConfiguration = "resource-configuration"
	flagGroup                 = "group"
	flagDomainVerification    = "domain-verification"
	flagSubnet                = "subnet"
	flagSecurityGroup         = "security-group"
	flagPortRange             = "port-range"
	flagIP                    = "ip"
	flagDNSName               = "dns-name"
	flagARN                   = "arn"
	flagAllowShareable        = "allow-association-to-shareable-service-network"
)

var (
	resourceGatewayKind = &nameKind{noun: "resource gateway", prefix: "rgw",
		list: func(ctx context.Context, c *vpclattice.Client, _ []string) ([]named, error) {
			return listNamed(ctx, vpclattice.NewListResourceGatewaysPaginator(c, &vpclattice.ListResourceGatewaysInput{}),
				func(o *vpclattice.ListResourceGatewaysOutput) []types.ResourceGatewaySummary { return o.Items },
				func(s types.ResourceGatewaySummary) (*string, *string) { return s.Id, s.Name })
		}}
	resourceConfigurationKind = &nameKind{noun: "resource configuration", prefix: "rcfg",
		list: func(ctx context.Context, c *vpclattice.Client, _ []string) ([]named, error) {
			return listNamed(ctx, vpclattice.NewListResourceConfigurationsPaginator(c, &vpclattice.ListResourceConfigurationsInput{}),
				func(o *vpclattice.ListResourceConfigurationsOutput) []types.ResourceConfigurationSummary {
					return o.Items
				},
				func(s types.ResourceConfigurationSummary) (*string, *string) { return s.Id, s.Name })
		}}
	// A domain verification has no name: its domain name stands for one.
	domainVerificationKind = &nameKind{noun: "domain verification", prefix: "dv",
		list: func(ctx context.Context, c *vpclattice.Client, _ []string) ([]named, error) {
			return listNamed(ctx, vpclattice.NewListDomainVerificationsPaginator(c, &vpclattice.ListDomainVerificationsInput{}),
				func(o *vpclattice.ListDomainVerificationsOutput) []types.DomainVerificationSummary { return o.Items },
				func(s types.DomainVerificationSummary) (*string, *string) { return s.Id, s.DomainName })
		}}
)

// resourceDefinition builds the definition from --ip, --dns-name
// (with --ip-address-type) or --arn; nil when none was given.
func resourceDefinition(cmd *cobra.Command) (types.ResourceConfigurationDefinition, error) {
	fs := cmd.Flags()
	n := 0
	for _, f := range []string{flagIP, flagDNSName, flagARN} {
		if fs.Changed(f) {
			n++
		}
	}
	if n > 1 {
		return nil, usageErrorf("give only one of --%s, --%s and --%s", flagIP, flagDNSName, flagARN)
	}
	if fs.Changed("ip-address-type") && !fs.Changed(flagDNSName) {
		return nil, usageErrorf("--ip-address-type goes with --%s", flagDNSName)
	}
	switch {
	case fs.Changed(flagIP):
		v, _ := fs.GetString(flagIP)
		return &types.ResourceConfigurationDefinitionMemberIpResource{Value: types.IpResource{IpAddress: &v}}, nil
	case fs.Changed(flagDNSName):
		v, _ := fs.GetString(flagDNSName)
		d := types.DnsResource{DomainName: &v}
		setEnum(cmd, "ip-address-type", &d.IpAddressType)
		return &types.ResourceConfigurationDefinitionMemberDnsResource{Value: d}, nil
	case fs.Changed(flagARN):
		v, _ := fs.GetString(flagARN)
		return &types.ResourceConfigurationDefinitionMemberArnResource{Value: types.ArnResource{Arn: &v}}, nil
	}
	return nil, nil
}

func addDefinitionFlags(fs *pflag.FlagSet) {
	fs.String(flagIP, "", "the resource's IPv4 or IPv6 address (ipResource)")
	fs.String(flagDNSName, "", "the resource's DNS name (dnsResource)")
	fs.String("ip-address-type", "", enumHelp("IP address type of --dns-name", enumValues(types.ResourceConfigurationIpAddressType("").Values())))
	fs.String(flagARN, "", "the resource's ARN (arnResource, type ARN)")
}

func resourceGatewayCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateResourceGatewayInput
		getIn    = vpclattice.GetResourceGatewayInput
		listIn   = vpclattice.ListResourceGatewaysInput
		updateIn = vpclattice.UpdateResourceGatewayInput
		deleteIn = vpclattice.DeleteResourceGatewayInput
	)
	idFlag := func(fs *pflag.FlagSet) { fs.String(flagResourceGateway, "", "resource gateway name, ID or ARN") }
	return nounCmd("resource-gateway", []string{"rgw", "resource-gateways"}, "Manage resource gateways (entry points to resources in a VPC)",
		verb(verbSpec[createIn]{
			use:   "create",
			short: "Create a resource gateway (CreateResourceGateway)",
			example: "  trellis vpc put vpc-0123456789abcdef0\n" +
				"  trellis resource-gateway create --name db-gw --vpc vpc-0123456789abcdef0 --subnet subnet-0123456789abcdef0",
			flags: func(fs *pflag.FlagSet) {
				fs.String("name", "", "name of the resource gateway")
				fs.String(flagVPC, "", "VPC identifier (declared with 'trellis vpc put')")
				fs.StringArray(flagSubnet, nil, "subnet ID (repeatable)")
				fs.StringArray(flagSecurityGroup, nil, "security group ID of the VPC (repeatable)")
				fs.String("ip-address-type", "", enumHelp("IP address type", enumValues(types.ResourceGatewayIpAddressType("").Values())))
				fs.Int32("ipv4-addresses-per-eni", 0, "IPv4 addresses per ENI (1-62)")
				fs.String("resource-config-dns-resolution", "", enumHelp("DNS resolution of its configurations", enumValues(types.ResourceConfigDnsResolution("").Values())))
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, "name", &in.Name)
				setString(cmd, flagVPC, &in.VpcIdentifier)
				setStrings(cmd, flagSubnet, &in.SubnetIds)
				setStrings(cmd, flagSecurityGroup, &in.SecurityGroupIds)
				setEnum(cmd, "ip-address-type", &in.IpAddressType)
				setInt32(cmd, "ipv4-addresses-per-eni", &in.Ipv4AddressesPerEni)
				setEnum(cmd, "resource-config-dns-resolution", &in.ResourceConfigDnsResolution)
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req("name", func(in *createIn) bool { return isSetStr(in.Name) }),
				req(flagVPC, func(in *createIn) bool { return isSetStr(in.VpcIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateResourceGateway(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a resource gateway (GetResourceGateway)",
			idFlag: flagResourceGateway,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagResourceGateway, &in.ResourceGatewayIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagResourceGateway, func(in *getIn) bool { return isSetStr(in.ResourceGatewayIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetResourceGateway(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List resource gateways (ListResourceGateways)",
			list: cols("ID", "id", "NAME", "name", "STATUS", "status", "VPC", "vpcIdentifier", "IP TYPE", "ipAddressType",
				"SECURITY GROUPS", "securityGroupIds", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListResourceGateways(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListResourceGatewaysPaginator(c, in),
					func(o *vpclattice.ListResourceGatewaysOutput) []types.ResourceGatewaySummary { return o.Items })
				return &vpclattice.ListResourceGatewaysOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:     "update",
			short:   "Replace a resource gateway's security groups (UpdateResourceGateway)",
			idFlag:  flagResourceGateway,
			example: "  trellis resource-gateway update db-gw --security-group sg-0123456789abcdef0",
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.StringArray(flagSecurityGroup, nil, "security group ID of the VPC (repeatable; replaces the list)")
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagResourceGateway, &in.ResourceGatewayIdentifier)
				setStrings(cmd, flagSecurityGroup, &in.SecurityGroupIds)
				return nil
			},
			required: []required[updateIn]{
				req(flagResourceGateway, func(in *updateIn) bool { return isSetStr(in.ResourceGatewayIdentifier) }),
				req(flagSecurityGroup, func(in *updateIn) bool { return in.SecurityGroupIds != nil }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateResourceGateway(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a resource gateway no configuration uses (DeleteResourceGateway)",
			idFlag: flagResourceGateway,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagResourceGateway, &in.ResourceGatewayIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagResourceGateway, func(in *deleteIn) bool { return isSetStr(in.ResourceGatewayIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteResourceGateway(ctx, in)
			},
		}),
	)
}

func resourceConfigurationCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateResourceConfigurationInput
		getIn    = vpclattice.GetResourceConfigurationInput
		listIn   = vpclattice.ListResourceConfigurationsInput
		updateIn = vpclattice.UpdateResourceConfigurationInput
		deleteIn = vpclattice.DeleteResourceConfigurationInput
	)
	idFlag := func(fs *pflag.FlagSet) {
		fs.String(flagResourceConfiguration, "", "resource configuration name, ID or ARN")
	}
	return nounCmd("resource-configuration", []string{"rcfg", "resource-configurations"}, "Manage resource configurations (what a resource is and its ports)",
		verb(verbSpec[createIn]{
			use:   "create",
			short: "Create a resource configuration (CreateResourceConfiguration)",
			example: "  trellis resource-configuration create --name orders-db --type SINGLE --resource-gateway db-gw \\\n" +
				"      --port-range 5432 --dns-name db.internal.example\n" +
				"  trellis resource-configuration create --name replicas --type GROUP --resource-gateway db-gw --port-range 5432-5433\n" +
				"  trellis resource-configuration create --name replica-1 --type CHILD --group replicas --ip 10.0.0.5",
			flags: func(fs *pflag.FlagSet) {
				fs.String("name", "", "name of the resource configuration")
				fs.String("type", "", enumHelp("type", enumValues(types.ResourceConfigurationType("").Values())))
				fs.String(flagResourceGateway, "", "resource gateway name, ID or ARN (not for CHILD)")
				fs.String(flagGroup, "", "GROUP resource configuration name, ID or ARN (CHILD only)")
				fs.StringArray(flagPortRange, nil, "port or range N-M (repeatable; SINGLE and GROUP)")
				fs.String("protocol", "", enumHelp("protocol", enumValues(types.ProtocolType("").Values())))
				addDefinitionFlags(fs)
				fs.String("custom-domain-name", "", "custom domain name of the resource (SINGLE, CHILD)")
				fs.String("group-domain", "", "domain of a GROUP's children")
				fs.String(flagDomainVerification, "", "domain verification of the custom or group domain: its domain name, ID or ARN")
				fs.Bool(flagAllowShareable, true, "may join service networks that can be shared (=false: only networks with sharing disabled)")
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, "name", &in.Name)
				setEnum(cmd, "type", &in.Type)
				setString(cmd, flagResourceGateway, &in.ResourceGatewayIdentifier)
				setString(cmd, flagGroup, &in.ResourceConfigurationGroupIdentifier)
				setStrings(cmd, flagPortRange, &in.PortRanges)
				setEnum(cmd, "protocol", &in.Protocol)
				def, err := resourceDefinition(cmd)
				if err != nil {
					return err
				}
				if def != nil {
					in.ResourceConfigurationDefinition = def
				}
				setString(cmd, "custom-domain-name", &in.CustomDomainName)
				setString(cmd, "group-domain", &in.GroupDomain)
				setString(cmd, flagDomainVerification, &in.DomainVerificationIdentifier)
				setBool(cmd, flagAllowShareable, &in.AllowAssociationToShareableServiceNetwork)
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req("name", func(in *createIn) bool { return isSetStr(in.Name) }),
				req("type", func(in *createIn) bool { return in.Type != "" }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateResourceConfiguration(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a resource configuration (GetResourceConfiguration)",
			idFlag: flagResourceConfiguration,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagResourceConfiguration, &in.ResourceConfigurationIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagResourceConfiguration, func(in *getIn) bool { return isSetStr(in.ResourceConfigurationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetResourceConfiguration(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List resource configurations (ListResourceConfigurations)",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagResourceGateway, "", "only configurations of this resource gateway (name, ID or ARN)")
				fs.String(flagGroup, "", "only the children of this GROUP (name, ID or ARN)")
				fs.String(flagDomainVerification, "", "only configurations naming this domain verification (domain name, ID or ARN)")
			},
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagResourceGateway, &in.ResourceGatewayIdentifier)
				setString(cmd, flagGroup, &in.ResourceConfigurationGroupIdentifier)
				setString(cmd, flagDomainVerification, &in.DomainVerificationIdentifier)
				return nil
			},
			list: cols("ID", "id", "NAME", "name", "TYPE", "type", "STATUS", "status", "GATEWAY", "resourceGatewayId",
				"GROUP", "resourceConfigurationGroupId", "CUSTOM DOMAIN", "customDomainName", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListResourceConfigurations(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListResourceConfigurationsPaginator(c, in),
					func(o *vpclattice.ListResourceConfigurationsOutput) []types.ResourceConfigurationSummary {
						return o.Items
					})
				return &vpclattice.ListResourceConfigurationsOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:     "update",
			short:   "Update a resource configuration (UpdateResourceConfiguration)",
			idFlag:  flagResourceConfiguration,
			example: "  trellis resource-configuration update orders-db --port-range 5432 --port-range 6432 --dns-name db2.internal.example",
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.StringArray(flagPortRange, nil, "port or range N-M (repeatable; replaces the list; SINGLE and GROUP)")
				addDefinitionFlags(fs)
				fs.Bool(flagAllowShareable, true, "may join service networks that can be shared (not CHILD)")
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagResourceConfiguration, &in.ResourceConfigurationIdentifier)
				setStrings(cmd, flagPortRange, &in.PortRanges)
				def, err := resourceDefinition(cmd)
				if err != nil {
					return err
				}
				if def != nil {
					in.ResourceConfigurationDefinition = def
				}
				setBool(cmd, flagAllowShareable, &in.AllowAssociationToShareableServiceNetwork)
				return nil
			},
			required: []required[updateIn]{
				req(flagResourceConfiguration, func(in *updateIn) bool { return isSetStr(in.ResourceConfigurationIdentifier) }),
				req("port-range, --ip, --dns-name, --arn or --"+flagAllowShareable, func(in *updateIn) bool {
					return in.PortRanges != nil || in.ResourceConfigurationDefinition != nil || in.AllowAssociationToShareableServiceNetwork != nil
				}),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateResourceConfiguration(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a resource configuration (DeleteResourceConfiguration)",
			idFlag: flagResourceConfiguration,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagResourceConfiguration, &in.ResourceConfigurationIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagResourceConfiguration, func(in *deleteIn) bool { return isSetStr(in.ResourceConfigurationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteResourceConfiguration(ctx, in)
			},
		}),
	)
}

// snraCmd manages service network ↔ resource configuration associations.
func snraCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateServiceNetworkResourceAssociationInput
		getIn    = vpclattice.GetServiceNetworkResourceAssociationInput
		listIn   = vpclattice.ListServiceNetworkResourceAssociationsInput
		deleteIn = vpclattice.DeleteServiceNetworkResourceAssociationInput
	)
	idFlag := func(fs *pflag.FlagSet) { fs.String(flagAssociation, "", "association ID or ARN") }
	return nounCmd("service-network-resource-association", []string{"snra"}, "Associate resource configurations with service networks",
		verb(verbSpec[createIn]{
			use:     "create",
			short:   "Associate a resource configuration with a service network (CreateServiceNetworkResourceAssociation)",
			example: "  trellis snra create --service-network prod --resource-configuration orders-db --private-dns-enabled",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagServiceNetwork, "", "service network name, ID or ARN (another account's shared one: its ARN)")
				fs.String(flagResourceConfiguration, "", "resource configuration name, ID or ARN (another account's shared one: its ARN)")
				fs.Bool("private-dns-enabled", false, "resolve the resource's DNS name in the network's VPCs")
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				setString(cmd, flagResourceConfiguration, &in.ResourceConfigurationIdentifier)
				setBool(cmd, "private-dns-enabled", &in.PrivateDnsEnabled)
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req(flagServiceNetwork, func(in *createIn) bool { return isSetStr(in.ServiceNetworkIdentifier) }),
				req(flagResourceConfiguration, func(in *createIn) bool { return isSetStr(in.ResourceConfigurationIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateServiceNetworkResourceAssociation(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a service network resource association (GetServiceNetworkResourceAssociation)",
			idFlag: flagAssociation,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagAssociation, &in.ServiceNetworkResourceAssociationIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagAssociation, func(in *getIn) bool { return isSetStr(in.ServiceNetworkResourceAssociationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetServiceNetworkResourceAssociation(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List service network resource associations (ListServiceNetworkResourceAssociations)",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagServiceNetwork, "", "only associations of this service network (name, ID or ARN)")
				fs.String(flagResourceConfiguration, "", "only associations of this resource configuration (name, ID or ARN)")
				fs.Bool("include-children", false, "follow each GROUP's association with its children's (managed) ones")
			},
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				setString(cmd, flagResourceConfiguration, &in.ResourceConfigurationIdentifier)
				setBool(cmd, "include-children", &in.IncludeChildren)
				return nil
			},
			list: cols("ID", "id", "STATUS", "status", "SERVICE NETWORK", "serviceNetworkName", "RESOURCE CONFIGURATION", "resourceConfigurationName",
				"MANAGED", "isManagedAssociation", "PRIVATE DNS", "privateDnsEnabled", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListServiceNetworkResourceAssociations(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListServiceNetworkResourceAssociationsPaginator(c, in),
					func(o *vpclattice.ListServiceNetworkResourceAssociationsOutput) []types.ServiceNetworkResourceAssociationSummary {
						return o.Items
					})
				return &vpclattice.ListServiceNetworkResourceAssociationsOutput{Items: items}, err
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a service network resource association (DeleteServiceNetworkResourceAssociation)",
			idFlag: flagAssociation,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagAssociation, &in.ServiceNetworkResourceAssociationIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagAssociation, func(in *deleteIn) bool { return isSetStr(in.ServiceNetworkResourceAssociationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteServiceNetworkResourceAssociation(ctx, in)
			},
		}),
	)
}

var domainVerificationColumns = cols("ID", "id", "DOMAIN", "domainName", "STATUS", "status", "TXT NAME", "txtMethodConfig.name",
	"TXT VALUE", "txtMethodConfig.value", "LAST VERIFIED", "lastVerifiedTime", "ARN", "arn")

func domainVerificationCmd() *cobra.Command {
	type (
		startIn  = vpclattice.StartDomainVerificationInput
		getIn    = vpclattice.GetDomainVerificationInput
		listIn   = vpclattice.ListDomainVerificationsInput
		deleteIn = vpclattice.DeleteDomainVerificationInput
	)
	idFlag := func(fs *pflag.FlagSet) {
		fs.String(flagDomainVerification, "", "domain verification: its domain name, ID or ARN")
	}
	noun := nounCmd("domain-verification", []string{"dv", "domain-verifications"}, "Prove ownership of domains used by resource configurations",
		verb(verbSpec[startIn]{
			use:     "start",
			short:   "Start verifying a domain; prints the TXT record to publish (StartDomainVerification)",
			idFlag:  "domain-name",
			example: "  trellis domain-verification start example.com",
			flags: func(fs *pflag.FlagSet) {
				fs.String("domain-name", "", "the domain to verify")
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *startIn) error {
				setString(cmd, "domain-name", &in.DomainName)
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[startIn]{req("domain-name", func(in *startIn) bool { return isSetStr(in.DomainName) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *startIn, _ bool) (any, error) {
				return c.StartDomainVerification(ctx, in)
			},
			notice: func(res any) string {
				o, _ := res.(*vpclattice.StartDomainVerificationOutput)
				if o == nil || o.TxtMethodConfig == nil {
					return ""
				}
				return txtRecordNotice(deref(o.Id), deref(o.TxtMethodConfig.Name), deref(o.TxtMethodConfig.Value))
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a domain verification; checks DNS while PENDING (GetDomainVerification)",
			idFlag: flagDomainVerification,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagDomainVerification, &in.DomainVerificationIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagDomainVerification, func(in *getIn) bool { return isSetStr(in.DomainVerificationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetDomainVerification(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List domain verifications (ListDomainVerifications)",
			list:  domainVerificationColumns,
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListDomainVerifications(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListDomainVerificationsPaginator(c, in),
					func(o *vpclattice.ListDomainVerificationsOutput) []types.DomainVerificationSummary { return o.Items })
				return &vpclattice.ListDomainVerificationsOutput{Items: items}, err
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a domain verification no configuration names (DeleteDomainVerification)",
			idFlag: flagDomainVerification,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagDomainVerification, &in.DomainVerificationIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagDomainVerification, func(in *deleteIn) bool { return isSetStr(in.DomainVerificationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteDomainVerification(ctx, in)
			},
		}),
	)
	noun.AddCommand(domainVerifyCmd())
	return noun
}

// domainVerifyCmd is the native operator path: the owner's call checks DNS
// now, the administrator's marks the verification VERIFIED without DNS
// (closed networks, docs/resources.md).
func domainVerifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "verify DOMAIN_VERIFICATION",
		Short: "Check a verification now; as administrator, mark it VERIFIED without DNS (POST /trellis/v1/domainverifications/{id}/verify)",
		Example: "  trellis domain-verification verify example.com\n" +
			"  trellis domain-verification verify dv-0123456789abcdef0",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, runDomainVerify(cmd, args[0]))
		},
	}
	c.Annotations = map[string]string{annotationNative: "true"}
	return c
}

// annotationNative marks a verb of an SDK noun that is a Trellis-native
// endpoint, not an SDK operation.
const annotationNative = "trellis-native"

func runDomainVerify(cmd *cobra.Command, ident string) error {
	// A domain name stands for the caller's verification of it, as for the
	// SDK verbs; an ID or ARN is sent as it is.
	if !isIdentifier(ident, []*nameKind{domainVerificationKind}) {
		client, err := newClient(cmd)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		id, err := lookupName(ctx, client, reflect.ValueOf(&vpclattice.GetDomainVerificationInput{}).Elem(), map[string][]named{},
			[]*nameKind{domainVerificationKind}, ident)
		if err != nil {
			return err
		}
		ident = id
	}
	return nativeCall(cmd, http.MethodPost, "domainverifications/"+url.PathEscape(ident)+"/verify", nil, nil)
}

// txtRecordNotice tells what to publish, in zone-file form. The server's
// values are quoted (strconv.Quote) so no control character reaches the
// terminal.
func txtRecordNotice(id, name, value string) string {
	return fmt.Sprintf("Publish this DNS record, then run 'trellis domain-verification get %s':\n  %s. TXT %s\n",
		terminalSafe(id), terminalSafe(name), strconv.Quote(value))
}

// terminalSafe returns s as it is when it is printable ASCII without spaces
// (what IDs and DNS names are), quoted otherwise.
func terminalSafe(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\' {
			return strconv.Quote(s)
		}
	}
	return s
}
