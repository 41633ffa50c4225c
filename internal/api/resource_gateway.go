package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// rgwObj is a resource gateway as Create (vpcKey "vpcIdentifier"), Get and
// Update ("vpcId") answer (reference §2.3); the summary is Create's
// members plus the timestamps.
func rgwObj(g *model.ResourceGateway, vpcKey string) obj {
	return obj{"arn": g.ARN, "id": g.ID, "name": g.Name, "status": g.Status, vpcKey: g.VpcID,
		"ipAddressType": g.IPAddressType, "subnetIds": orEmpty(g.SubnetIDs), "securityGroupIds": orEmpty(g.SecurityGroupIDs)}.
		opt("ipv4AddressesPerEni", g.IPv4AddressesPerEni).str("resourceConfigDnsResolution", g.ResourceConfigDNSResolution)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) createResourceGateway(r *request) (int, any, error) {
	var in struct {
		Name                        string            `json:"name"`
		VpcIdentifier               string            `json:"vpcIdentifier"`
		SubnetIDs                   []string          `json:"subnetIds"`
		SecurityGroupIDs            []string          `json:"securityGroupIds"`
		IPAddressType               string            `json:"ipAddressType"`
		IPv4AddressesPerEni         *int              `json:"ipv4AddressesPerEni"`
		ResourceConfigDNSResolution string            `json:"resourceConfigDnsResolution"`
		Tags                        map[string]string `json:"tags"`
		ClientToken                 *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	g, err := s.svc.CreateResourceGateway(r.ctx, service.CreateResourceGatewayInput{Name: in.Name, VpcIdentifier: in.VpcIdentifier,
		SubnetIDs: in.SubnetIDs, SecurityGroupIDs: in.SecurityGroupIDs, IPAddressType: in.IPAddressType,
		IPv4AddressesPerEni: in.IPv4AddressesPerEni, ResourceConfigDNSResolution: in.ResourceConfigDNSResolution,
		Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, rgwObj(g, "vpcIdentifier"), nil
}

func (s *Server) getResourceGateway(r *request) (int, any, error) {
	g, err := s.svc.GetResourceGateway(r.ctx, r.param("resourceGatewayIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rgwObj(g, "vpcId").time("createdAt", g.CreatedAt).time("lastUpdatedAt", g.UpdatedAt), nil
}

func (s *Server) listResourceGateways(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	gs, next, err := s.svc.ListResourceGateways(r.ctx, p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(gs))
	for i, g := range gs {
		out[i] = rgwObj(g, "vpcIdentifier").time("createdAt", g.CreatedAt).time("lastUpdatedAt", g.UpdatedAt)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateResourceGateway(r *request) (int, any, error) {
	var in struct {
		SecurityGroupIDs []string `json:"securityGroupIds"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	g, err := s.svc.UpdateResourceGateway(r.ctx, r.param("resourceGatewayIdentifier"), in.SecurityGroupIDs)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rgwObj(g, "vpcId"), nil
}

func (s *Server) deleteResourceGateway(r *request) (int, any, error) {
	g, err := s.svc.DeleteResourceGateway(r.ctx, r.param("resourceGatewayIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": g.ARN, "id": g.ID, "name": g.Name, "status": g.Status}, nil
}
