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

// getAuthPolicy answers 200 for a network or service without an auth
// policy too, with no policy and no timestamps (there is nothing they could
// date) but its state, as Lattice does: clients such as Terraform's
// provider tell "no policy" by the missing policy member, not by a 404.
func (s *Server) getAuthPolicy(r *request) (int, any, error) {
	p, err := s.svc.GetAuthPolicy(r.ctx, r.param("resourceIdentifier"))
	if err != nil {
		return 0, nil, err
	}
	out := obj{"state": p.State}
	if p.AuthPolicy != nil {
		out["policy"] = p.Policy
		out.time("createdAt", p.CreatedAt).time("lastUpdatedAt", p.UpdatedAt)
	}
	return http.StatusOK, out, nil
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
	p, ok, err := s.svc.GetResourcePolicy(r.ctx, r.param("resourceArn"))
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return http.StatusOK, obj{}, nil // no policy member, as Lattice answers
	}
	return http.StatusOK, obj{"policy": p}, nil
}

func (s *Server) deleteResourcePolicy(r *request) (int, any, error) {
	return http.StatusNoContent, nil, s.svc.DeleteResourcePolicy(r.ctx, r.param("resourceArn"))
}
