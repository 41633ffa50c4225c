package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	flagTargetGroup = "target-group"
	flagTarget      = "target"
	flagVPC         = "vpc"
)

var healthCheckFlags = []string{
	"health-check-enabled", "health-check-path", "health-check-port", "health-check-protocol",
	"health-check-protocol-version", "health-check-interval", "health-check-timeout",
	"healthy-threshold", "unhealthy-threshold", "matcher",
}

func addHealthCheckFlags(fs *pflag.FlagSet) {
	fs.Bool("health-check-enabled", true, "enable health checks (use --health-check-enabled=false to disable)")
	fs.String("health-check-path", "", "health check path, e.g. /healthz")
	fs.Int32("health-check-port", 0, "health check port (defaults to the target port)")
	fs.String("health-check-protocol", "", enumHelp("health check protocol", enumValues(types.TargetGroupProtocol("").Values())))
	fs.String("health-check-protocol-version", "", enumHelp("health check protocol version", enumValues(types.HealthCheckProtocolVersion("").Values())))
	fs.Int32("health-check-interval", 0, "seconds between health checks")
	fs.Int32("health-check-timeout", 0, "seconds to wait for a health check response")
	fs.Int32("healthy-threshold", 0, "consecutive successes before a target is healthy")
	fs.Int32("unhealthy-threshold", 0, "consecutive failures before a target is unhealthy")
	fs.String("matcher", "", "HTTP codes meaning healthy, e.g. 200 or 200-299")
}

// applyHealthCheck overlays the health check flags onto *dst, allocating it
// when one of them was given.
func applyHealthCheck(cmd *cobra.Command, dst **types.HealthCheckConfig) {
	changed := false
	for _, f := range healthCheckFlags {
		changed = changed || cmd.Flags().Changed(f)
	}
	if !changed {
		return
	}
	if *dst == nil {
		*dst = &types.HealthCheckConfig{}
	}
	hc := *dst
	setBool(cmd, "health-check-enabled", &hc.Enabled)
	setString(cmd, "health-check-path", &hc.Path)
	setInt32(cmd, "health-check-port", &hc.Port)
	setEnum(cmd, "health-check-protocol", &hc.Protocol)
	setEnum(cmd, "health-check-protocol-version", &hc.ProtocolVersion)
	setInt32(cmd, "health-check-interval", &hc.HealthCheckIntervalSeconds)
	setInt32(cmd, "health-check-timeout", &hc.HealthCheckTimeoutSeconds)
	setInt32(cmd, "healthy-threshold", &hc.HealthyThresholdCount)
	setInt32(cmd, "unhealthy-threshold", &hc.UnhealthyThresholdCount)
	if cmd.Flags().Changed("matcher") {
		v, _ := cmd.Flags().GetString("matcher")
		hc.Matcher = &types.MatcherMemberHttpCode{Value: v}
	}
}

var configFlags = []string{"port", "protocol", "protocol-version", flagVPC, "ip-address-type", "lambda-event-structure-version"}

