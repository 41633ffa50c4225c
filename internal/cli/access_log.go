package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	flagAccessLogSubscription = "access-log-subscription"
	flagDestinationArn        = "destination-arn"
)

func accessLogSubscriptionCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateAccessLogSubscriptionInput
		getIn    = vpclattice.GetAccessLogSubscriptionInput
		listIn   = vpclattice.ListAccessLogSubscriptionsInput
		updateIn = vpclattice.UpdateAccessLogSubscriptionInput
		deleteIn = vpclattice.DeleteAccessLogSubscriptionInput
	)
	idFlag := func(fs *pflag.FlagSet) {
		fs.String(flagAccessLogSubscription, "", "access log subscription ID or ARN")
	}
	return nounCmd("access-log-subscription", []string{"als", "access-log-subscriptions"}, "Manage access log subscriptions",
		verb(verbSpec[createIn]{
			use:     "create",
			short:   "Create an access log subscription (CreateAccessLogSubscription)",
			example: "  trellis access-log-subscription create --resource orders --destination-arn arn:aws:logs:us-east-1:111122223333:log-group:lattice",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagResource, "", "service or service network name, ID or ARN")
				fs.String(flagDestinationArn, "", "ARN of the log destination")
				fs.String("service-network-log-type", "", enumHelp("log type for service networks", enumValues(types.ServiceNetworkLogType("").Values())))
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, flagResource, &in.ResourceIdentifier)
				setString(cmd, flagDestinationArn, &in.DestinationArn)
				setEnum(cmd, "service-network-log-type", &in.ServiceNetworkLogType)
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req(flagResource, func(in *createIn) bool { return isSetStr(in.ResourceIdentifier) }),
				req(flagDestinationArn, func(in *createIn) bool { return isSetStr(in.DestinationArn) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateAccessLogSubscription(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show an access log subscription (GetAccessLogSubscription)",
			idFlag: flagAccessLogSubscription,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagAccessLogSubscription, &in.AccessLogSubscriptionIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagAccessLogSubscription, func(in *getIn) bool { return isSetStr(in.AccessLogSubscriptionIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetAccessLogSubscription(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List the access log subscriptions of a resource (ListAccessLogSubscriptions)",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagResource, "", "service or service network name, ID or ARN")
			},
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagResource, &in.ResourceIdentifier)
				return nil
			},
			required: []required[listIn]{req(flagResource, func(in *listIn) bool { return isSetStr(in.ResourceIdentifier) })},
			list: cols("ID", "id", "RESOURCE", "resourceId", "LOG TYPE", "serviceNetworkLogType",
				"DESTINATION", "destinationArn", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListAccessLogSubscriptions(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListAccessLogSubscriptionsPaginator(c, in),
					func(o *vpclattice.ListAccessLogSubscriptionsOutput) []types.AccessLogSubscriptionSummary {
						return o.Items
					})
				return &vpclattice.ListAccessLogSubscriptionsOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:    "update",
			short:  "Change the destination of an access log subscription (UpdateAccessLogSubscription)",
			idFlag: flagAccessLogSubscription,
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.String(flagDestinationArn, "", "ARN of the new log destination")
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagAccessLogSubscription, &in.AccessLogSubscriptionIdentifier)
				setString(cmd, flagDestinationArn, &in.DestinationArn)
				return nil
			},
			required: []required[updateIn]{
				req(flagAccessLogSubscription, func(in *updateIn) bool { return isSetStr(in.AccessLogSubscriptionIdentifier) }),
				req(flagDestinationArn, func(in *updateIn) bool { return isSetStr(in.DestinationArn) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateAccessLogSubscription(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete an access log subscription (DeleteAccessLogSubscription)",
			idFlag: flagAccessLogSubscription,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagAccessLogSubscription, &in.AccessLogSubscriptionIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagAccessLogSubscription, func(in *deleteIn) bool { return isSetStr(in.AccessLogSubscriptionIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteAccessLogSubscription(ctx, in)
			},
		}),
	)
}
