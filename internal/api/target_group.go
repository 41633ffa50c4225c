package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// targetGroupConfig returns c for obj.opt: nil (omitted) when c is nil.
// The model's JSON names are the wire names.
func targetGroupConfig(c *model.TargetGroupConfig) any {
	if c == nil {
		return nil
	}
	return c
}

// tgBase is the members Create and Update return.
func tgBase(tg *model.TargetGroup) obj {
	return obj{"arn": tg.ARN, "id": tg.ID, "name": tg.Name, "status": tg.Status, "type": tg.Type}.
		opt("config", targetGroupConfig(tg.Config))
}

func tgServiceArns(arns []string) any {
	if arns == nil {
		return []string{}
	}
	return arns
}

func targetGroupSummary(d service.TargetGroupDetail) obj {
	o := obj{"arn": d.ARN, "id": d.ID, "name": d.Name, "status": d.Status, "type": d.Type,
		"serviceArns": tgServiceArns(d.ServiceARNs)}.
		time("createdAt", d.CreatedAt).time("lastUpdatedAt", d.UpdatedAt)
	if c := d.Config; c != nil {
		o.opt("port", c.Port).str("protocol", c.Protocol).str("vpcIdentifier", c.VpcIdentifier).
			str("ipAddressType", c.IPAddressType).str("lambdaEventStructureVersion", c.LambdaEventStructureVersion)
	}
	return o
}

func (s *Server) createTargetGroup(r *request) (int, any, error) {
	var in struct {
		Name        string                   `json:"name"`
		Type        string                   `json:"type"`
		Config      *model.TargetGroupConfig `json:"config"`
		Tags        map[string]string        `json:"tags"`
		ClientToken *string                  `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	tg, err := s.svc.CreateTargetGroup(r.ctx, service.CreateTargetGroupInput{Name: in.Name, Type: in.Type,
		Config: in.Config, Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, tgBase(tg), nil
}

func (s *Server) getTargetGroup(r *request) (int, any, error) {
	d, err := s.svc.GetTargetGroup(r.ctx, r.param("targetGroupIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, tgBase(d.TargetGroup).opt("serviceArns", tgServiceArns(d.ServiceARNs)).
		time("createdAt", d.CreatedAt).time("lastUpdatedAt", d.UpdatedAt), nil
}

func (s *Server) listTargetGroups(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListTargetGroups(r.ctx, service.ListTargetGroupsInput{Page: p,
		VpcIdentifier: r.query.Get("vpcIdentifier"), TargetGroupType: r.query.Get("targetGroupType")})
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, d := range items {
		out[i] = targetGroupSummary(d)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateTargetGroup(r *request) (int, any, error) {
	var in struct {
		HealthCheck *model.HealthCheckConfig `json:"healthCheck"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	tg, err := s.svc.UpdateTargetGroup(r.ctx, service.UpdateTargetGroupInput{
		Identifier: r.param("targetGroupIdentifier"), HealthCheck: in.HealthCheck})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, tgBase(tg), nil
}

func (s *Server) deleteTargetGroup(r *request) (int, any, error) {
	tg, err := s.svc.DeleteTargetGroup(r.ctx, r.param("targetGroupIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": tg.ARN, "id": tg.ID, "status": tg.Status}, nil
}

// wireTargets is the targets member of Register/Deregister/ListTargets.
type wireTargets struct {
	Targets []struct {
		ID   string `json:"id"`
		Port *int   `json:"port"`
	} `json:"targets"`
}

func (w wireTargets) inputs() []service.TargetInput {
	out := make([]service.TargetInput, len(w.Targets))
	for i, t := range w.Targets {
		out[i] = service.TargetInput{ID: t.ID, Port: t.Port}
	}
	return out
}

// withTargetPort sets port, leaving it out for portless (Lambda) targets.
func withTargetPort(o obj, port int) obj {
	if port != 0 {
		o["port"] = port
	}
	return o
}

func targetsResult(res service.TargetsResult) obj {
	ok := make([]obj, len(res.Successful))
	for i, t := range res.Successful {
		ok[i] = withTargetPort(obj{"id": t.ID}, t.Port)
	}
	bad := make([]obj, len(res.Unsuccessful))
	for i, f := range res.Unsuccessful {
		bad[i] = obj{"id": f.ID, "failureCode": f.FailureCode, "failureMessage": f.FailureMessage}.opt("port", f.Port)
	}
	return obj{"successful": ok, "unsuccessful": bad}
}

func (s *Server) registerTargets(r *request) (int, any, error) {
	var in wireTargets
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	res, err := s.svc.RegisterTargets(r.ctx, r.param("targetGroupIdentifier"), in.inputs())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, targetsResult(res), nil
}

func (s *Server) deregisterTargets(r *request) (int, any, error) {
	var in wireTargets
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	res, err := s.svc.DeregisterTargets(r.ctx, r.param("targetGroupIdentifier"), in.inputs())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, targetsResult(res), nil
}

func (s *Server) listTargets(r *request) (int, any, error) {
	var in wireTargets
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListTargets(r.ctx, service.ListTargetsInput{Page: p,
		Identifier: r.param("targetGroupIdentifier"), Targets: in.inputs()})
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, t := range items {
		out[i] = withTargetPort(obj{"id": t.ID, "status": t.Status}, t.Port).str("reasonCode", t.ReasonCode)
	}
	return http.StatusOK, list(out, next), nil
}
