package service

import (
	"context"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// Listeners live at lst/<svc>/<listener>; their rules at
// rule/<listener>/<rule> (rule.go). Creating a listener creates its default
// rule, which carries the listener's default action: the listener's
// DefaultAction and the default rule's Action are always equal, and the
// default rule is what writes the target group references of the default
// action (tgref.go).

// DefaultRuleName is the name of every listener's default rule. Lattice does
// not document the default rule's name; Trellis uses this one. Because rule
// names are unique within a listener, no custom rule can be named "default".
const DefaultRuleName = "default"

func listenerStoreKey(svcID, listenerID string) string {
	return pfxListener + svcID + "/" + listenerID
}

// listenerARN builds the nested ARN service/<svc>/listener/<listener>.
func (s *Service) listenerARN(account, svcID, listenerID string) string {
	return s.arnOf(account, arn.Service.ResourceType+"/"+svcID+"/"+arn.Listener.ResourceType+"/"+listenerID)
}

// checkIdentifier records a malformed ID-or-ARN identifier in v, which
// then reports it alone, before any other member of the request.
func checkIdentifier(v *model.Validator, kind arn.Kind, field, ident string) {
	_, err := resolve(kind, field, ident)
	v.Identifier(err)
}

func checkListenerProtocol(v *model.Validator, field, p string) {
	switch p {
	case model.ProtocolHTTP, model.ProtocolHTTPS, model.ProtocolTLSPassthrough:
	case "":
		v.Addf(field, "%s is required", field)
	default:
		v.Addf(field, "%s must be one of HTTP, HTTPS, TLS_PASSTHROUGH", field)
	}
}

func defaultListenerPort(protocol string) int {
	if protocol == model.ProtocolHTTP {
		return 80
	}
	return 443 // HTTPS, TLS_PASSTHROUGH
}

// checkPassthroughAction enforces what resolveAction does not: a
// TLS_PASSTHROUGH listener's action must forward (to TCP target groups,
// which resolveAction checks); it cannot answer with a fixed response.
func checkPassthroughAction(field, protocol string, a *model.RuleAction) error {
	if protocol == model.ProtocolTLSPassthrough && a != nil && a.Forward == nil {
		return model.Invalid(field, "the action of a TLS_PASSTHROUGH listener must forward to TCP target groups")
	}
	return nil
}

// checkServiceTGQuota fails when the target groups used by a service's rules
// grew past the target-groups-per-service quota since before (the count
// taken before this transaction changed any reference). A service already
// over a lowered quota may keep its target groups but not add new ones.
func (s *Service) checkServiceTGQuota(tx store.ReadTx, svcID string, before int) error {
	after, err := serviceTargetGroupCount(tx, svcID, nil)
	if err != nil {
		return err
	}
	if after > before {
		return s.quota(model.QuotaTargetGroupsPerService, svcID, after, 0)
	}
	return nil
}

// listenerIn loads a listener of a service from ID-or-ARN identifiers. A
// listener ARN names its service: it must be the path's service.
func (s *Service) listenerIn(tx store.ReadTx, c model.Caller, svcIdent, listenerIdent string) (*model.Service, *model.Listener, error) {
	svc, err := s.loadService(tx, c, svcIdent)
	if err != nil {
		return nil, nil, err
	}
	ref, err := resolve(arn.Listener, "listenerIdentifier", listenerIdent)
	if err != nil {
		return nil, nil, err
	}
	if ref.ServiceID != "" && ref.ServiceID != svc.ID {
		return nil, nil, model.NotFound(model.TypeListener, ref.ID)
	}
	l, err := getJSON[model.Listener](tx, listenerStoreKey(svc.ID, ref.ID))
	if err != nil {
		return nil, nil, err
	}
	if l == nil {
		return nil, nil, model.NotFound(model.TypeListener, ref.ID)
	}
	if err := owned(c, &l.Meta, ref, model.TypeListener); err != nil {
		return nil, nil, err
	}
	return svc, l, nil
}

// listenerRules returns every rule of a listener, the default rule included.
func listenerRules(tx store.ReadTx, listenerID string) ([]*model.Rule, error) {
	var out []*model.Rule
	err := scanJSON(tx, pfxRule+listenerID+"/", func(_ string, r *model.Rule) (bool, error) {
		out = append(out, r)
		return true, nil
	})
	return out, err
}

// defaultRuleOf returns a listener's default rule.
func defaultRuleOf(tx store.ReadTx, listenerID string) (*model.Rule, error) {
	var out *model.Rule
	err := scanJSON(tx, pfxRule+listenerID+"/", func(_ string, r *model.Rule) (bool, error) {
		if r.IsDefault {
			out = r
			return false, nil
		}
		return true, nil
	})
	if err == nil && out == nil {
		err = model.NotFound(model.TypeRule, "default rule of "+listenerID)
	}
	return out, err
}

// CreateListenerInput is CreateListener's request.
type CreateListenerInput struct {
	ServiceIdentifier string
	Name              string
	Protocol          string
	Port              *int // default 80 for HTTP, 443 for HTTPS and TLS_PASSTHROUGH
	DefaultAction     *model.RuleAction
	Tags              map[string]string
	ClientToken       *string `json:"-"`
}

// CreateListener creates a listener on a service, with its default rule.
func (s *Service) CreateListener(ctx context.Context, in CreateListenerInput) (*model.Listener, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.Service, "serviceIdentifier", in.ServiceIdentifier)
	model.ListenerName.CheckName(&v, "name", in.Name)
	checkListenerProtocol(&v, "protocol", in.Protocol)
	if in.Port != nil {
		model.CheckPort(&v, "port", *in.Port)
	}
	model.CheckRuleAction(&v, "defaultAction", in.DefaultAction)
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	port := defaultListenerPort(in.Protocol)
	if in.Port != nil {
		port = *in.Port
	}
	var out *model.Listener
	err = s.update(ctx, func(tx store.Tx) error {
		out, err = idempotent(tx, c.Account, "CreateListener", in.ClientToken, in, func() (*model.Listener, error) {
			svc, err := s.loadService(tx, c, in.ServiceIdentifier)
			if err != nil {
				return nil, err
			}
			if in.Protocol == model.ProtocolTLSPassthrough && svc.CustomDomainName == "" {
				return nil, model.Invalid("protocol",
					"a TLS_PASSTHROUGH listener needs a service with a customDomainName; service %s has none", svc.ID)
			}
			n := 0
			err = scanJSON(tx, pfxListener+svc.ID+"/", func(_ string, l *model.Listener) (bool, error) {
				n++
				switch {
				case l.Name == in.Name:
					return false, model.Conflict(model.TypeListener, l.ID,
						"service %s already has a listener named %q", svc.ID, in.Name)
				case l.Port == port:
					return false, model.Conflict(model.TypeListener, l.ID,
						"port %d is already used by listener %s of service %s", port, l.ID, svc.ID)
				}
				return true, nil
			})
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaListenersPerService, svc.ID, n, 1); err != nil {
				return nil, err
			}
			if err := checkPassthroughAction("defaultAction", in.Protocol, in.DefaultAction); err != nil {
				return nil, err
			}
			action, err := s.resolveAction(tx, c, "defaultAction", svc.ID, in.Protocol, *in.DefaultAction)
			if err != nil {
				return nil, err
			}
			before, err := serviceTargetGroupCount(tx, svc.ID, nil)
			if err != nil {
				return nil, err
			}
			l := &model.Listener{Meta: s.newMeta(c, arn.Listener, in.Tags), ServiceID: svc.ID, ServiceARN: svc.ARN,
				Name: in.Name, Protocol: in.Protocol, Port: port, DefaultAction: action}
			l.ARN = s.listenerARN(svc.Account, svc.ID, l.ID)
			l.Account = svc.Account
			def := &model.Rule{Meta: s.newMeta(c, arn.Rule, nil), ServiceID: svc.ID, ListenerID: l.ID,
				Name: DefaultRuleName, IsDefault: true, Action: action}
			def.ARN = l.ARN + "/" + arn.Rule.ResourceType + "/" + def.ID
			def.Account = svc.Account
			def.CreatedAt, def.UpdatedAt = l.CreatedAt, l.UpdatedAt
			if err := setRuleRefs(tx, svc.ID, def.ID, nil, &def.Action); err != nil {
				return nil, err
			}
			if err := s.checkServiceTGQuota(tx, svc.ID, before); err != nil {
				return nil, err
			}
			if err := putJSON(tx, ruleStoreKey(l.ID, def.ID), def); err != nil {
				return nil, err
			}
			return l, putJSON(tx, listenerStoreKey(svc.ID, l.ID), l)
		})
		return err
	})
	return out, err
}

