package service

import (
	"context"
	"encoding/json"
	"maps"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// taggedKey returns the store key of the resource an ARN names.
func taggedKey(ref arn.Ref) (key, resourceType string) {
	switch ref.Kind {
	case arn.ServiceNetwork:
		return pfxServiceNetwork + ref.ID, model.TypeServiceNetwork
	case arn.Service:
		return pfxService + ref.ID, model.TypeService
	case arn.Listener:
		return pfxListener + ref.ServiceID + "/" + ref.ID, model.TypeListener
	case arn.Rule:
		return pfxRule + ref.ListenerID + "/" + ref.ID, model.TypeRule
	case arn.TargetGroup:
		return pfxTargetGroup + ref.ID, model.TypeTargetGroup
	case arn.ServiceNetworkServiceAssociation:
		return pfxSNSA + ref.ID, model.TypeServiceNetworkServiceAssociation
	case arn.ServiceNetworkVpcAssociation:
		return pfxSNVA + ref.ID, model.TypeServiceNetworkVpcAssociation
	case arn.AccessLogSubscription:
		return pfxALS + ref.ID, model.TypeAccessLogSubscription
	case arn.ResourceGateway:
		return pfxResourceGateway + ref.ID, model.TypeResourceGateway
	case arn.ResourceConfiguration:
		return pfxResourceConfig + ref.ID, model.TypeResourceConfiguration
	}
	return "", ""
}

// tagged loads the raw JSON of the resource an ARN names, checking that
// it belongs to the caller.
func (s *Service) tagged(tx store.ReadTx, c model.Caller, resourceARN string) (key string, raw map[string]json.RawMessage, meta *model.Meta, err error) {
	if len(resourceARN) < 20 || len(resourceARN) > 1224 {
		return "", nil, nil, model.Invalid("resourceArn", "resourceArn must be between 20 and 1224 characters long")
	}
	ref, err := arn.ParseLattice(resourceARN)
	if err != nil {
		return "", nil, nil, model.Invalid("resourceArn", "resourceArn must be the ARN of a VPC Lattice resource")
	}
	key, typ := taggedKey(ref)
	if key == "" {
		return "", nil, nil, model.Invalid("resourceArn", "Trellis cannot tag %s resources yet", ref.Kind.ResourceType)
	}
	b, ok, err := tx.Get(key)
	if err != nil {
		return "", nil, nil, err
	}
	if !ok {
		return "", nil, nil, model.NotFound(typ, resourceARN)
	}
	meta = new(model.Meta)
	if err := json.Unmarshal(b, meta); err != nil {
		return "", nil, nil, err
	}
	if meta.ARN != resourceARN || meta.Account != c.Account {
		return "", nil, nil, model.NotFound(typ, resourceARN)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return "", nil, nil, err
	}
	return key, raw, meta, nil
}

// ListTagsForResource returns a resource's tags.
func (s *Service) ListTagsForResource(ctx context.Context, resourceARN string) (map[string]string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out map[string]string
	err = s.view(ctx, func(tx store.ReadTx) error {
		_, _, meta, err := s.tagged(tx, c, resourceARN)
		if err != nil {
			return err
		}
		out = meta.Tags
		return nil
	})
	return out, err
}

// retag rewrites the tags member of a resource's JSON, leaving every other
// member as it was.
func (s *Service) retag(ctx context.Context, resourceARN string, change func(map[string]string) error) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		key, raw, meta, err := s.tagged(tx, c, resourceARN)
		if err != nil {
			return err
		}
		tags := maps.Clone(meta.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		if err := change(tags); err != nil {
			return err
		}
		if len(tags) == 0 {
			delete(raw, "tags")
		} else {
			b, err := json.Marshal(tags)
			if err != nil {
				return err
			}
			raw["tags"] = b
		}
		return putJSON(tx, key, raw)
	})
}

// TagResource adds or replaces tags.
func (s *Service) TagResource(ctx context.Context, resourceARN string, tags map[string]string) error {
	var v model.Validator
	v.Identifier(model.CheckIdentifierMember("resourceArn", resourceARN))
	if len(tags) == 0 {
		v.Addf("tags", "tags must have at least one entry")
	}
	model.CheckTags(&v, "tags", tags)
	if err := v.Err(); err != nil {
		return err
	}
	return s.retag(ctx, resourceARN, func(cur map[string]string) error {
		maps.Copy(cur, tags)
		if len(cur) > model.MaxTags {
			return model.Invalid("tags", "a resource can have at most %d tags", model.MaxTags)
		}
		return nil
	})
}

// UntagResource removes tags by key.
func (s *Service) UntagResource(ctx context.Context, resourceARN string, keys []string) error {
	var v model.Validator
	v.Identifier(model.CheckIdentifierMember("resourceArn", resourceARN))
	if len(keys) > 200 {
		v.Addf("tagKeys", "tagKeys must have at most 200 entries")
	}
	for _, k := range keys {
		if len(k) < 1 || len(k) > 128 {
			v.Addf("tagKeys", "tag key %q must be between 1 and 128 characters long", k)
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.retag(ctx, resourceARN, func(cur map[string]string) error {
		for _, k := range keys {
			delete(cur, k)
		}
		return nil
	})
}
