package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// CreateALSInput is CreateAccessLogSubscription's request.
type CreateALSInput struct {
	ResourceIdentifier    string
	DestinationARN        string
	ServiceNetworkLogType string
	Tags                  map[string]string
	ClientToken           *string `json:"-"`
}

// destinationKind names the destination type of an ARN (one subscription
// per destination type per resource, as in Lattice): logs, s3 or firehose;
// "" for an ARN that is none of them (stored by an older version).
func destinationKind(dest string) string {
	d, _ := arn.ParseLogDestination(dest)
	return d.Kind
}

// checkDestination accepts the destinations Lattice delivers to (and the
// data plane writes to, see internal/dataplane/accesslog): a CloudWatch
// Logs log group, an S3 bucket (with an optional prefix) or a Firehose
// delivery stream.
func checkDestination(v *model.Validator, dest string) {
	const field = "destinationArn"
	if len(dest) < 20 || len(dest) > 2048 {
		model.CheckARN(v, field, dest, 20, 2048)
		return
	}
	if _, err := arn.ParseLogDestination(dest); err != nil {
		v.Addf(field, "%s must be the ARN of a CloudWatch Logs log group (arn:aws:logs:REGION:ACCOUNT:log-group:NAME), "+
			"an S3 bucket (arn:aws:s3:::BUCKET[/PREFIX]) or a Firehose delivery stream (arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME)", field)
	}
}

// CreateAccessLogSubscription subscribes a destination to a network's or a
// service's access logs.
func (s *Service) CreateAccessLogSubscription(ctx context.Context, in CreateALSInput) (*model.AccessLogSubscription, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	v.Identifier(model.CheckIdentifierMember("resourceIdentifier", in.ResourceIdentifier))
	checkDestination(&v, in.DestinationARN)
	if t := in.ServiceNetworkLogType; t != "" && t != model.LogTypeService && t != model.LogTypeResource {
		v.Addf("serviceNetworkLogType", "serviceNetworkLogType must be one of SERVICE, RESOURCE")
	}
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.checkForeignARN(c, "destinationArn", "the access log destination", in.DestinationARN); err != nil {
		return nil, err
	}
	var out *model.AccessLogSubscription
	err = s.update(ctx, func(tx store.Tx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceIdentifier", in.ResourceIdentifier, false)
		if err != nil {
			return err
		}
		logType := in.ServiceNetworkLogType
		if o.Type == model.TypeServiceNetwork && logType == "" {
			logType = model.LogTypeService
		}
		if o.Type == model.TypeService && logType != "" {
			return model.Invalid("serviceNetworkLogType", "serviceNetworkLogType applies only to service networks")
		}
		out, err = idempotent(tx, c.Account, "CreateAccessLogSubscription", in.ClientToken, in, func() (*model.AccessLogSubscription, error) {
			kind := destinationKind(in.DestinationARN)
			var dup string
			if err := resourceSubscriptions(tx, o.ID, func(a *model.AccessLogSubscription) bool {
				if destinationKind(a.DestinationARN) == kind && a.ServiceNetworkLogType == logType {
					dup = a.ID
					return false
				}
				return true
			}); err != nil {
				return nil, err
			}
			if dup != "" {
				return nil, model.Conflict(model.TypeAccessLogSubscription, dup,
					"%s already has an access log subscription to a %s destination (%s)", o.ID, kind, dup)
			}
			a := &model.AccessLogSubscription{Meta: s.newMeta(c, arn.AccessLogSubscription, in.Tags),
				ResourceID: o.ID, ResourceARN: o.ARN, DestinationARN: in.DestinationARN, ServiceNetworkLogType: logType}
			if err := tx.Put(alsIndexKey(a.ResourceID, a.ID), nil); err != nil {
				return nil, err
			}
			return a, putJSON(tx, pfxALS+a.ID, a)
		})
		return err
	})
	return out, err
}

func (s *Service) loadALS(tx store.ReadTx, c model.Caller, ident string) (*model.AccessLogSubscription, error) {
	return loadOwned[model.AccessLogSubscription](tx, c, arn.AccessLogSubscription, pfxALS, model.TypeAccessLogSubscription,
		"accessLogSubscriptionIdentifier", ident)
}

