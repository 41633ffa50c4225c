package api

import "github.com/trellis-net/trellis/internal/model"

// Placeholder handlers; replaced by the real implementation.
func (s *Server) createALS(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("createALS")
}
func (s *Server) getALS(r *request) (int, any, error) { return 0, nil, model.NotImplemented("getALS") }
func (s *Server) listALSs(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("listALSs")
}
func (s *Server) updateALS(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("updateALS")
}
func (s *Server) deleteALS(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deleteALS")
}
