package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	flagListener             = "listener"
	flagDefaultForward       = "default-forward"
	flagDefaultFixedResponse = "default-fixed-response"
)

// addActionFlags defines a forward flag and a fixed-response flag.
func addActionFlags(fs *pflag.FlagSet, forward, fixed string) {
	fs.StringArray(forward, nil, "forward to target groups: TG[=WEIGHT],... where TG is a target group name, ID or ARN and WEIGHT 0-999 (default 100) (repeatable)")
	fs.String(fixed, "", "respond with this HTTP status code, e.g. 404")
}

// applyAction builds a rule action from the forward/fixed-response flags, when
// one of them was given.
func applyAction(cmd *cobra.Command, forward, fixed string, dst *types.RuleAction) error {
	fs := cmd.Flags()
	switch {
	case fs.Changed(forward) && fs.Changed(fixed):
		return usageErrorf("--%s and --%s are mutually exclusive", forward, fixed)
	case fs.Changed(forward):
		tgs, err := parseWeightedTargetGroups(stringArray(cmd, forward))
		if err != nil {
			return usageErrorf("--%s: %v", forward, err)
		}
		*dst = &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: tgs}}
	case fs.Changed(fixed):
		v, _ := fs.GetString(fixed)
		code, err := parseStatusCode(v)
		if err != nil {
			return usageErrorf("--%s: %v", fixed, err)
		}
		*dst = &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: ptr(code)}}
	}
	return nil
}

func listenerCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateListenerInput
		getIn    = vpclattice.GetListenerInput
		listIn   = vpclattice.ListListenersInput
		updateIn = vpclattice.UpdateListenerInput
		deleteIn = vpclattice.DeleteListenerInput
	)
	serviceFlag := func(fs *pflag.FlagSet) { fs.String(flagService, "", "service name, ID or ARN") }
	idFlags := func(fs *pflag.FlagSet) {
		serviceFlag(fs)
		fs.String(flagListener, "", "listener name, ID or ARN")
	}
	protocolHelp := enumHelp("listener protocol", enumValues(types.ListenerProtocol("").Values()))
	return nounCmd("listener", []string{"listeners"}, "Manage listeners of a service",
		verb(verbSpec[createIn]{
			use:   "create",
			short: "Create a listener (CreateListener)",
			example: "  trellis listener create --service orders --name web --protocol HTTP --port 80 --default-forward web-a=90,web-b=10\n" +
				"  trellis listener create --service svc-0123456789abcdef0 --name web --protocol HTTP --default-fixed-response 404",
			flags: func(fs *pflag.FlagSet) {
				serviceFlag(fs)
				fs.String("name", "", "name of the listener")
				fs.String("protocol", "", protocolHelp)
				fs.Int32("port", 0, "listener port (defaults by protocol)")
				addActionFlags(fs, flagDefaultForward, flagDefaultFixedResponse)
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, "name", &in.Name)
				setEnum(cmd, "protocol", &in.Protocol)
				setInt32(cmd, "port", &in.Port)
				if err := applyAction(cmd, flagDefaultForward, flagDefaultFixedResponse, &in.DefaultAction); err != nil {
					return err
				}
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req(flagService, func(in *createIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req("name", func(in *createIn) bool { return isSetStr(in.Name) }),
				req("protocol", func(in *createIn) bool { return in.Protocol != "" }),
				req(flagDefaultForward+" or --"+flagDefaultFixedResponse, func(in *createIn) bool { return in.DefaultAction != nil }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateListener(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a listener (GetListener)",
			idFlag: flagListener,
			flags:  idFlags,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				return nil
			},
			required: []required[getIn]{
				req(flagService, func(in *getIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *getIn) bool { return isSetStr(in.ListenerIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetListener(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List the listeners of a service (ListListeners)",
			flags: serviceFlag,
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				return nil
			},
			required: []required[listIn]{req(flagService, func(in *listIn) bool { return isSetStr(in.ServiceIdentifier) })},
			list:     cols("ID", "id", "NAME", "name", "PROTOCOL", "protocol", "PORT", "port", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListListeners(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListListenersPaginator(c, in),
					func(o *vpclattice.ListListenersOutput) []types.ListenerSummary { return o.Items })
				return &vpclattice.ListListenersOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:    "update",
			short:  "Update a listener's default action (UpdateListener)",
			idFlag: flagListener,
			flags: func(fs *pflag.FlagSet) {
				idFlags(fs)
				addActionFlags(fs, flagDefaultForward, flagDefaultFixedResponse)
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				return applyAction(cmd, flagDefaultForward, flagDefaultFixedResponse, &in.DefaultAction)
			},
			required: []required[updateIn]{
				req(flagService, func(in *updateIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *updateIn) bool { return isSetStr(in.ListenerIdentifier) }),
				req(flagDefaultForward+" or --"+flagDefaultFixedResponse, func(in *updateIn) bool { return in.DefaultAction != nil }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateListener(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a listener (DeleteListener)",
			idFlag: flagListener,
			flags:  idFlags,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				return nil
			},
			required: []required[deleteIn]{
				req(flagService, func(in *deleteIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *deleteIn) bool { return isSetStr(in.ListenerIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteListener(ctx, in)
			},
		}),
	)
}