// GetAccessLogSubscription describes a subscription.
func (s *Service) GetAccessLogSubscription(ctx context.Context, ident string) (*model.AccessLogSubscription, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.AccessLogSubscription
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadALS(tx, c, ident)
		return err
	})
	return out, err
}

// ListAccessLogSubscriptions lists the subscriptions of a network or service.
func (s *Service) ListAccessLogSubscriptions(ctx context.Context, resourceIdent string, p Page) ([]*model.AccessLogSubscription, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if resourceIdent == "" {
		return nil, "", model.Invalid("resourceIdentifier", "resourceIdentifier is required")
	}
	var out []*model.AccessLogSubscription
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceIdentifier", resourceIdent, false)
		if err != nil {
			return err
		}
		out, next, err = listPage(tx, pfxALS, p, func(a *model.AccessLogSubscription) bool { return a.ResourceID == o.ID })
		return err
	})
	return out, next, err
}

// UpdateAccessLogSubscription changes the destination, within its type.
func (s *Service) UpdateAccessLogSubscription(ctx context.Context, ident, dest string) (*model.AccessLogSubscription, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.AccessLogSubscription, "accessLogSubscriptionIdentifier", ident)
	checkDestination(&v, dest)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.checkForeignARN(c, "destinationArn", "the access log destination", dest); err != nil {
		return nil, err
	}
	var out *model.AccessLogSubscription
	err = s.update(ctx, func(tx store.Tx) error {
		a, err := s.loadALS(tx, c, ident)
		if err != nil {
			return err
		}
		if destinationKind(dest) != destinationKind(a.DestinationARN) {
			return model.Invalid("destinationArn", "the new destination must be of the same type as the current one (%s)", destinationKind(a.DestinationARN))
		}
		a.DestinationARN = dest
		a.UpdatedAt = s.now()
		out = a
		return putJSON(tx, pfxALS+a.ID, a)
	})
	return out, err
}

// DeleteAccessLogSubscription removes a subscription.
func (s *Service) DeleteAccessLogSubscription(ctx context.Context, ident string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		a, err := s.loadALS(tx, c, ident)
		if err != nil {
			return err
		}
		if err := tx.Delete(alsIndexKey(a.ResourceID, a.ID)); err != nil {
			return err
		}
		return tx.Delete(pfxALS + a.ID)
	})
}

// resourceSubscriptions calls fn with each access log subscription of a
// service network or service, through the index (not a scan of every
// subscription), until fn returns false.
func resourceSubscriptions(tx store.ReadTx, resourceID string, fn func(*model.AccessLogSubscription) bool) error {
	return indexed(tx, pfxALSbyResource+resourceID+"/", pfxALS, func(a *model.AccessLogSubscription) (bool, error) {
		return fn(a), nil
	})
}

// firstIndexed returns the ID of the first entry under an index prefix
// ("" when there is none): whether anything still uses what the index is
// of, and what, for the ConflictException that says so.
func firstIndexed(tx store.ReadTx, indexPrefix string) (string, error) {
	var id string
	err := tx.Scan(indexPrefix, "", func(k string, _ []byte) (bool, error) {
		id = k[strings.LastIndexByte(k, '/')+1:]
		return false, nil
	})
	return id, err
}

// indexed calls fn with the entity under entityPrefix+ID for each key
// indexPrefix+ID of an index, in ID order, until fn returns false or an
// error. An index entry naming no entity is an error: indexes are written
// in the transaction of the entity they name.
func indexed[T any](tx store.ReadTx, indexPrefix, entityPrefix string, fn func(*T) (bool, error)) error {
	var ids []string
	if err := tx.Scan(indexPrefix, "", func(k string, _ []byte) (bool, error) {
		ids = append(ids, strings.TrimPrefix(k, indexPrefix))
		return true, nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		v, err := getJSON[T](tx, entityPrefix+id)
		if err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("index entry %s%s names nothing under %s", indexPrefix, id, entityPrefix)
		}
		if more, err := fn(v); err != nil || !more {
			return err
		}
	}
	return nil
}
