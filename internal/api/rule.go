package api

import "github.com/trellis-net/trellis/internal/model"

// Placeholder handlers; replaced by the real implementation.
func (s *Server) createRule(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("createRule")
}
func (s *Server) getRule(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("getRule")
}
func (s *Server) listRules(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("listRules")
}
func (s *Server) updateRule(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("updateRule")
}
func (s *Server) batchUpdateRule(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("batchUpdateRule")
}
func (s *Server) deleteRule(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deleteRule")
}
