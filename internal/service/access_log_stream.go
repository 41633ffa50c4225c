package service

import (
	"context"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// LogResource is a service or service network whose access log records
// the caller may follow live (`trellis logs tail`).
type LogResource struct {
	ID, ARN string
	// Type is model.TypeService or model.TypeServiceNetwork.
	Type string
	// Account owns the resource: the caller's account.
	Account string
}

// ResolveLogResource finds the service or service network ident names (ID
// or ARN, as resourceIdentifier of CreateAccessLogSubscription takes it)
// for a caller who owns it. Another account's resource is
// ResourceNotFoundException, as GetService answers: the stream shows no
// more than the records an owner could subscribe to.
func (s *Service) ResolveLogResource(ctx context.Context, ident string) (LogResource, error) {
	c, err := caller(ctx)
	if err != nil {
		return LogResource{}, err
	}
	var v model.Validator
	v.Identifier(model.CheckIdentifierMember("resourceIdentifier", ident))
	if err := v.Err(); err != nil {
		return LogResource{}, err
	}
	var out LogResource
	err = s.view(ctx, func(tx store.ReadTx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceIdentifier", ident, false)
		if err != nil {
			return err
		}
		out = LogResource{ID: o.ID, ARN: o.ARN, Type: o.Type, Account: c.Account}
		return nil
	})
	return out, err
}
