package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

func alsObj(a *model.AccessLogSubscription) obj {
	return obj{"arn": a.ARN, "destinationArn": a.DestinationARN, "id": a.ID, "resourceArn": a.ResourceARN,
		"resourceId": a.ResourceID}.str("serviceNetworkLogType", a.ServiceNetworkLogType)
}

func (s *Server) createALS(r *request) (int, any, error) {
	var in struct {
		ResourceIdentifier    string            `json:"resourceIdentifier"`
		DestinationArn        string            `json:"destinationArn"`
		ServiceNetworkLogType string            `json:"serviceNetworkLogType"`
		Tags                  map[string]string `json:"tags"`
		ClientToken           *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	a, err := s.svc.CreateAccessLogSubscription(r.ctx, service.CreateALSInput{ResourceIdentifier: in.ResourceIdentifier,
		DestinationARN: in.DestinationArn, ServiceNetworkLogType: in.ServiceNetworkLogType, Tags: in.Tags, ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, alsObj(a), nil
}

func (s *Server) getALS(r *request) (int, any, error) {
	a, err := s.svc.GetAccessLogSubscription(r.ctx, r.param("accessLogSubscriptionIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, alsObj(a).time("createdAt", a.CreatedAt).time("lastUpdatedAt", a.UpdatedAt), nil
}

func (s *Server) listALSs(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListAccessLogSubscriptions(r.ctx, r.query.Get("resourceIdentifier"), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, a := range items {
		out[i] = alsObj(a).time("createdAt", a.CreatedAt).time("lastUpdatedAt", a.UpdatedAt)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateALS(r *request) (int, any, error) {
	var in struct {
		DestinationArn string `json:"destinationArn"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	a, err := s.svc.UpdateAccessLogSubscription(r.ctx, r.param("accessLogSubscriptionIdentifier"), in.DestinationArn)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"arn": a.ARN, "destinationArn": a.DestinationARN, "id": a.ID,
		"resourceArn": a.ResourceARN, "resourceId": a.ResourceID}, nil
}

func (s *Server) deleteALS(r *request) (int, any, error) {
	return http.StatusNoContent, nil, s.svc.DeleteAccessLogSubscription(r.ctx, r.param("accessLogSubscriptionIdentifier"))
}
