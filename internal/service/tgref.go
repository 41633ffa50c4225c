package service

import (
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// Target groups are shared by reference: a rule (default rules included)
// whose action forwards to a target group writes one key
// ref/tg/<tg>/<svc>/<rule>. These keys answer "which services use this
// target group" (serviceArns, UNUSED status), guard DeleteTargetGroup, and
// enforce that a target group serves listeners of one service only.

func tgRefKey(tgID, svcID, ruleID string) string {
	return pfxTGRef + tgID + "/" + svcID + "/" + ruleID
}

// svcRefKey is tgRefKey's reverse, ref/svc/<svc>/<tg>/<rule>: the target
// groups a service uses, without scanning every reference.
func svcRefKey(svcID, tgID, ruleID string) string {
	return pfxSvcTGRef + svcID + "/" + tgID + "/" + ruleID
}

// tgServices returns the IDs of the services whose rules forward to tgID.
func tgServices(tx store.ReadTx, tgID string) ([]string, error) {
	var out []string
	err := tx.Scan(pfxTGRef+tgID+"/", "", func(k string, _ []byte) (bool, error) {
		rest := strings.TrimPrefix(k, pfxTGRef+tgID+"/")
		svc, _, _ := strings.Cut(rest, "/")
		if len(out) == 0 || out[len(out)-1] != svc {
			out = append(out, svc)
		}
		return true, nil
	})
	return out, err
}

// resolveAction checks a rule action against the store and returns it with
// target group identifiers normalised to IDs and omitted weights set to
// model.DefaultWeight (100, what the AWS CLI guide shows and Terraform's
// provider sends for a group without a weight; stored, so it is echoed):
// every target group exists, belongs to the caller, is not used by another
// service, and suits the listener's protocol.
func (s *Service) resolveAction(tx store.ReadTx, c model.Caller, field, svcID, listenerProtocol string, a model.RuleAction) (model.RuleAction, error) {
	if a.Forward == nil {
		return a, nil
	}
	out := model.RuleAction{Forward: &model.ForwardAction{}}
	for i, wtg := range a.Forward.TargetGroups {
		f := field + ".forward.targetGroups[" + strconv.Itoa(i) + "].targetGroupIdentifier"
		tg, err := s.loadTargetGroupField(tx, c, f, wtg.TargetGroupIdentifier)
		if err != nil {
			return model.RuleAction{}, err
		}
		users, err := tgServices(tx, tg.ID)
		if err != nil {
			return model.RuleAction{}, err
		}
		for _, u := range users {
			if u != svcID {
				return model.RuleAction{}, model.Conflict(model.TypeTargetGroup, tg.ID,
					"target group %s is already used by service %s; a target group can serve one service only", tg.ID, u)
			}
		}
		if err := checkListenerTargetGroup(f, listenerProtocol, tg); err != nil {
			return model.RuleAction{}, err
		}
		w := wtg.Weight
		if w == nil {
			w = intPtr(model.DefaultWeight)
		}
		out.Forward.TargetGroups = append(out.Forward.TargetGroups,
			model.WeightedTargetGroup{TargetGroupIdentifier: tg.ID, Weight: w})
	}
	return out, nil
}

// checkListenerTargetGroup enforces the protocol pairings of reference §5–6:
// TLS_PASSTHROUGH listeners forward only to TCP target groups, HTTP(S)
// listeners never do.
func checkListenerTargetGroup(field, listenerProtocol string, tg *model.TargetGroup) error {
	tcp := tg.Config != nil && tg.Config.Protocol == model.ProtocolTCP
	if listenerProtocol == model.ProtocolTLSPassthrough && !tcp {
		return model.Invalid(field, "a TLS_PASSTHROUGH listener can forward only to TCP target groups; %s is not one", tg.ID)
	}
	if listenerProtocol != model.ProtocolTLSPassthrough && tcp {
		return model.Invalid(field, "TCP target group %s can be used only by TLS_PASSTHROUGH listeners", tg.ID)
	}
	return nil
}

// setRuleRefs replaces the target group references of one rule.
func setRuleRefs(tx store.Tx, svcID, ruleID string, old, cur *model.RuleAction) error {
	if old != nil && old.Forward != nil {
		for _, w := range old.Forward.TargetGroups {
			if err := tx.Delete(tgRefKey(w.TargetGroupIdentifier, svcID, ruleID)); err != nil {
				return err
			}
			if err := tx.Delete(svcRefKey(svcID, w.TargetGroupIdentifier, ruleID)); err != nil {
				return err
			}
		}
	}
	if cur != nil && cur.Forward != nil {
		for _, w := range cur.Forward.TargetGroups {
			if err := tx.Put(tgRefKey(w.TargetGroupIdentifier, svcID, ruleID), nil); err != nil {
				return err
			}
			if err := tx.Put(svcRefKey(svcID, w.TargetGroupIdentifier, ruleID), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// serviceTargetGroupCount counts distinct target groups referenced by a
// service's rules, for the target-groups-per-service quota.
func serviceTargetGroupCount(tx store.ReadTx, svcID string, extra []string) (int, error) {
	seen := map[string]bool{}
	for _, id := range extra {
		seen[id] = true
	}
	prefix := pfxSvcTGRef + svcID + "/"
	err := tx.Scan(prefix, "", func(k string, _ []byte) (bool, error) {
		tg, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), "/")
		seen[tg] = true
		return true, nil
	})
	return len(seen), err
}

func (s *Service) loadTargetGroupField(tx store.ReadTx, c model.Caller, field, ident string) (*model.TargetGroup, error) {
	return loadOwned[model.TargetGroup](tx, c, arn.TargetGroup, pfxTargetGroup, model.TypeTargetGroup, field, ident)
}
