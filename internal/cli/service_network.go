package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const flagServiceNetwork = "service-network"

var authTypeHelp = enumHelp("auth type", enumValues(types.AuthType("").Values()))

func serviceNetworkCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateServiceNetworkInput
		getIn    = vpclattice.GetServiceNetworkInput
		listIn   = vpclattice.ListServiceNetworksInput
		updateIn = vpclattice.UpdateServiceNetworkInput
		deleteIn = vpclattice.DeleteServiceNetworkInput
	)
	idFlag := func(fs *pflag.FlagSet) {
		fs.String(flagServiceNetwork, "", "service network name, ID or ARN")
	}
	return nounCmd("service-network", []string{"sn", "service-networks"}, "Manage service networks",
		verb(verbSpec[createIn]{
			use:     "create",
			short:   "Create a service network (CreateServiceNetwork)",
			example: "  trellis service-network create --name prod --auth-type AWS_IAM --tag team=core",
			flags: func(fs *pflag.FlagSet) {
				fs.String("name", "", "name of the service network")
				fs.String("auth-type", "", authTypeHelp)
				fs.Bool("sharing-enabled", false, "allow sharing the service network (sharingConfig.enabled)")
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, "name", &in.Name)
				setEnum(cmd, "auth-type", &in.AuthType)
				if cmd.Flags().Changed("sharing-enabled") {
					if in.SharingConfig == nil {
						in.SharingConfig = &types.SharingConfig{}
					}
					setBool(cmd, "sharing-enabled", &in.SharingConfig.Enabled)
				}
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{req("name", func(in *createIn) bool { return isSetStr(in.Name) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateServiceNetwork(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a service network (GetServiceNetwork)",
			idFlag: flagServiceNetwork,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagServiceNetwork, func(in *getIn) bool { return isSetStr(in.ServiceNetworkIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetServiceNetwork(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List service networks (ListServiceNetworks)",
			list: cols("ID", "id", "NAME", "name", "SERVICES", "numberOfAssociatedServices",
				"VPCS", "numberOfAssociatedVPCs", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListServiceNetworks(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListServiceNetworksPaginator(c, in),
					func(o *vpclattice.ListServiceNetworksOutput) []types.ServiceNetworkSummary { return o.Items })
				return &vpclattice.ListServiceNetworksOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:    "update",
			short:  "Update a service network (UpdateServiceNetwork)",
			idFlag: flagServiceNetwork,
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.String("auth-type", "", authTypeHelp)
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				setEnum(cmd, "auth-type", &in.AuthType)
				return nil
			},
			required: []required[updateIn]{
				req(flagServiceNetwork, func(in *updateIn) bool { return isSetStr(in.ServiceNetworkIdentifier) }),
				req("auth-type", func(in *updateIn) bool { return in.AuthType != "" }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateServiceNetwork(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a service network (DeleteServiceNetwork)",
			idFlag: flagServiceNetwork,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagServiceNetwork, &in.ServiceNetworkIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagServiceNetwork, func(in *deleteIn) bool { return isSetStr(in.ServiceNetworkIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteServiceNetwork(ctx, in)
			},
		}),
	)
}
