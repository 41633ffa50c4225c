package api

import "github.com/trellis-net/trellis/internal/model"

// Placeholder handlers; replaced by the real implementation.
func (s *Server) createTargetGroup(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("createTargetGroup")
}
func (s *Server) getTargetGroup(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("getTargetGroup")
}
func (s *Server) listTargetGroups(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("listTargetGroups")
}
func (s *Server) updateTargetGroup(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("updateTargetGroup")
}
func (s *Server) deleteTargetGroup(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deleteTargetGroup")
}
func (s *Server) registerTargets(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("registerTargets")
}
func (s *Server) deregisterTargets(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("deregisterTargets")
}
func (s *Server) listTargets(r *request) (int, any, error) {
	return 0, nil, model.NotImplemented("listTargets")
}
