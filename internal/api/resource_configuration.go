package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// rcfgObj is the members Create, Get and Update share (reference §2.3).
func rcfgObj(rc *model.ResourceConfiguration) obj {
	o := obj{"arn": rc.ARN, "id": rc.ID, "name": rc.Name, "status": rc.Status, "type": rc.Type,
		"allowAssociationToShareableServiceNetwork": rc.AllowShareableSN}.
		str("protocol", rc.Protocol).str("resourceGatewayId", rc.ResourceGatewayID).
		str("resourceConfigurationGroupId", rc.GroupID)
	if rc.PortRanges != nil {
		o["portRanges"] = rc.PortRanges
	}
	if rc.Definition != nil {
		o["resourceConfigurationDefinition"] = rc.Definition
	}
	return o
}

// rcfgDomain adds the custom-domain members of Create and Get.
func (s *Server) rcfgDomain(o obj, rc *model.ResourceConfiguration) obj {
	o.str("customDomainName", rc.CustomDomainName).str("groupDomain", rc.GroupDomain).
		str("domainVerificationId", rc.DomainVerificationID)
	if rc.DomainVerificationID != "" {
		o["domainVerificationArn"] = s.svc.DomainVerificationARN(rc.Account, rc.DomainVerificationID)
	}
	return o
}

func (s *Server) createResourceConfiguration(r *request) (int, any, error) {
	var in struct {
		Name                                 string                                 `json:"name"`
		Type                                 string                                 `json:"type"`
		PortRanges                           []string                               `json:"portRanges"`
		Protocol                             string                                 `json:"protocol"`
		ResourceGatewayIdentifier            string                                 `json:"resourceGatewayIdentifier"`
		ResourceConfigurationGroupIdentifier string                                 `json:"resourceConfigurationGroupIdentifier"`
		Definition                           *model.ResourceConfigurationDefinition `json:"resourceConfigurationDefinition"`
		AllowShareableSN                     *bool                                  `json:"allowAssociationToShareableServiceNetwork"`
		CustomDomainName                     string                                 `json:"customDomainName"`
		GroupDomain                          string                                 `json:"groupDomain"`
		DomainVerificationIdentifier         string                                 `json:"domainVerificationIdentifier"`
		Tags                                 map[string]string                      `json:"tags"`
		ClientToken                          *string                                `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	rc, err := s.svc.CreateResourceConfiguration(r.ctx, service.CreateResourceConfigurationInput{Name: in.Name, Type: in.Type,
		PortRanges: in.PortRanges, Protocol: in.Protocol, ResourceGatewayIdentifier: in.ResourceGatewayIdentifier,
		ResourceConfigurationGroupIdentifier: in.ResourceConfigurationGroupIdentifier, Definition: in.Definition,
		AllowShareableSN: in.AllowShareableSN, CustomDomainName: in.CustomDomainName, GroupDomain: in.GroupDomain,
		DomainVerificationIdentifier: in.DomainVerificationIdentifier, Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, s.rcfgDomain(rcfgObj(rc), rc).time("createdAt", rc.CreatedAt), nil
}

func (s *Server) getResourceConfiguration(r *request) (int, any, error) {
	rc, err := s.svc.GetResourceConfiguration(r.ctx, r.param("resourceConfigurationIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	o := s.rcfgDomain(rcfgObj(rc), rc).time("createdAt", rc.CreatedAt).time("lastUpdatedAt", rc.UpdatedAt)
	o["amazonManaged"] = false
	if st := s.svc.DomainVerificationStatus(r.ctx, rc); st != "" {
		o["domainVerificationStatus"] = st
	}
	return http.StatusOK, o, nil
}

func (s *Server) listResourceConfigurations(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	rcs, next, err := s.svc.ListResourceConfigurations(r.ctx, service.ListResourceConfigurationsInput{Page: p,
		ResourceGatewayIdentifier:            r.query.Get("resourceGatewayIdentifier"),
		ResourceConfigurationGroupIdentifier: r.query.Get("resourceConfigurationGroupIdentifier"),
		DomainVerificationIdentifier:         r.query.Get("domainVerificationIdentifier")})
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(rcs))
	for i, rc := range rcs {
		out[i] = obj{"arn": rc.ARN, "id": rc.ID, "name": rc.Name, "status": rc.Status, "type": rc.Type, "amazonManaged": false}.
			str("resourceGatewayId", rc.ResourceGatewayID).str("resourceConfigurationGroupId", rc.GroupID).
			str("customDomainName", rc.CustomDomainName).str("groupDomain", rc.GroupDomain).
			str("domainVerificationId", rc.DomainVerificationID).
			time("createdAt", rc.CreatedAt).time("lastUpdatedAt", rc.UpdatedAt)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateResourceConfiguration(r *request) (int, any, error) {
	var in struct {
		Definition       *model.ResourceConfigurationDefinition `json:"resourceConfigurationDefinition"`
		AllowShareableSN *bool                                  `json:"allowAssociationToShareableServiceNetwork"`
		PortRanges       []string                               `json:"portRanges"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	rc, err := s.svc.UpdateResourceConfiguration(r.ctx, service.UpdateResourceConfigurationInput{
		Identifier: r.param("resourceConfigurationIdentifier"), Definition: in.Definition,
		AllowShareableSN: in.AllowShareableSN, PortRanges: in.PortRanges})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rcfgObj(rc), nil
}

func (s *Server) deleteResourceConfiguration(r *request) (int, any, error) {
	if err := s.svc.DeleteResourceConfiguration(r.ctx, r.param("resourceConfigurationIdentifier")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
