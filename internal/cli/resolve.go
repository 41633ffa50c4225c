package cli

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/pflag"
)

// Name resolution: the API wants an ID or an ARN wherever it takes an
// identifier, but people remember names. Every flag listed in nameFlags may
// therefore also be given a name, which is replaced by the ID of the resource
// of that name (found by listing that kind of resource) just before the
// request is sent. Values read from --input-json are wire JSON and are left
// alone.

// nameKind is a kind of resource that can be named on the command line.
type nameKind struct {
	noun   string // for messages: "service network"
	prefix string // ID prefix, without the hyphen
	// parents are the input members naming the resources the kind is listed
	// under (listeners under a service, rules under a listener), outermost
	// first.
	parents []parentRef
	list    func(ctx context.Context, c *vpclattice.Client, parents []string) ([]named, error)
}

type parentRef struct{ field, flag, noun string }

// named is one item of a list: its ID and name.
type named struct{ id, name string }

var (
	serviceNetworkKind = &nameKind{noun: "service network", prefix: "sn",
		list: func(ctx context.Context, c *vpclattice.Client, _ []string) ([]named, error) {
			return listNamed(ctx, vpclattice.NewListServiceNetworksPaginator(c, &vpclattice.ListServiceNetworksInput{}),
				func(o *vpclattice.ListServiceNetworksOutput) []types.ServiceNetworkSummary { return o.Items },
				func(s types.ServiceNetworkSummary) (*string, *string) { return s.Id, s.Name })
		}}
	serviceKind = &nameKind{noun: "service", prefix: "svc",
		list: func(ctx context.Context, c *vpclattice.Client, _ []string) ([]named, error) {
			return listNamed(ctx, vpclattice.NewListServicesPaginator(c, &vpclattice.ListServicesInput{}),
				func(o *vpclattice.ListServicesOutput) []types.ServiceSummary { return o.Items },
				func(s types.ServiceSummary) (*string, *string) { return s.Id, s.Name })
		}}
	targetGroupKind = &nameKind{noun: "target group", prefix: "tg",
		list: func(ctx context.Context, c *vpclattice.Client, _ []string) ([]named, error) {
			return listNamed(ctx, vpclattice.NewListTargetGroupsPaginator(c, &vpclattice.ListTargetGroupsInput{}),
				func(o *vpclattice.ListTargetGroupsOutput) []types.TargetGroupSummary { return o.Items },
				func(s types.TargetGroupSummary) (*string, *string) { return s.Id, s.Name })
		}}
	listenerKind = &nameKind{noun: "listener", prefix: "listener",
		parents: []parentRef{{"ServiceIdentifier", flagService, "service"}},
		list: func(ctx context.Context, c *vpclattice.Client, p []string) ([]named, error) {
			in := &vpclattice.ListListenersInput{ServiceIdentifier: &p[0]}
			return listNamed(ctx, vpclattice.NewListListenersPaginator(c, in),
				func(o *vpclattice.ListListenersOutput) []types.ListenerSummary { return o.Items },
				func(s types.ListenerSummary) (*string, *string) { return s.Id, s.Name })
		}}
	ruleKind = &nameKind{noun: "rule", prefix: "rule",
		parents: []parentRef{{"ServiceIdentifier", flagService, "service"}, {"ListenerIdentifier", flagListener, "listener"}},
		list: func(ctx context.Context, c *vpclattice.Client, p []string) ([]named, error) {
			in := &vpclattice.ListRulesInput{ServiceIdentifier: &p[0], ListenerIdentifier: &p[1]}
			return listNamed(ctx, vpclattice.NewListRulesPaginator(c, in),
				func(o *vpclattice.ListRulesOutput) []types.RuleSummary { return o.Items },
				func(s types.RuleSummary) (*string, *string) { return s.Id, s.Name })
		}}
)

// nameFlag is a flag whose value(s) may be names. When the flag was given,
// the input member field holds its value: the member itself when it is a
// *string, otherwise every *string named member found inside it.
type nameFlag struct {
	flag, field, member string
	kinds               []*nameKind // looked up in this order
}

// nameFlags is resolved in order: parents (services, listeners) come before
// the kinds listed under them. (--rule-priority adds to the "rules" of
// --input-json, so when it is given those entries are resolved too.)
var nameFlags = []nameFlag{
	{flag: flagServiceNetwork, field: "ServiceNetworkIdentifier", kinds: []*nameKind{serviceNetworkKind}},
	{flag: flagService, field: "ServiceIdentifier", kinds: []*nameKind{serviceKind}},
	{flag: flagResource, field: "ResourceIdentifier", kinds: []*nameKind{serviceKind, serviceNetworkKind}},
	{flag: flagTargetGroup, field: "TargetGroupIdentifier", kinds: []*nameKind{targetGroupKind}},
	{flag: flagDefaultForward, field: "DefaultAction", member: "TargetGroupIdentifier", kinds: []*nameKind{targetGroupKind}},
	{flag: flagForward, field: "Action", member: "TargetGroupIdentifier", kinds: []*nameKind{targetGroupKind}},
	{flag: flagListener, field: "ListenerIdentifier", kinds: []*nameKind{listenerKind}},
	{flag: flagRule, field: "RuleIdentifier", kinds: []*nameKind{ruleKind}},
	{flag: flagRulePriority, field: "Rules", member: "RuleIdentifier", kinds: []*nameKind{ruleKind}},
	{flag: flagResourceGateway, field: "ResourceGatewayIdentifier", kinds: []*nameKind{resourceGatewayKind}},
	{flag: flagResourceConfiguration, field: "ResourceConfigurationIdentifier", kinds: []*nameKind{resourceConfigurationKind}},
	{flag: flagGroup, field: "ResourceConfigurationGroupIdentifier", kinds: []*nameKind{resourceConfigurationKind}},
	{flag: flagDomainVerification, field: "DomainVerificationIdentifier", kinds: []*nameKind{domainVerificationKind}},
}

