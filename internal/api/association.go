package api

import "github.com/trellis-net/trellis/internal/model"

// Placeholder handlers; replaced by the real implementation.
func (s *Server) createSNSA(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("createSNSA")
}
func (s *Server) getSNSA(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("getSNSA")
}
func (s *Server) listSNSAs(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("listSNSAs")
}
func (s *Server) deleteSNSA(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deleteSNSA")
}
func (s *Server) createSNVA(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("createSNVA")
}
func (s *Server) getSNVA(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("getSNVA")
}
func (s *Server) listSNVAs(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("listSNVAs")
}
func (s *Server) updateSNVA(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("updateSNVA")
}
func (s *Server) deleteSNVA(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deleteSNVA")
}