// GetListener describes a listener.
func (s *Service) GetListener(ctx context.Context, svcIdent, listenerIdent string) (*model.Listener, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.Listener
	err = s.view(ctx, func(tx store.ReadTx) error {
		_, out, err = s.listenerIn(tx, c, svcIdent, listenerIdent)
		return err
	})
	return out, err
}

// ListListeners lists the listeners of a service.
func (s *Service) ListListeners(ctx context.Context, svcIdent string, p Page) ([]*model.Listener, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []*model.Listener
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		svc, err := s.loadService(tx, c, svcIdent)
		if err != nil {
			return err
		}
		out, next, err = listPage(tx, pfxListener+svc.ID+"/", p, func(*model.Listener) bool { return true })
		return err
	})
	return out, next, err
}

// UpdateListenerInput is UpdateListener's request.
type UpdateListenerInput struct {
	ServiceIdentifier  string
	ListenerIdentifier string
	DefaultAction      *model.RuleAction
}

// UpdateListener replaces a listener's default action, which is the action
// of its default rule.
func (s *Service) UpdateListener(ctx context.Context, in UpdateListenerInput) (*model.Listener, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.Service, "serviceIdentifier", in.ServiceIdentifier)
	checkIdentifier(&v, arn.Listener, "listenerIdentifier", in.ListenerIdentifier)
	model.CheckRuleAction(&v, "defaultAction", in.DefaultAction)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.Listener
	err = s.update(ctx, func(tx store.Tx) error {
		svc, l, err := s.listenerIn(tx, c, in.ServiceIdentifier, in.ListenerIdentifier)
		if err != nil {
			return err
		}
		if err := checkPassthroughAction("defaultAction", l.Protocol, in.DefaultAction); err != nil {
			return err
		}
		action, err := s.resolveAction(tx, c, "defaultAction", svc.ID, l.Protocol, *in.DefaultAction)
		if err != nil {
			return err
		}
		def, err := defaultRuleOf(tx, l.ID)
		if err != nil {
			return err
		}
		before, err := serviceTargetGroupCount(tx, svc.ID, nil)
		if err != nil {
			return err
		}
		if err := setRuleRefs(tx, svc.ID, def.ID, &def.Action, &action); err != nil {
			return err
		}
		if err := s.checkServiceTGQuota(tx, svc.ID, before); err != nil {
			return err
		}
		now := s.now()
		def.Action, def.UpdatedAt = action, now
		l.DefaultAction, l.UpdatedAt = action, now
		if err := putJSON(tx, ruleStoreKey(l.ID, def.ID), def); err != nil {
			return err
		}
		out = l
		return putJSON(tx, listenerStoreKey(svc.ID, l.ID), l)
	})
	return out, err
}

// DeleteListener deletes a listener with all its rules.
func (s *Service) DeleteListener(ctx context.Context, svcIdent, listenerIdent string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		svc, l, err := s.listenerIn(tx, c, svcIdent, listenerIdent)
		if err != nil {
			return err
		}
		return s.deleteListenerTx(tx, svc.ID, l.ID)
	})
}

// deleteListenerTx deletes a listener with its rules (the default rule
// included) and their target group references. DeleteService uses it for
// its cascade.
func (s *Service) deleteListenerTx(tx store.Tx, svcID, listenerID string) error {
	rules, err := listenerRules(tx, listenerID)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if err := setRuleRefs(tx, svcID, r.ID, &r.Action, nil); err != nil {
			return err
		}
		if err := tx.Delete(ruleStoreKey(listenerID, r.ID)); err != nil {
			return err
		}
	}
	return tx.Delete(listenerStoreKey(svcID, listenerID))
}
