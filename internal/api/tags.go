package api

import "net/http"

func (s *Server) tagResource(r *request) (int, any, error) {
	var in struct {
		Tags map[string]string `json:"tags"`
	}
	if err := decode(r.body, &in); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, obj{}, s.svc.TagResource(r.ctx, r.param("resourceArn"), in.Tags)
}

func (s *Server) listTags(r *request) (int, any, error) {
	tags, err := s.svc.ListTagsForResource(r.ctx, r.param("resourceArn"))
	if err != nil {
		return 0, nil, err
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return http.StatusOK, obj{"tags": tags}, nil
}

func (s *Server) untagResource(r *request) (int, any, error) {
	return http.StatusOK, obj{}, s.svc.UntagResource(r.ctx, r.param("resourceArn"), r.query["tagKeys"])
}
