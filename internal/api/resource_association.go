package api

import (
	"net/http"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

func snraObj(d service.SNRADetail) obj {
	a := d.ServiceNetworkResourceAssociation
	o := obj{"arn": a.ARN, "id": a.ID, "status": a.Status, "createdBy": a.CreatedBy, "privateDnsEnabled": a.PrivateDNSEnabled,
		"serviceNetworkId": a.ServiceNetworkID, "resourceConfigurationId": a.ResourceConfigurationID,
		"isManagedAssociation": d.Managed}.time("createdAt", a.CreatedAt)
	if n := d.Network; n != nil {
		o["serviceNetworkArn"], o["serviceNetworkName"] = n.ARN, n.Name
	}
	if c := d.Config; c != nil {
		o["resourceConfigurationId"], o["resourceConfigurationArn"], o["resourceConfigurationName"] = c.ID, c.ARN, c.Name
	}
	if e := d.DNS; e != nil {
		// Get and List answer it (the SDK's output shapes); Create's
		// output has no dnsEntry.
		o["dnsEntry"] = obj{"domainName": e.DomainName, "hostedZoneId": e.HostedZoneID}
	}
	return o
}

func (s *Server) createSNRA(r *request) (int, any, error) {
	var in struct {
		ServiceNetworkIdentifier        string            `json:"serviceNetworkIdentifier"`
		ResourceConfigurationIdentifier string            `json:"resourceConfigurationIdentifier"`
		PrivateDNSEnabled               *bool             `json:"privateDnsEnabled"`
		Tags                            map[string]string `json:"tags"`
		ClientToken                     *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	d, err := s.svc.CreateServiceNetworkResourceAssociation(r.ctx, service.CreateSNRAInput{
		ServiceNetworkIdentifier: in.ServiceNetworkIdentifier, ResourceConfigurationIdentifier: in.ResourceConfigurationIdentifier,
		PrivateDNSEnabled: in.PrivateDNSEnabled, Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	a := d.ServiceNetworkResourceAssociation
	return http.StatusCreated, obj{"arn": a.ARN, "id": a.ID, "status": a.Status, "createdBy": a.CreatedBy,
		"privateDnsEnabled": a.PrivateDNSEnabled}, nil
}

func (s *Server) getSNRA(r *request) (int, any, error) {
	d, err := s.svc.GetServiceNetworkResourceAssociation(r.ctx, r.param("serviceNetworkResourceAssociationIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, snraObj(d).time("lastUpdatedAt", d.UpdatedAt), nil
}

func (s *Server) listSNRAs(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	in := service.ListSNRAsInput{Page: p, ServiceNetworkIdentifier: r.query.Get("serviceNetworkIdentifier"),
		ResourceConfigurationIdentifier: r.query.Get("resourceConfigurationIdentifier")}
	switch v := r.query.Get("includeChildren"); v {
	case "", "false":
	case "true":
		in.IncludeChildren = true
	default:
		return 0, nil, model.Invalid("includeChildren", "includeChildren must be true or false")
	}
	ds, next, err := s.svc.ListServiceNetworkResourceAssociations(r.ctx, in)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(ds))
	for i, d := range ds {
		out[i] = snraObj(d)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) deleteSNRA(r *request) (int, any, error) {
	a, err := s.svc.DeleteServiceNetworkResourceAssociation(r.ctx, r.param("serviceNetworkResourceAssociationIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": a.ARN, "id": a.ID, "status": a.Status}, nil
}

// VPC endpoints of type service network or resource are how consumers
// outside a service network's VPC associations reach it in AWS. Trellis has
// no VPC endpoints (a VPC reaches a network only through an association),
// so there is never anything of that kind to list: these answer the
// correct empty page after validating their parameters, and an endpoint
// association can never be found.

func (s *Server) listSNVpcEndpointAssociations(r *request) (int, any, error) {
	if _, err := page(r.query); err != nil {
		return 0, nil, err
	}
	if r.query.Get("serviceNetworkIdentifier") == "" {
		return 0, nil, model.Invalid("serviceNetworkIdentifier", "serviceNetworkIdentifier is required")
	}
	if _, err := s.svc.GetServiceNetwork(r.ctx, r.query.Get("serviceNetworkIdentifier")); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(nil, ""), nil
}

// validEndpointID reports whether s is prefix followed by 17 lowercase
// hexadecimal digits (rea-, reference §1) or, for vpce-, 8 or 17.
func validEndpointID(s, prefix string, lens ...int) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return false
	}
	okLen := false
	for _, n := range lens {
		okLen = okLen || len(rest) == n
	}
	if !okLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Server) listResourceEndpointAssociations(r *request) (int, any, error) {
	if _, err := page(r.query); err != nil {
		return 0, nil, err
	}
	q := r.query
	var v model.Validator
	if q.Get("resourceConfigurationIdentifier") == "" {
		v.Addf("resourceConfigurationIdentifier", "resourceConfigurationIdentifier is required")
	}
	if id := q.Get("resourceEndpointAssociationIdentifier"); id != "" && !validEndpointID(id, "rea-", 17) && !strings.HasPrefix(id, "arn:") {
		v.Addf("resourceEndpointAssociationIdentifier", "resourceEndpointAssociationIdentifier must be the ID or ARN of a resource endpoint association")
	}
	if id := q.Get("vpcEndpointId"); id != "" && !validEndpointID(id, "vpce-", 8, 17) {
		v.Addf("vpcEndpointId", "vpcEndpointId must be vpce- followed by 8 or 17 hexadecimal digits")
	}
	if o := q.Get("vpcEndpointOwner"); o != "" && !arn.ValidAccount(o) {
		v.Addf("vpcEndpointOwner", "vpcEndpointOwner must be a 12-digit account ID")
	}
	if err := v.Err(); err != nil {
		return 0, nil, err
	}
	if _, err := s.svc.GetResourceConfiguration(r.ctx, q.Get("resourceConfigurationIdentifier")); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(nil, ""), nil
}

func (s *Server) deleteResourceEndpointAssociation(r *request) (int, any, error) {
	id := r.param("resourceEndpointAssociationIdentifier")
	if i := strings.LastIndexByte(id, '/'); strings.HasPrefix(id, "arn:") && i >= 0 {
		id = id[i+1:]
	}
	if !validEndpointID(id, "rea-", 17) {
		return 0, nil, model.Invalid("resourceEndpointAssociationIdentifier", "resourceEndpointAssociationIdentifier must be the ID or ARN of a resource endpoint association")
	}
	return 0, nil, model.NotFound("RESOURCE_ENDPOINT_ASSOCIATION", id)
}
