package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

func (s *Server) createService(r *request) (int, any, error) {
	var in struct {
		Name               string            `json:"name"`
		AuthType           string            `json:"authType"`
		CustomDomainName   string            `json:"customDomainName"`
		CertificateArn     string            `json:"certificateArn"`
		IdleTimeoutSeconds *int              `json:"idleTimeoutSeconds"`
		Tags               map[string]string `json:"tags"`
		ClientToken        *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	svc, err := s.svc.CreateService(r.ctx, service.CreateServiceInput{Name: in.Name, AuthType: in.AuthType,
		CustomDomainName: in.CustomDomainName, CertificateArn: in.CertificateArn,
		IdleTimeoutSeconds: in.IdleTimeoutSeconds, Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, obj{"arn": svc.ARN, "authType": svc.AuthType, "id": svc.ID, "name": svc.Name,
		"status": svc.Status}.str("certificateArn", svc.CertificateArn).str("customDomainName", svc.CustomDomainName).
		opt("dnsEntry", svc.DNS), nil
}

func (s *Server) getService(r *request) (int, any, error) {
	svc, err := s.svc.GetService(r.ctx, r.param("serviceIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": svc.ARN, "authType": svc.AuthType, "id": svc.ID, "name": svc.Name,
		"status": svc.Status, "idleTimeoutSeconds": svc.IdleTimeoutSeconds}.
		str("certificateArn", svc.CertificateArn).str("customDomainName", svc.CustomDomainName).
		opt("dnsEntry", svc.DNS).time("createdAt", svc.CreatedAt).time("lastUpdatedAt", svc.UpdatedAt), nil
}

func serviceSummary(svc *model.Service) obj {
	return obj{"arn": svc.ARN, "id": svc.ID, "name": svc.Name, "status": svc.Status}.
		str("customDomainName", svc.CustomDomainName).opt("dnsEntry", svc.DNS).
		time("createdAt", svc.CreatedAt).time("lastUpdatedAt", svc.UpdatedAt)
}

func (s *Server) listServices(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListServices(r.ctx, p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, svc := range items {
		out[i] = serviceSummary(svc)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateService(r *request) (int, any, error) {
	var in struct {
		AuthType           string  `json:"authType"`
		CertificateArn     *string `json:"certificateArn"`
		IdleTimeoutSeconds *int    `json:"idleTimeoutSeconds"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	svc, err := s.svc.UpdateService(r.ctx, service.UpdateServiceInput{Identifier: r.param("serviceIdentifier"),
		AuthType: in.AuthType, CertificateArn: in.CertificateArn, IdleTimeoutSeconds: in.IdleTimeoutSeconds})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": svc.ARN, "authType": svc.AuthType, "id": svc.ID, "name": svc.Name,
		"idleTimeoutSeconds": svc.IdleTimeoutSeconds}.
		str("certificateArn", svc.CertificateArn).str("customDomainName", svc.CustomDomainName), nil
}

func (s *Server) deleteService(r *request) (int, any, error) {
	svc, err := s.svc.DeleteService(r.ctx, r.param("serviceIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": svc.ARN, "id": svc.ID, "name": svc.Name, "status": svc.Status}, nil
}
