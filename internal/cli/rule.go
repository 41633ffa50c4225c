package cli

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	flagRule                = "rule"
	flagForward             = "forward"
	flagFixedResponse       = "fixed-response"
	flagPathPrefix          = "path-prefix"
	flagPathExact           = "path-exact"
	flagCaseSensitive       = "case-sensitive"
	flagHeader              = "header"
	flagHeaderCaseSensitive = "header-case-sensitive"
	flagMethod              = "method"
	flagPriority            = "priority"
	flagRulePriority        = "rule-priority"
)

var matchFlags = []string{flagPathPrefix, flagPathExact, flagCaseSensitive, flagHeader, flagHeaderCaseSensitive, flagMethod}

func addMatchFlags(fs *pflag.FlagSet) {
	fs.String(flagPathPrefix, "", "match paths starting with this prefix")
	fs.String(flagPathExact, "", "match this exact path")
	fs.Bool(flagCaseSensitive, false, "make the path match case sensitive")
	fs.StringArray(flagHeader, nil, "match a header: NAME=[exact|prefix|contains:]VALUE (repeatable)")
	fs.Bool(flagHeaderCaseSensitive, false, "make the --header matches case sensitive")
	fs.String(flagMethod, "", "match this HTTP method, e.g. GET")
}

// applyMatch overlays the match flags onto dst (which may already hold an
// httpMatch from --input-json).
func applyMatch(cmd *cobra.Command, dst *types.RuleMatch) error {
	fs := cmd.Flags()
	changed := false
	for _, f := range matchFlags {
		changed = changed || fs.Changed(f)
	}
	if !changed {
		return nil
	}
	var hm types.HttpMatch
	if m, ok := (*dst).(*types.RuleMatchMemberHttpMatch); ok {
		hm = m.Value
	}
	if fs.Changed(flagPathPrefix) && fs.Changed(flagPathExact) {
		return usageErrorf("--%s and --%s are mutually exclusive", flagPathPrefix, flagPathExact)
	}
	if fs.Changed(flagPathPrefix) || fs.Changed(flagPathExact) {
		pm := types.PathMatch{}
		if hm.PathMatch != nil {
			pm = *hm.PathMatch
		}
		if fs.Changed(flagPathPrefix) {
			v, _ := fs.GetString(flagPathPrefix)
			pm.Match = &types.PathMatchTypeMemberPrefix{Value: v}
		} else {
			v, _ := fs.GetString(flagPathExact)
			pm.Match = &types.PathMatchTypeMemberExact{Value: v}
		}
		hm.PathMatch = &pm
	}
	if fs.Changed(flagCaseSensitive) {
		if hm.PathMatch == nil {
			return usageErrorf("--%s needs --%s or --%s", flagCaseSensitive, flagPathPrefix, flagPathExact)
		}
		pm := *hm.PathMatch
		setBool(cmd, flagCaseSensitive, &pm.CaseSensitive)
		hm.PathMatch = &pm
	}
	if fs.Changed(flagHeader) {
		var headers []types.HeaderMatch
		for _, h := range stringArray(cmd, flagHeader) {
			m, err := parseHeaderMatch(h)
			if err != nil {
				return usageErrorf("--%s: %v", flagHeader, err)
			}
			setBool(cmd, flagHeaderCaseSensitive, &m.CaseSensitive)
			headers = append(headers, m)
		}
		hm.HeaderMatches = headers
	} else if fs.Changed(flagHeaderCaseSensitive) {
		return usageErrorf("--%s needs --%s", flagHeaderCaseSensitive, flagHeader)
	}
	if fs.Changed(flagMethod) {
		v, _ := fs.GetString(flagMethod)
		hm.Method = ptr(strings.ToUpper(v))
	}
	*dst = &types.RuleMatchMemberHttpMatch{Value: hm}
	return nil
}

func ruleCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateRuleInput
		getIn    = vpclattice.GetRuleInput
		listIn   = vpclattice.ListRulesInput
		updateIn = vpclattice.UpdateRuleInput
		deleteIn = vpclattice.DeleteRuleInput
		batchIn  = vpclattice.BatchUpdateRuleInput
	)
	parentFlags := func(fs *pflag.FlagSet) {
		fs.String(flagService, "", "service name, ID or ARN")
		fs.String(flagListener, "", "listener name, ID or ARN")
	}
	idFlags := func(fs *pflag.FlagSet) {
		parentFlags(fs)
		fs.String(flagRule, "", "rule name, ID or ARN")
	}
	return nounCmd("rule", []string{"rules"}, "Manage listener rules",
		verb(verbSpec[createIn]{
			use:   "create",
			short: "Create a listener rule (CreateRule)",
			example: "  trellis rule create --service orders --listener web --name api --priority 10 \\\n" +
				"      --path-prefix /api --header 'x-env=exact:blue' --method GET --forward web-a=90,web-b=10\n" +
				"  trellis rule create --service S --listener L --input-json file://rule.json",
			flags: func(fs *pflag.FlagSet) {
				parentFlags(fs)
				fs.String("name", "", "name of the rule")
				fs.Int32(flagPriority, 0, "rule priority, 1-2000, unique within the listener (lower is evaluated first)")
				addMatchFlags(fs)
				addActionFlags(fs, flagForward, flagFixedResponse)
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				setString(cmd, "name", &in.Name)
				setInt32(cmd, flagPriority, &in.Priority)
				if err := applyMatch(cmd, &in.Match); err != nil {
					return err
				}
				if err := applyAction(cmd, flagForward, flagFixedResponse, &in.Action); err != nil {
					return err
				}
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{
				req(flagService, func(in *createIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *createIn) bool { return isSetStr(in.ListenerIdentifier) }),
				req("name", func(in *createIn) bool { return isSetStr(in.Name) }),
				req(flagPriority, func(in *createIn) bool { return in.Priority != nil }),
				req(flagPathPrefix+", --"+flagPathExact+", --"+flagHeader+" or --"+flagMethod, func(in *createIn) bool { return in.Match != nil }),
				req(flagForward+" or --"+flagFixedResponse, func(in *createIn) bool { return in.Action != nil }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateRule(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a listener rule (GetRule)",
			idFlag: flagRule,
			flags:  idFlags,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				setString(cmd, flagRule, &in.RuleIdentifier)
				return nil
			},
			required: []required[getIn]{
				req(flagService, func(in *getIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *getIn) bool { return isSetStr(in.ListenerIdentifier) }),
				req(flagRule, func(in *getIn) bool { return isSetStr(in.RuleIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetRule(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List the rules of a listener (ListRules)",
			flags: parentFlags,
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				return nil
			},
			required: []required[listIn]{
				req(flagService, func(in *listIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *listIn) bool { return isSetStr(in.ListenerIdentifier) }),
			},
			list: cols("ID", "id", "NAME", "name", "PRIORITY", "priority", "DEFAULT", "isDefault", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListRules(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListRulesPaginator(c, in),
					func(o *vpclattice.ListRulesOutput) []types.RuleSummary { return o.Items })
				return &vpclattice.ListRulesOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:     "update",
			short:   "Update a listener rule (UpdateRule)",
			idFlag:  flagRule,
			example: "  trellis rule update --service orders --listener web --rule api --priority 20 --forward web-a",
			flags: func(fs *pflag.FlagSet) {
				idFlags(fs)
				fs.Int32(flagPriority, 0, "rule priority, 1-2000, unique within the listener")
				addMatchFlags(fs)
				addActionFlags(fs, flagForward, flagFixedResponse)
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				setString(cmd, flagRule, &in.RuleIdentifier)
				setInt32(cmd, flagPriority, &in.Priority)
				if err := applyMatch(cmd, &in.Match); err != nil {
					return err
				}
				return applyAction(cmd, flagForward, flagFixedResponse, &in.Action)
			},
			required: []required[updateIn]{
				req(flagService, func(in *updateIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *updateIn) bool { return isSetStr(in.ListenerIdentifier) }),
				req(flagRule, func(in *updateIn) bool { return isSetStr(in.RuleIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateRule(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a listener rule (DeleteRule)",
			idFlag: flagRule,
			flags:  idFlags,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				setString(cmd, flagRule, &in.RuleIdentifier)
				return nil
			},
			required: []required[deleteIn]{
				req(flagService, func(in *deleteIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *deleteIn) bool { return isSetStr(in.ListenerIdentifier) }),
				req(flagRule, func(in *deleteIn) bool { return isSetStr(in.RuleIdentifier) }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteRule(ctx, in)
			},
		}),
		verb(verbSpec[batchIn]{
			use:   "batch-update",
			short: "Update several listener rules at once (BatchUpdateRule)",
			example: "  trellis rule batch-update --service orders --listener web --rule-priority api=20 --rule-priority admin=10\n" +
				"  trellis rule batch-update --service S --listener L --input-json '{\"rules\":[{\"ruleIdentifier\":\"rule-0123456789abcdef0\",\"priority\":5}]}'",
			flags: func(fs *pflag.FlagSet) {
				parentFlags(fs)
				fs.StringArray(flagRulePriority, nil, "set a rule's priority: RULE=PRIORITY where RULE is a rule name, ID or ARN and PRIORITY 1-2000 (repeatable)")
			},
			apply: func(cmd *cobra.Command, in *batchIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setString(cmd, flagListener, &in.ListenerIdentifier)
				for _, v := range stringArray(cmd, flagRulePriority) {
					id, p, ok := strings.Cut(v, "=")
					n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
					if !ok || id == "" || err != nil {
						return usageErrorf("--%s: invalid %q: want RULE=PRIORITY", flagRulePriority, v)
					}
					in.Rules = append(in.Rules, types.RuleUpdate{RuleIdentifier: ptr(id), Priority: ptr(int32(n))})
				}
				return nil
			},
			required: []required[batchIn]{
				req(flagService, func(in *batchIn) bool { return isSetStr(in.ServiceIdentifier) }),
				req(flagListener, func(in *batchIn) bool { return isSetStr(in.ListenerIdentifier) }),
				req(flagRulePriority+" (or \"rules\" in --input-json)", func(in *batchIn) bool { return len(in.Rules) > 0 }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *batchIn, _ bool) (any, error) {
				return c.BatchUpdateRule(ctx, in)
			},
		}),
	)
}
