package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

func (s *Server) createSNSA(r *request) (int, any, error) {
	var in struct {
		ServiceNetworkIdentifier string            `json:"serviceNetworkIdentifier"`
		ServiceIdentifier        string            `json:"serviceIdentifier"`
		Tags                     map[string]string `json:"tags"`
		ClientToken              *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	d, err := s.svc.CreateServiceNetworkServiceAssociation(r.ctx, service.CreateSNSAInput{
		ServiceNetworkIdentifier: in.ServiceNetworkIdentifier, ServiceIdentifier: in.ServiceIdentifier,
		Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": d.ARN, "createdBy": d.CreatedBy, "id": d.ID, "status": d.Status}.
		str("customDomainName", d.Service.CustomDomainName).opt("dnsEntry", d.Service.DNS), nil
}

func snsaSummary(d service.SNSADetail) obj {
	return obj{"arn": d.ARN, "createdBy": d.CreatedBy, "id": d.ID, "status": d.Status,
		"serviceArn": d.Service.ARN, "serviceId": d.Service.ID, "serviceName": d.Service.Name,
		"serviceNetworkArn": d.ServiceNetwork.ARN, "serviceNetworkId": d.ServiceNetwork.ID, "serviceNetworkName": d.ServiceNetwork.Name,
	}.str("customDomainName", d.Service.CustomDomainName).opt("dnsEntry", d.Service.DNS).time("createdAt", d.CreatedAt)
}

func (s *Server) getSNSA(r *request) (int, any, error) {
	d, err := s.svc.GetServiceNetworkServiceAssociation(r.ctx, r.param("serviceNetworkServiceAssociationIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, snsaSummary(d), nil
}

func (s *Server) listSNSAs(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListServiceNetworkServiceAssociations(r.ctx, r.query.Get("serviceNetworkIdentifier"), r.query.Get("serviceIdentifier"), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, d := range items {
		out[i] = snsaSummary(d)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) deleteSNSA(r *request) (int, any, error) {
	a, err := s.svc.DeleteServiceNetworkServiceAssociation(r.ctx, r.param("serviceNetworkServiceAssociationIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": a.ARN, "id": a.ID, "status": a.Status}, nil
}

func (s *Server) createSNVA(r *request) (int, any, error) {
	var in struct {
		ServiceNetworkIdentifier string            `json:"serviceNetworkIdentifier"`
		VpcIdentifier            string            `json:"vpcIdentifier"`
		SecurityGroupIDs         []string          `json:"securityGroupIds"`
		PrivateDNSEnabled        *bool             `json:"privateDnsEnabled"`
		DNSOptions               *model.DNSOptions `json:"dnsOptions"`
		Tags                     map[string]string `json:"tags"`
		ClientToken              *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	d, err := s.svc.CreateServiceNetworkVpcAssociation(r.ctx, service.CreateSNVAInput{
		ServiceNetworkIdentifier: in.ServiceNetworkIdentifier, VpcIdentifier: in.VpcIdentifier,
		SecurityGroupIDs: in.SecurityGroupIDs, PrivateDNSEnabled: in.PrivateDNSEnabled, DNSOptions: in.DNSOptions,
		Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": d.ARN, "createdBy": d.CreatedBy, "id": d.ID, "status": d.Status}.
		opt("privateDnsEnabled", d.PrivateDNSEnabled).opt("securityGroupIds", strList(d.SecurityGroupIDs)).
		opt("dnsOptions", dnsOptions(d.DNSOptions)), nil
}

func strList(l []string) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

func dnsOptions(o *model.DNSOptions) any {
	if o == nil {
		return nil
	}
	return o
}

func (s *Server) getSNVA(r *request) (int, any, error) {
	d, err := s.svc.GetServiceNetworkVpcAssociation(r.ctx, r.param("serviceNetworkVpcAssociationIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": d.ARN, "createdBy": d.CreatedBy, "id": d.ID, "status": d.Status,
		"serviceNetworkArn": d.ServiceNetwork.ARN, "serviceNetworkId": d.ServiceNetwork.ID,
		"serviceNetworkName": d.ServiceNetwork.Name, "vpcId": d.VpcID,
	}.opt("privateDnsEnabled", d.PrivateDNSEnabled).opt("securityGroupIds", strList(d.SecurityGroupIDs)).
		opt("dnsOptions", dnsOptions(d.DNSOptions)).time("createdAt", d.CreatedAt).time("lastUpdatedAt", d.UpdatedAt), nil
}

func (s *Server) listSNVAs(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListServiceNetworkVpcAssociations(r.ctx, r.query.Get("serviceNetworkIdentifier"), r.query.Get("vpcIdentifier"), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, d := range items {
		out[i] = obj{"arn": d.ARN, "createdBy": d.CreatedBy, "id": d.ID, "status": d.Status,
			"serviceNetworkArn": d.ServiceNetwork.ARN, "serviceNetworkId": d.ServiceNetwork.ID,
			"serviceNetworkName": d.ServiceNetwork.Name, "vpcId": d.VpcID,
		}.opt("privateDnsEnabled", d.PrivateDNSEnabled).opt("dnsOptions", dnsOptions(d.DNSOptions)).
			time("createdAt", d.CreatedAt).time("lastUpdatedAt", d.UpdatedAt)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateSNVA(r *request) (int, any, error) {
	var in struct {
		SecurityGroupIDs []string `json:"securityGroupIds"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	a, err := s.svc.UpdateServiceNetworkVpcAssociation(r.ctx, r.param("serviceNetworkVpcAssociationIdentifier"), in.SecurityGroupIDs)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": a.ARN, "createdBy": a.CreatedBy, "id": a.ID, "status": a.Status,
		"securityGroupIds": a.SecurityGroupIDs}, nil
}

func (s *Server) deleteSNVA(r *request) (int, any, error) {
	a, err := s.svc.DeleteServiceNetworkVpcAssociation(r.ctx, r.param("serviceNetworkVpcAssociationIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": a.ARN, "id": a.ID, "status": a.Status}, nil
}
