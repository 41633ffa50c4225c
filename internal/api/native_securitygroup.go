package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// Trellis-native security groups under /trellis/v1/security-groups
// (DESIGN.md "Contracts"): PUT creates (201) or replaces (200), GET, DELETE
// (204; ConflictException while an association of its VPC names it), and
// the list, optionally of one VPC (?vpcId=).

// sgRuleWire is an inbound rule on the wire. The ports are pointers so that
// an absent port is told from 0 (absent is required for protocol all).
type sgRuleWire struct {
	Protocol    string `json:"protocol"`
	FromPort    *int   `json:"fromPort"`
	ToPort      *int   `json:"toPort"`
	CIDR        string `json:"cidr"`
	Description string `json:"description"`
}

func securityGroupObj(g *model.SecurityGroup) obj {
	rules := make([]obj, len(g.Ingress))
	for i, r := range g.Ingress {
		o := obj{"protocol": r.Protocol, "cidr": r.CIDR}
		if r.Protocol == model.SecurityGroupProtoTCP {
			o["fromPort"], o["toPort"] = r.FromPort, r.ToPort
		}
		rules[i] = o.str("description", r.Description)
	}
	return obj{"securityGroupId": g.ID, "arn": g.ARN, "ownerId": g.Account, "vpcId": g.VpcID, "ingress": rules}.
		str("description", g.Description).time("createdAt", g.CreatedAt).time("lastUpdatedAt", g.UpdatedAt)
}

func (s *Server) securityGroupRoutes() {
	const one = NativePrefix + "security-groups/{securityGroupId}"
	s.native.Handle("PUT "+one, s.nativeHandler(func(r *http.Request, body []byte) (int, any, error) {
		var in struct {
			VpcID       string       `json:"vpcId"`
			Description string       `json:"description"`
			Ingress     []sgRuleWire `json:"ingress"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		rules := make([]model.SecurityGroupRuleInput, len(in.Ingress))
		for i, w := range in.Ingress {
			rules[i] = model.SecurityGroupRuleInput{Protocol: w.Protocol, FromPort: w.FromPort, ToPort: w.ToPort,
				CIDR: w.CIDR, Description: w.Description}
		}
		g, created, err := s.svc.PutSecurityGroup(r.Context(), service.PutSecurityGroupInput{
			ID: r.PathValue("securityGroupId"), VpcID: in.VpcID, Description: in.Description, Ingress: rules})
		if err != nil {
			return 0, nil, err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return status, securityGroupObj(g), nil
	}))
	s.native.Handle("GET "+one, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		g, err := s.svc.GetSecurityGroup(r.Context(), r.PathValue("securityGroupId"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, securityGroupObj(g), nil
	}))
	s.native.Handle("DELETE "+one, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, s.svc.DeleteSecurityGroup(r.Context(), r.PathValue("securityGroupId"))
	}))
	s.native.Handle("GET "+NativePrefix+"security-groups", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		p, err := page(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.svc.ListSecurityGroups(r.Context(), r.URL.Query().Get("vpcId"), p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, g := range items {
			out[i] = securityGroupObj(g)
		}
		return http.StatusOK, list(out, next), nil
	}))
}
