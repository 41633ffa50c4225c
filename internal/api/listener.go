package api

import "github.com/trellis-net/trellis/internal/model"

// Placeholder handlers; replaced by the real implementation.
func (s *Server) createListener(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("createListener")
}
func (s *Server) getListener(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("getListener")
}
func (s *Server) listListeners(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("listListeners")
}
func (s *Server) updateListener(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("updateListener")
}
func (s *Server) deleteListener(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deleteListener")
}
