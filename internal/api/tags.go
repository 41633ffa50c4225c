package api

import "github.com/trellis-net/trellis/internal/model"

// Placeholder handlers; replaced by the real implementation.
func (s *Server) tagResource(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("tagResource")
}
func (s *Server) listTags(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("listTags")
}
func (s *Server) untagResource(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("untagResource")
}
