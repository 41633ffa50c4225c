package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

func snSummary(d service.ServiceNetworkDetail) obj {
	return obj{"arn": d.ARN, "id": d.ID, "name": d.Name,
		"numberOfAssociatedServices":               d.NumberOfAssociatedServices,
		"numberOfAssociatedVPCs":                   d.NumberOfAssociatedVPCs,
		"numberOfAssociatedResourceConfigurations": d.NumberOfAssociatedResourceConfigurations,
	}.time("createdAt", d.CreatedAt).time("lastUpdatedAt", d.UpdatedAt)
}

func (s *Server) createServiceNetwork(r *request) (int, any, error) {
	var in struct {
		Name          string               `json:"name"`
		AuthType      string               `json:"authType"`
		SharingConfig *model.SharingConfig `json:"sharingConfig"`
		Tags          map[string]string    `json:"tags"`
		ClientToken   *string              `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	sn, err := s.svc.CreateServiceNetwork(r.ctx, service.CreateServiceNetworkInput{Name: in.Name, AuthType: in.AuthType,
		SharingConfig: in.SharingConfig, Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, obj{"arn": sn.ARN, "authType": sn.AuthType, "id": sn.ID, "name": sn.Name}.
		opt("sharingConfig", sharingConfig(sn.SharingConfig)), nil
}

func sharingConfig(c *model.SharingConfig) any {
	if c == nil {
		return nil
	}
	return c
}

func (s *Server) getServiceNetwork(r *request) (int, any, error) {
	d, err := s.svc.GetServiceNetwork(r.ctx, r.param("serviceNetworkIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": d.ARN, "authType": d.AuthType, "id": d.ID, "name": d.Name,
		"numberOfAssociatedServices": d.NumberOfAssociatedServices, "numberOfAssociatedVPCs": d.NumberOfAssociatedVPCs,
	}.time("createdAt", d.CreatedAt).time("lastUpdatedAt", d.UpdatedAt).opt("sharingConfig", sharingConfig(d.SharingConfig)), nil
}

func (s *Server) listServiceNetworks(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListServiceNetworks(r.ctx, p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, d := range items {
		out[i] = snSummary(d)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateServiceNetwork(r *request) (int, any, error) {
	var in struct {
		AuthType string `json:"authType"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	sn, err := s.svc.UpdateServiceNetwork(r.ctx, r.param("serviceNetworkIdentifier"), in.AuthType)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": sn.ARN, "authType": sn.AuthType, "id": sn.ID, "name": sn.Name}, nil
}

func (s *Server) deleteServiceNetwork(r *request) (int, any, error) {
	return http.StatusNoContent, nil, s.svc.DeleteServiceNetwork(r.ctx, r.param("serviceNetworkIdentifier"))
}
