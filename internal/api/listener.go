package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// listenerBody is the Create/Update response of a listener (reference §2.3).
func listenerBody(l *model.Listener) obj {
	return obj{"arn": l.ARN, "defaultAction": l.DefaultAction, "id": l.ID, "name": l.Name, "port": l.Port,
		"protocol": l.Protocol, "serviceArn": l.ServiceARN, "serviceId": l.ServiceID}
}

func listenerSummary(l *model.Listener) obj {
	return obj{"arn": l.ARN, "id": l.ID, "name": l.Name, "port": l.Port, "protocol": l.Protocol}.
		time("createdAt", l.CreatedAt).time("lastUpdatedAt", l.UpdatedAt)
}

func (s *Server) createListener(r *request) (int, any, error) {
	var in struct {
		Name          string            `json:"name"`
		Protocol      string            `json:"protocol"`
		Port          *int              `json:"port"`
		DefaultAction *model.RuleAction `json:"defaultAction"`
		Tags          map[string]string `json:"tags"`
		ClientToken   *string           `json:"clientToken"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	l, err := s.svc.CreateListener(r.ctx, service.CreateListenerInput{ServiceIdentifier: r.param("serviceIdentifier"),
		Name: in.Name, Protocol: in.Protocol, Port: in.Port, DefaultAction: in.DefaultAction, Tags: in.Tags,
		ClientToken: in.ClientToken})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, listenerBody(l), nil
}

func (s *Server) getListener(r *request) (int, any, error) {
	l, err := s.svc.GetListener(r.ctx, r.param("serviceIdentifier"), r.param("listenerIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listenerBody(l).time("createdAt", l.CreatedAt).time("lastUpdatedAt", l.UpdatedAt), nil
}

func (s *Server) listListeners(r *request) (int, any, error) {
	p, err := page(r.query)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.svc.ListListeners(r.ctx, r.param("serviceIdentifier"), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]obj, len(items))
	for i, l := range items {
		out[i] = listenerSummary(l)
	}
	return http.StatusOK, list(out, next), nil
}

func (s *Server) updateListener(r *request) (int, any, error) {
	var in struct {
		DefaultAction *model.RuleAction `json:"defaultAction"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	l, err := s.svc.UpdateListener(r.ctx, service.UpdateListenerInput{ServiceIdentifier: r.param("serviceIdentifier"),
		ListenerIdentifier: r.param("listenerIdentifier"), DefaultAction: in.DefaultAction})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listenerBody(l), nil
}

func (s *Server) deleteListener(r *request) (int, any, error) {
	return http.StatusNoContent, nil,
		s.svc.DeleteListener(r.ctx, r.param("serviceIdentifier"), r.param("listenerIdentifier"))
}