// looksLikeID reports whether s is prefix-<17 characters of [0-9a-z]>, the
// form of Lattice IDs.
func looksLikeID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"-")
	if !ok || len(rest) != 17 {
		return false
	}
	for _, c := range []byte(rest) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// isIdentifier reports whether s can be sent as is for one of kinds: an ARN
// or a well-formed ID.
func isIdentifier(s string, kinds []*nameKind) bool {
	if strings.HasPrefix(s, "arn:") {
		return true
	}
	for _, k := range kinds {
		if looksLikeID(k.prefix, s) {
			return true
		}
	}
	return false
}

// resolveNames replaces the names given through nameFlags in *in (a pointer to
// an SDK input struct) by IDs. Each list is fetched at most once.
func resolveNames(ctx context.Context, c *vpclattice.Client, fs *pflag.FlagSet, in any) error {
	st := reflect.ValueOf(in).Elem()
	lists := map[string][]named{}
	for _, nf := range nameFlags {
		if !fs.Changed(nf.flag) {
			continue
		}
		f := st.FieldByName(nf.field)
		if !f.IsValid() {
			return fmt.Errorf("internal error: --%s has no input member %s", nf.flag, nf.field)
		}
		var idents []*string
		if nf.member == "" {
			if p, ok := f.Interface().(*string); ok && p != nil {
				idents = []*string{p}
			}
		} else {
			idents = members(f, nf.member)
		}
		for _, p := range idents {
			if *p == "" || isIdentifier(*p, nf.kinds) {
				continue
			}
			id, err := lookupName(ctx, c, st, lists, nf.kinds, *p)
			if err != nil {
				return err
			}
			*p = id
		}
	}
	return nil
}

// lookupName finds the ID of the one resource of kinds named name.
func lookupName(ctx context.Context, c *vpclattice.Client, in reflect.Value, lists map[string][]named, kinds []*nameKind, name string) (string, error) {
	type match struct{ noun, id string }
	var found []match
	var nouns []string
	where := ""
	for _, k := range kinds {
		nouns = append(nouns, k.noun)
		parents := make([]string, len(k.parents))
		for i, p := range k.parents {
			v, _ := in.FieldByName(p.field).Interface().(*string)
			if !isSetStr(v) {
				return "", fmt.Errorf("cannot look up %s %q by name without --%s", k.noun, name, p.flag)
			}
			parents[i] = *v
			where = fmt.Sprintf(" in %s %s", p.noun, *v)
		}
		key := k.noun + "\x00" + strings.Join(parents, "\x00")
		items, ok := lists[key]
		if !ok {
			var err error
			if items, err = k.list(ctx, c, parents); err != nil {
				return "", err
			}
			lists[key] = items
		}
		for _, it := range items {
			if it.name == name {
				found = append(found, match{k.noun, it.id})
			}
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no %s named %q%s", strings.Join(nouns, " or "), name, where)
	case 1:
		return found[0].id, nil
	}
	all := make([]string, len(found))
	for i, m := range found {
		all[i] = m.noun + " " + m.id
	}
	return "", fmt.Errorf("%q names more than one resource (%s): give the ID or ARN instead", name, strings.Join(all, ", "))
}

// members returns the non-nil *string struct members called name found in v,
// through pointers, interfaces, structs and slices.
func members(v reflect.Value, name string) []*string {
	var out []*string
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = members(v.Elem(), name)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			out = append(out, members(v.Index(i), name)...)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			switch {
			case !f.IsExported():
			case f.Name == name:
				if p, ok := v.Field(i).Interface().(*string); ok && p != nil {
					out = append(out, p)
				}
			default:
				out = append(out, members(v.Field(i), name)...)
			}
		}
	}
	return out
}

// listNamed follows a list paginator to the end and returns every item's ID
// and name.
func listNamed[O, T any](ctx context.Context, p pager[O], items func(*O) []T, idName func(T) (*string, *string)) ([]named, error) {
	all, err := collect(ctx, p, items)
	if err != nil {
		return nil, err
	}
	out := make([]named, len(all))
	for i, it := range all {
		id, name := idName(it)
		out[i] = named{id: deref(id), name: deref(name)}
	}
	return out, nil
}
