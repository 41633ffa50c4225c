package service

import "github.com/trellis-net/trellis/internal/store"

// deleteListenerTx deletes a listener with its rules and their target group
// references. Placeholder until listeners land.
func (s *Service) deleteListenerTx(tx store.Tx, svcID, listenerID string) error { return nil }
