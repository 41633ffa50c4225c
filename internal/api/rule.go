package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// ruleBody has the members every rule response shares: action, arn, id,
// match, name, priority. The default rule has no match and no priority;
// those members are then omitted, never null.
func ruleBody(rl *model.Rule) obj {
	o := obj{"action": rl.Action, "arn": rl.ARN, "id": rl.ID, "name": rl.Name}
	if rl.Match != nil {
		o["match"] = rl.Match
	}
	if !rl.IsDefault {
		o["priority"] = rl.Priority
	}
	return o
}

func ruleSummary(rl *model.Rule) obj {
	o := obj{"arn": rl.ARN, "id": rl.ID, "isDefault": rl.IsDefault, "name": rl.Name}.
		time("createdAt", rl.CreatedAt).time("lastUpdatedAt", rl.UpdatedAt)
	if !rl.IsDefault {
		o["priority"] = rl.Priority
	}
	return o
}

// ruleUpdateWire is a RuleUpdate as UpdateRule's body and BatchUpdateRule's
// rules[] items carry it.
type ruleUpdateWire struct {
	RuleIdentifier string            `json:"ruleIdentifier"`
	Match          *model.RuleMatch  `json:"match"`
	Priority       *int              `json:"priority"`
	Action         *model.RuleAction `json:"action"`
}

func (u ruleUpdateWire) toService() service.RuleUpdate {
	return service.RuleUpdate{RuleIdentifier: u.RuleIdentifier, Match: u.Match, Priority: u.Priority, Action: u.Action}
}

func (s *Server) createRule(r *request) (int, any, error) {
	var in struct {
		Name        string            `json:"name"`
		Match       *model.RuleMatch  `json:"match"`
		Priority    *int              `json:"priority"`
		Action      *model.RuleAction `json:"action"`
		Tags        map[string]string `json:"tags"`
		ClientToken *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	rl, err := s.svc.CreateRule(r.ctx, service.CreateRuleInput{ServiceIdentifier: r.param("serviceIdentifier"),
		ListenerIdentifier: r.param("listenerIdentifier"), Name: in.Name, Match: in.Match, Priority: in.Priority,
		Action: in.Action, Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, ruleBody(rl), nil
}

func (s *Server) getRule(r *request) (int, any, error) {
	rl, err := s.svc.GetRule(r.ctx, r.param("serviceIdentifier"), r.param("listenerIdentifier"), r.param("ruleIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	o := ruleBody(rl).time("createdAt", rl.CreatedAt).time("lastUpdatedAt", rl.UpdatedAt)
	o["isDefault"] = rl.IsDefault
	return http.StatusOK, o, nil
}

func (s *Server) listRules(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListRules(r.ctx, r.param("serviceIdentifier"), r.param("listenerIdentifier"), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, rl := range items {
		out[i] = ruleSummary(rl)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateRule(r *request) (int, any, error) {
	var in ruleUpdateWire
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	u := in.toService()
	u.RuleIdentifier = r.param("ruleIdentifier") // the path names the rule, not the body
	rl, err := s.svc.UpdateRule(r.ctx, service.UpdateRuleInput{ServiceIdentifier: r.param("serviceIdentifier"),
		ListenerIdentifier: r.param("listenerIdentifier"), RuleUpdate: u})
	if err != nil {
		return 0, nil, err
	}
	o := ruleBody(rl)
	o["isDefault"] = rl.IsDefault
	return http.StatusOK, o, nil
}

func (s *Server) batchUpdateRule(r *request) (int, any, error) {
	var in struct {
		Rules []ruleUpdateWire `json:"rules"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	updates := make([]service.RuleUpdate, len(in.Rules))
	for i, u := range in.Rules {
		updates[i] = u.toService()
	}
	res, err := s.svc.BatchUpdateRule(r.ctx, service.BatchUpdateRuleInput{ServiceIdentifier: r.param("serviceIdentifier"),
		ListenerIdentifier: r.param("listenerIdentifier"), Rules: updates})
	if err != nil {
		return 0, nil, err
	}
	ok := make([]obj, len(res.Successful))
	for i, rl := range res.Successful {
		ok[i] = ruleBody(rl)
		ok[i]["isDefault"] = rl.IsDefault
	}
	failed := make([]obj, len(res.Unsuccessful))
	for i, f := range res.Unsuccessful {
		failed[i] = obj{"ruleIdentifier": f.RuleIdentifier, "failureCode": errorTable[f.Err.Kind].Type,
			"failureMessage": f.Err.Message}
	}
	return http.StatusOK, obj{"successful": ok, "unsuccessful": failed}, nil
}

func (s *Server) deleteRule(r *request) (int, any, error) {
	return http.StatusNoContent, nil, s.svc.DeleteRule(r.ctx, r.param("serviceIdentifier"),
		r.param("listenerIdentifier"), r.param("ruleIdentifier"))
}
