package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

func dvObj(d *model.DomainVerification) obj {
	o := obj{"arn": d.ARN, "id": d.ID, "domainName": d.DomainName, "status": d.Status,
		"txtMethodConfig": obj{"name": d.TXTName, "value": d.TXTValue}}
	if d.LastVerifiedTime != nil {
		o.time("lastVerifiedTime", *d.LastVerifiedTime)
	}
	return o
}

// dvFull adds what Get and the summary carry; they, unlike the other Get
// operations, return tags (the SDK's deserializers read them).
func dvFull(d *model.DomainVerification) obj {
	return dvObj(d).time("createdAt", d.CreatedAt).opt("tags", tagsOrNil(d.Tags))
}

func (s *Server) startDomainVerification(r *request) (int, any, error) {
	var in struct {
		DomainName  string            `json:"domainName"`
		Tags        map[string]string `json:"tags"`
		ClientToken *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	d, err := s.svc.StartDomainVerification(r.ctx, service.StartDomainVerificationInput{DomainName: in.DomainName,
		Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, dvObj(d), nil
}

func (s *Server) getDomainVerification(r *request) (int, any, error) {
	d, err := s.svc.GetDomainVerification(r.ctx, r.param("domainVerificationIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, dvFull(d), nil
}

func (s *Server) listDomainVerifications(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	ds, next, err := s.svc.ListDomainVerifications(r.ctx, p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(ds))
	for i, d := range ds {
		out[i] = dvFull(d)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) deleteDomainVerification(r *request) (int, any, error) {
	if _, err := s.svc.DeleteDomainVerification(r.ctx, r.param("domainVerificationIdentifier")); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{}, nil
}

// domainVerificationRoutes adds the operator path: POST
// /trellis/v1/domainverifications/{id}/verify checks a verification now;
// the administrator's call marks it VERIFIED without DNS (a closed network).
func (s *Server) domainVerificationRoutes() {
	s.native.Handle("POST "+NativePrefix+"domainverifications/{id}/verify", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		d, err := s.svc.VerifyDomain(r.Context(), r.PathValue("id"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, dvFull(d), nil
	}))
}
