package api

import "github.com/trellis-net/trellis/internal/model"

// Placeholder handlers; replaced by the real implementation.
func (s *Server) putAuthPolicy(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("putAuthPolicy")
}
func (s *Server) getAuthPolicy(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("getAuthPolicy")
}
func (s *Server) deleteAuthPolicy(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deleteAuthPolicy")
}
func (s *Server) putResourcePolicy(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("putResourcePolicy")
}
func (s *Server) getResourcePolicy(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("getResourcePolicy")
}
func (s *Server) deleteResourcePolicy(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deleteResourcePolicy")
}
