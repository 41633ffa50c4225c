package api

import "net/http"

func (s *Server) putAuthPolicy(r *request) (int, any, error) {
	var in struct {
		Policy string `json:"policy"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	p, err := s.svc.PutAuthPolicy(r.ctx, r.param("resourceIdentifier"), in.Policy)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"policy": p.Policy, "state": p.State}, nil
}

func (s *Server) getAuthPolicy(r *request) (int, any, error) {
	p, err := s.svc.GetAuthPolicy(r.ctx, r.param("resourceIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"policy": p.Policy, "state": p.State}.
		time("createdAt", p.CreatedAt).time("lastUpdatedAt", p.UpdatedAt), nil
}

func (s *Server) deleteAuthPolicy(r *request) (int, any, error) {
	return http.StatusNoContent, nil, s.svc.DeleteAuthPolicy(r.ctx, r.param("resourceIdentifier"))
}

func (s *Server) putResourcePolicy(r *request) (int, any, error) {
	var in struct {
		Policy string `json:"policy"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{}, s.svc.PutResourcePolicy(r.ctx, r.param("resourceArn"), in.Policy)
}

func (s *Server) getResourcePolicy(r *request) (int, any, error) {
	p, err := s.svc.GetResourcePolicy(r.ctx, r.param("resourceArn"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{"policy": p}, nil
}

func (s *Server) deleteResourcePolicy(r *request) (int, any, error) {
	return http.StatusNoContent, nil, s.svc.DeleteResourcePolicy(r.ctx, r.param("resourceArn"))
}