func targetGroupCmd() *cobra.Command {
	type (
		createIn     = vpclattice.CreateTargetGroupInput
		getIn        = vpclattice.GetTargetGroupInput
		listIn       = vpclattice.ListTargetGroupsInput
		updateIn     = vpclattice.UpdateTargetGroupInput
		deleteIn     = vpclattice.DeleteTargetGroupInput
		registerIn   = vpclattice.RegisterTargetsInput
		deregisterIn = vpclattice.DeregisterTargetsInput
		targetsIn    = vpclattice.ListTargetsInput
	)
	idFlag := func(fs *pflag.FlagSet) { fs.String(flagTargetGroup, "", "target group name, ID or ARN") }
	typeHelp := enumHelp("target group type", enumValues(types.TargetGroupType("").Values()))
	return nounCmd("target-group", []string{"tg", "target-groups"}, "Manage target groups and their targets",
		verb(verbSpec[createIn]{
			use:   "create",
			short: "Create a target group (CreateTargetGroup)",
			example: "  trellis target-group create --name web --type IP --port 8080 --protocol HTTP --vpc vpc-0123 \\\n" +
				"      --health-check-path /healthz --health-check-interval 10 --matcher 200-299\n" +
				"  trellis target-group create --name fn --type LAMBDA --lambda-event-structure-version V2",
			flags: func(fs *pflag.FlagSet) {
				fs.String("name", "", "name of the target group")
				fs.String("type", "", typeHelp)
				fs.Int32("port", 0, "port the targets listen on")
				fs.String("protocol", "", enumHelp("protocol", enumValues(types.TargetGroupProtocol("").Values())))
				fs.String("protocol-version", "", enumHelp("protocol version", enumValues(types.TargetGroupProtocolVersion("").Values())))
				fs.String(flagVPC, "", "VPC identifier")
				fs.String("ip-address-type", "", enumHelp("IP address type", enumValues(types.IpAddressType("").Values())))
				fs.String("lambda-event-structure-version", "", enumHelp("Lambda event structure version", enumValues(types.LambdaEventStructureVersion("").Values())))
				addHealthCheckFlags(fs)
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, "name", &in.Name)
				setEnum(cmd, "type", &in.Type)
				changed := false
				for _, f := range append(configFlags, healthCheckFlags...) {
					changed = changed || cmd.Flags().Changed(f)
				}
				if changed {
					if in.Config == nil {
						in.Config = &types.TargetGroupConfig{}
					}
					cfg := in.Config
					setInt32(cmd, "port", &cfg.Port)
					setEnum(cmd, "protocol", &cfg.Protocol)
					setEnum(cmd, "protocol-version", &cfg.ProtocolVersion)
					setString(cmd, flagVPC, &cfg.VpcIdentifier)
					setEnum(cmd, "ip-address-type", &cfg.IpAddressType)
					setEnum(cmd, "lambda-event-structure-version", &cfg.LambdaEventStructureVersion)
					applyHealthCheck(cmd, &cfg.HealthCheck)
				}
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req("name", func(in *createIn) bool { return isSetStr(in.Name) }),
				req("type", func(in *createIn) bool { return in.Type != "" }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateTargetGroup(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a target group (GetTargetGroup)",
			idFlag: flagTargetGroup,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagTargetGroup, &in.TargetGroupIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagTargetGroup, func(in *getIn) bool { return isSetStr(in.TargetGroupIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetTargetGroup(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List target groups (ListTargetGroups)",
			flags: func(fs *pflag.FlagSet) {
				fs.String(flagVPC, "", "only target groups in this VPC")
				fs.String("type", "", "only target groups of this "+typeHelp)
			},
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagVPC, &in.VpcIdentifier)
				setEnum(cmd, "type", &in.TargetGroupType)
				return nil
			},
			list: cols("ID", "id", "NAME", "name", "TYPE", "type", "PROTOCOL", "protocol", "PORT", "port",
				"STATUS", "status", "VPC", "vpcIdentifier", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListTargetGroups(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListTargetGroupsPaginator(c, in),
					func(o *vpclattice.ListTargetGroupsOutput) []types.TargetGroupSummary { return o.Items })
				return &vpclattice.ListTargetGroupsOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:     "update",
			short:   "Update a target group's health check (UpdateTargetGroup)",
			idFlag:  flagTargetGroup,
			example: "  trellis target-group update web-a --health-check-path /ready --matcher 200",
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				addHealthCheckFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagTargetGroup, &in.TargetGroupIdentifier)
				applyHealthCheck(cmd, &in.HealthCheck)
				return nil
			},
			required: []required[updateIn]{
				req(flagTargetGroup, func(in *updateIn) bool { return isSetStr(in.TargetGroupIdentifier) }),
				req("health-check-* or --matcher", func(in *updateIn) bool { return in.HealthCheck != nil }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateTargetGroup(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a target group (DeleteTargetGroup)",
			idFlag: flagTargetGroup,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagTargetGroup, &in.TargetGroupIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagTargetGroup, func(in *deleteIn) bool { return isSetStr(in.TargetGroupIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteTargetGroup(ctx, in)
			},
		}),
		verb(verbSpec[registerIn]{
			use:     "register-targets",
			short:   "Register targets with a target group (RegisterTargets)",
			example: "  trellis target-group register-targets --target-group web-a --target 127.0.0.1:8080 --target 127.0.0.2",
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.StringArray(flagTarget, nil, "target ID[:PORT], [IPV6]:PORT or id=ID,port=PORT (repeatable)")
			},
			apply: func(cmd *cobra.Command, in *registerIn) error {
				setString(cmd, flagTargetGroup, &in.TargetGroupIdentifier)
				return applyTargets(cmd, &in.Targets)
			},
			required: []required[registerIn]{
				req(flagTargetGroup, func(in *registerIn) bool { return isSetStr(in.TargetGroupIdentifier) }),
				req(flagTarget, func(in *registerIn) bool { return len(in.Targets) > 0 }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *registerIn, _ bool) (any, error) {
				return c.RegisterTargets(ctx, in)
			},
		}),
		verb(verbSpec[deregisterIn]{
			use:     "deregister-targets",
			short:   "Deregister targets from a target group (DeregisterTargets)",
			example: "  trellis target-group deregister-targets --target-group web-a --target 127.0.0.1:8080",
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.StringArray(flagTarget, nil, "target ID[:PORT], [IPV6]:PORT or id=ID,port=PORT (repeatable)")
			},
			apply: func(cmd *cobra.Command, in *deregisterIn) error {
				setString(cmd, flagTargetGroup, &in.TargetGroupIdentifier)
				return applyTargets(cmd, &in.Targets)
			},
			required: []required[deregisterIn]{
				req(flagTargetGroup, func(in *deregisterIn) bool { return isSetStr(in.TargetGroupIdentifier) }),
				req(flagTarget, func(in *deregisterIn) bool { return len(in.Targets) > 0 }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *deregisterIn, _ bool) (any, error) {
				return c.DeregisterTargets(ctx, in)
			},
		}),
		verb(verbSpec[targetsIn]{
			use:    "list-targets",
			short:  "List the targets of a target group (ListTargets)",
			idFlag: flagTargetGroup,
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.StringArray(flagTarget, nil, "only these targets: ID[:PORT] (repeatable)")
			},
			apply: func(cmd *cobra.Command, in *targetsIn) error {
				setString(cmd, flagTargetGroup, &in.TargetGroupIdentifier)
				return applyTargets(cmd, &in.Targets)
			},
			required: []required[targetsIn]{req(flagTargetGroup, func(in *targetsIn) bool { return isSetStr(in.TargetGroupIdentifier) })},
			list:     cols("ID", "id", "PORT", "port", "STATUS", "status", "REASON", "reasonCode"),
			call: func(ctx context.Context, c *vpclattice.Client, in *targetsIn, all bool) (any, error) {
				if !all {
					return c.ListTargets(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListTargetsPaginator(c, in),
					func(o *vpclattice.ListTargetsOutput) []types.TargetSummary { return o.Items })
				return &vpclattice.ListTargetsOutput{Items: items}, err
			},
		}),
	)
}

func applyTargets(cmd *cobra.Command, dst *[]types.Target) error {
	if !cmd.Flags().Changed(flagTarget) {
		return nil
	}
	ts, err := parseTargets(stringArray(cmd, flagTarget))
	if err != nil {
		return usageErrorf("--%s: %v", flagTarget, err)
	}
	*dst = ts
	return nil
}
