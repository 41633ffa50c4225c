package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	flagAssociation     = "association"
	flagSecurityGroupID = "security-group-id"
)

// snsaCmd manages service network ↔ service associations.
func snsaCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateServiceNetworkServiceAssociationInput
		getIn    = vpclattice.GetServiceNetworkServiceAssociationInput
		listIn   = vpclattice.ListServiceNetworkServiceAssociationsInput
		deleteIn = vpclattice.DeleteServiceNetworkServiceAssociationInput
	)
	idFlag := func(fs *pflag.FlagSet) { fs.String(flagAssociation, "", "association ID or ARN") }
	return nounCmd("service-network-service-association", []string{"snsa"}, "Associate services with service networks",
		verb(verbSpec[createIn]{
			use:     "create",
			short:   "Associate a service with a service network (CreateServiceNetworkServiceAssociation)",
			example: "  trellis snsa create --service-network prod --service orders",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagServiceNetwork, "", "service network name, ID or ARN")
				fs.String(flagService, "", "service name, ID or ARN")
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				setString(cmd, flagService, &in.ServiceIdentifier)
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req(flagServiceNetwork, func(in *createIn) bool { return isSetStr(in.ServiceNetworkIdentifier) }),
				req(flagService, func(in *createIn) bool { return isSetStr(in.ServiceIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateServiceNetworkServiceAssociation(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a service network service association (GetServiceNetworkServiceAssociation)",
			idFlag: flagAssociation,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagAssociation, &in.ServiceNetworkServiceAssociationIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagAssociation, func(in *getIn) bool { return isSetStr(in.ServiceNetworkServiceAssociationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetServiceNetworkServiceAssociation(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List service network service associations (ListServiceNetworkServiceAssociations)",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagServiceNetwork, "", "only associations of this service network (name, ID or ARN)")
				fs.String(flagService, "", "only associations of this service (name, ID or ARN)")
			},
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				setString(cmd, flagService, &in.ServiceIdentifier)
				return nil
			},
			list: cols("ID", "id", "STATUS", "status", "SERVICE NETWORK", "serviceNetworkName", "SERVICE", "serviceName",
				"DNS NAME", "dnsEntry.domainName", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListServiceNetworkServiceAssociations(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListServiceNetworkServiceAssociationsPaginator(c, in),
					func(o *vpclattice.ListServiceNetworkServiceAssociationsOutput) []types.ServiceNetworkServiceAssociationSummary {
						return o.Items
					})
				return &vpclattice.ListServiceNetworkServiceAssociationsOutput{Items: items}, err
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a service network service association (DeleteServiceNetworkServiceAssociation)",
			idFlag: flagAssociation,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagAssociation, &in.ServiceNetworkServiceAssociationIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagAssociation, func(in *deleteIn) bool { return isSetStr(in.ServiceNetworkServiceAssociationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteServiceNetworkServiceAssociation(ctx, in)
			},
		}),
	)
}

// snvaCmd manages service network ↔ VPC associations.
func snvaCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateServiceNetworkVpcAssociationInput
		getIn    = vpclattice.GetServiceNetworkVpcAssociationInput
		listIn   = vpclattice.ListServiceNetworkVpcAssociationsInput
		updateIn = vpclattice.UpdateServiceNetworkVpcAssociationInput
		deleteIn = vpclattice.DeleteServiceNetworkVpcAssociationInput
	)
	idFlag := func(fs *pflag.FlagSet) { fs.String(flagAssociation, "", "association ID or ARN") }
	return nounCmd("service-network-vpc-association", []string{"snva"}, "Associate VPCs with service networks",
		verb(verbSpec[createIn]{
			use:     "create",
			short:   "Associate a VPC with a service network (CreateServiceNetworkVpcAssociation)",
			example: "  trellis snva create --service-network prod --vpc vpc-0123 --security-group-id sg-0123",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagServiceNetwork, "", "service network name, ID or ARN")
				fs.String(flagVPC, "", "VPC identifier")
				fs.StringArray(flagSecurityGroupID, nil, "security group ID (repeatable)")
				fs.Bool("private-dns-enabled", false, "enable private DNS for the association")
				fs.String("private-dns-preference", "", enumHelp("private DNS preference", enumValues(types.PrivateDnsPreference("").Values())))
				fs.StringArray("private-dns-domain", nil, "private DNS specified domain (repeatable)")
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				setString(cmd, flagVPC, &in.VpcIdentifier)
				setStrings(cmd, flagSecurityGroupID, &in.SecurityGroupIds)
				setBool(cmd, "private-dns-enabled", &in.PrivateDnsEnabled)
				if cmd.Flags().Changed("private-dns-preference") || cmd.Flags().Changed("private-dns-domain") {
					if in.DnsOptions == nil {
						in.DnsOptions = &types.DnsOptions{}
					}
					setEnum(cmd, "private-dns-preference", &in.DnsOptions.PrivateDnsPreference)
					setStrings(cmd, "private-dns-domain", &in.DnsOptions.PrivateDnsSpecifiedDomains)
				}
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req(flagServiceNetwork, func(in *createIn) bool { return isSetStr(in.ServiceNetworkIdentifier) }),
				req(flagVPC, func(in *createIn) bool { return isSetStr(in.VpcIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateServiceNetworkVpcAssociation(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a service network VPC association (GetServiceNetworkVpcAssociation)",
			idFlag: flagAssociation,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagAssociation, &in.ServiceNetworkVpcAssociationIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagAssociation, func(in *getIn) bool { return isSetStr(in.ServiceNetworkVpcAssociationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetServiceNetworkVpcAssociation(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List service network VPC associations (ListServiceNetworkVpcAssociations)",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagServiceNetwork, "", "only associations of this service network (name, ID or ARN)")
				fs.String(flagVPC, "", "only associations of this VPC")
			},
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				setString(cmd, flagVPC, &in.VpcIdentifier)
				return nil
			},
			list: cols("ID", "id", "STATUS", "status", "SERVICE NETWORK", "serviceNetworkName", "VPC", "vpcId", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListServiceNetworkVpcAssociations(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListServiceNetworkVpcAssociationsPaginator(c, in),
					func(o *vpclattice.ListServiceNetworkVpcAssociationsOutput) []types.ServiceNetworkVpcAssociationSummary {
						return o.Items
					})
				return &vpclattice.ListServiceNetworkVpcAssociationsOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:    "update",
			short:  "Replace the security groups of a service network VPC association (UpdateServiceNetworkVpcAssociation)",
			idFlag: flagAssociation,
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.StringArray(flagSecurityGroupID, nil, "security group ID (repeatable)")
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagAssociation, &in.ServiceNetworkVpcAssociationIdentifier)
				setStrings(cmd, flagSecurityGroupID, &in.SecurityGroupIds)
				return nil
			},
			required: []required[updateIn]{
				req(flagAssociation, func(in *updateIn) bool { return isSetStr(in.ServiceNetworkVpcAssociationIdentifier) }),
				req(flagSecurityGroupID, func(in *updateIn) bool { return len(in.SecurityGroupIds) > 0 }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateServiceNetworkVpcAssociation(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a service network VPC association (DeleteServiceNetworkVpcAssociation)",
			idFlag: flagAssociation,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagAssociation, &in.ServiceNetworkVpcAssociationIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagAssociation, func(in *deleteIn) bool { return isSetStr(in.ServiceNetworkVpcAssociationIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteServiceNetworkVpcAssociation(ctx, in)
			},
		}),
	)
}
