package service

import (
	"context"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// CreateTargetGroupInput is CreateTargetGroup's request.
type CreateTargetGroupInput struct {
	Name        string
	Type        string
	Config      *model.TargetGroupConfig
	Tags        map[string]string
	ClientToken *string `json:"-"`
}

// TargetGroupDetail is a target group with the ARNs of the services whose
// rules forward to it.
type TargetGroupDetail struct {
	*model.TargetGroup
	ServiceARNs []string
}

func validTargetGroupType(t string) bool {
	switch t {
	case model.TargetGroupTypeIP, model.TargetGroupTypeInstance, model.TargetGroupTypeLambda, model.TargetGroupTypeALB:
		return true
	}
	return false
}

// normaliseTargetGroupConfig validates a CreateTargetGroup config against
// the group type (reference §6) and returns a new config with every default
// filled in. It never modifies cfg. Problems are recorded in v.
func normaliseTargetGroupConfig(v *model.Validator, typ string, cfg *model.TargetGroupConfig) *model.TargetGroupConfig {
	in := model.TargetGroupConfig{}
	if cfg != nil {
		in = *cfg
	}
	if typ == model.TargetGroupTypeLambda {
		// Only the event structure version applies to Lambda target groups.
		notForLambda := func(field string, set bool) {
			if set {
				v.Addf("config."+field, "config.%s is not supported for LAMBDA target groups", field)
			}
		}
		notForLambda("port", in.Port != nil)
		notForLambda("protocol", in.Protocol != "")
		notForLambda("protocolVersion", in.ProtocolVersion != "")
		notForLambda("ipAddressType", in.IPAddressType != "")
		notForLambda("vpcIdentifier", in.VpcIdentifier != "")
		notForLambda("healthCheck", in.HealthCheck != nil)
		out := &model.TargetGroupConfig{LambdaEventStructureVersion: orDefault(in.LambdaEventStructureVersion, model.LambdaEventV1)}
		if lv := out.LambdaEventStructureVersion; lv != model.LambdaEventV1 && lv != model.LambdaEventV2 {
			v.Addf("config.lambdaEventStructureVersion", "config.lambdaEventStructureVersion must be one of V1, V2")
		}
		return out
	}

	out := &model.TargetGroupConfig{Protocol: in.Protocol, VpcIdentifier: in.VpcIdentifier}
	if in.LambdaEventStructureVersion != "" {
		v.Addf("config.lambdaEventStructureVersion", "config.lambdaEventStructureVersion applies only to LAMBDA target groups")
	}
	protocolOK := false
	switch in.Protocol {
	case "":
		v.Addf("config.protocol", "config.protocol is required for %s target groups", typ)
	case model.ProtocolHTTP, model.ProtocolHTTPS, model.ProtocolTCP:
		protocolOK = true
	default:
		v.Addf("config.protocol", "config.protocol must be one of HTTP, HTTPS, TCP")
	}
	switch {
	case in.VpcIdentifier == "":
		v.Addf("config.vpcIdentifier", "config.vpcIdentifier is required for %s target groups", typ)
	case !model.ValidVpcID(in.VpcIdentifier):
		v.Identifier(model.Invalid("config.vpcIdentifier", "config.vpcIdentifier must be a VPC ID: vpc- followed by 8 or 17 lowercase letters and digits"))
	}

	// Port: given, or the protocol's default.
	if in.Port != nil {
		model.CheckPort(v, "config.port", *in.Port)
		out.Port = intPtr(*in.Port)
	} else if protocolOK {
		if in.Protocol == model.ProtocolHTTP {
			out.Port = intPtr(80)
		} else {
			out.Port = intPtr(443)
		}
	}

	// Protocol version: HTTP1 by default; HTTP2 and GRPC only for IP and
	// INSTANCE groups. TCP groups carry no protocol version (only HTTP1 is
	// tolerated, for clients that always send one).
	switch pv := in.ProtocolVersion; pv {
	case "":
		if in.Protocol != model.ProtocolTCP {
			out.ProtocolVersion = model.ProtocolVersionHTTP1
		}
	case model.ProtocolVersionHTTP1:
		out.ProtocolVersion = pv
	case model.ProtocolVersionHTTP2, model.ProtocolVersionGRPC:
		out.ProtocolVersion = pv
		switch {
		case typ != model.TargetGroupTypeIP && typ != model.TargetGroupTypeInstance:
			v.Addf("config.protocolVersion", "config.protocolVersion %s is supported only for IP and INSTANCE target groups", pv)
		case in.Protocol == model.ProtocolTCP:
			v.Addf("config.protocolVersion", "config.protocolVersion %s is not supported for TCP target groups", pv)
		}
	default:
		v.Addf("config.protocolVersion", "config.protocolVersion must be one of HTTP1, HTTP2, GRPC")
	}

	// IP address type: IPV4 by default for IP groups; IPV6 only for them.
	switch at := in.IPAddressType; {
	case at != "" && at != model.IPAddressTypeIPv4 && at != model.IPAddressTypeIPv6:
		v.Addf("config.ipAddressType", "config.ipAddressType must be one of IPV4, IPV6")
	case typ == model.TargetGroupTypeIP:
		out.IPAddressType = orDefault(at, model.IPAddressTypeIPv4)
	case at == model.IPAddressTypeIPv6:
		v.Addf("config.ipAddressType", "config.ipAddressType IPV6 is supported only for IP target groups")
	}

	// Health checks: IP and INSTANCE only; stored with defaults filled.
	if typ == model.TargetGroupTypeALB {
		if in.HealthCheck != nil {
			v.Addf("config.healthCheck", "health checks are not supported for ALB target groups")
		}
		return out
	}
	model.CheckHealthCheck(v, "config.healthCheck", in.HealthCheck)
	out.HealthCheck = tgHealthCheckDefaults(in.HealthCheck, out)
	return out
}

// tgHealthCheckDefaults fills the defaults of a health check for a group
// with config cfg: like model.WithHealthCheckDefaults, but TCP groups, too,
// default to disabled checks.
func tgHealthCheckDefaults(hc *model.HealthCheckConfig, cfg *model.TargetGroupConfig) *model.HealthCheckConfig {
	if cfg.Protocol == model.ProtocolTCP && (hc == nil || hc.Enabled == nil) {
		c := model.HealthCheckConfig{}
		if hc != nil {
			c = *hc
		}
		c.Enabled = boolPtr(false)
		hc = &c
	}
	return model.WithHealthCheckDefaults(hc, cfg.ProtocolVersion)
}

// CreateTargetGroup creates a target group.
func (s *Service) CreateTargetGroup(ctx context.Context, in CreateTargetGroupInput) (*model.TargetGroup, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	model.TargetGroupName.CheckName(&v, "name", in.Name)
	var cfg *model.TargetGroupConfig
	switch {
	case in.Type == "":
		v.Addf("type", "type is required")
	case !validTargetGroupType(in.Type):
		v.Addf("type", "type must be one of IP, INSTANCE, LAMBDA, ALB")
	default:
		cfg = normaliseTargetGroupConfig(&v, in.Type, in.Config)
	}
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.TargetGroup
	err = s.update(ctx, func(tx store.Tx) error {
		out, err = idempotent(tx, c.Account, "CreateTargetGroup", in.ClientToken, in, func() (*model.TargetGroup, error) {
			nk := nameKey(arn.TargetGroup, c.Account, in.Name)
			if _, taken, err := tx.Get(nk); err != nil || taken {
				if err != nil {
					return nil, err
				}
				return nil, model.Conflict(model.TypeTargetGroup, in.Name, "a target group named %q already exists", in.Name)
			}
			n, err := s.countOwned(tx, pfxTargetGroup, c.Account)
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaTargetGroups, "", n, 1); err != nil {
				return nil, err
			}
			tg := &model.TargetGroup{Meta: s.newMeta(c, arn.TargetGroup, in.Tags), Name: in.Name, Type: in.Type,
				Status: model.StatusActive, Config: cloneTargetGroupConfig(cfg)}
			if err := tx.Put(nk, []byte(tg.ID)); err != nil {
				return nil, err
			}
			if tg.Config != nil && tg.Config.VpcIdentifier != "" {
				if err := s.ensureVPC(tx, c, tg.Config.VpcIdentifier); err != nil {
					return nil, err
				}
			}
			if err := addCount(tx, ownedCountKey(pfxTargetGroup, c.Account), 1); err != nil {
				return nil, err
			}
			if vpc := tgVPC(tg); vpc != "" {
				if err := tx.Put(pfxTGbyVpc+vpc+"/"+tg.ID, nil); err != nil {
					return nil, err
				}
			}
			return tg, putJSON(tx, pfxTargetGroup+tg.ID, tg)
		})
		return err
	})
	return out, err
}

// cloneTargetGroupConfig deep-copies a config, so that a transaction that
// runs more than once never shares pointers between runs.
func cloneTargetGroupConfig(c *model.TargetGroupConfig) *model.TargetGroupConfig {
	if c == nil {
		return nil
	}
	out := *c
	if c.Port != nil {
		out.Port = intPtr(*c.Port)
	}
	out.HealthCheck = cloneHealthCheck(c.HealthCheck)
	return &out
}

func cloneHealthCheck(hc *model.HealthCheckConfig) *model.HealthCheckConfig {
	if hc == nil {
		return nil
	}
	out := *hc
	cp := func(p *int) *int {
		if p == nil {
			return nil
		}
		return intPtr(*p)
	}
	if hc.Enabled != nil {
		out.Enabled = boolPtr(*hc.Enabled)
	}
	out.Port = cp(hc.Port)
	out.HealthCheckIntervalSeconds = cp(hc.HealthCheckIntervalSeconds)
	out.HealthCheckTimeoutSeconds = cp(hc.HealthCheckTimeoutSeconds)
	out.HealthyThresholdCount = cp(hc.HealthyThresholdCount)
	out.UnhealthyThresholdCount = cp(hc.UnhealthyThresholdCount)
	if hc.Matcher != nil {
		m := *hc.Matcher
		if m.HTTPCode != nil {
			code := *m.HTTPCode
			m.HTTPCode = &code
		}
		out.Matcher = &m
	}
	return &out
}

func (s *Service) loadTargetGroup(tx store.ReadTx, c model.Caller, ident string) (*model.TargetGroup, error) {
	return s.loadTargetGroupField(tx, c, "targetGroupIdentifier", ident)
}

// targetGroupDetail adds the ARNs of the services using tg.
func (s *Service) targetGroupDetail(tx store.ReadTx, tg *model.TargetGroup) (TargetGroupDetail, error) {
	svcs, err := tgServices(tx, tg.ID)
	if err != nil {
		return TargetGroupDetail{}, err
	}
	d := TargetGroupDetail{TargetGroup: tg}
	for _, id := range svcs {
		d.ServiceARNs = append(d.ServiceARNs, s.arnOf(tg.Account, arn.Service.ResourceType+"/"+id))
	}
	return d, nil
}

// GetTargetGroup describes a target group.
func (s *Service) GetTargetGroup(ctx context.Context, ident string) (TargetGroupDetail, error) {
	c, err := caller(ctx)
	if err != nil {
		return TargetGroupDetail{}, err
	}
	var out TargetGroupDetail
	err = s.view(ctx, func(tx store.ReadTx) error {
		tg, err := s.loadTargetGroup(tx, c, ident)
		if err != nil {
			return err
		}
		out, err = s.targetGroupDetail(tx, tg)
		return err
	})
	return out, err
}

// ListTargetGroupsInput is ListTargetGroups' request.
type ListTargetGroupsInput struct {
	Page
	VpcIdentifier   string
	TargetGroupType string
}

// ListTargetGroups lists the caller's target groups, optionally only those
// in one VPC and/or of one type.
func (s *Service) ListTargetGroups(ctx context.Context, in ListTargetGroupsInput) ([]TargetGroupDetail, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var v model.Validator
	if in.VpcIdentifier != "" {
		v.Identifier(model.CheckIdentifierMember("vpcIdentifier", in.VpcIdentifier))
	}
	if in.TargetGroupType != "" && !validTargetGroupType(in.TargetGroupType) {
		v.Addf("targetGroupType", "targetGroupType must be one of IP, INSTANCE, LAMBDA, ALB")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	var out []TargetGroupDetail
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		var tgs []*model.TargetGroup
		tgs, next, err = listPage(tx, pfxTargetGroup, in.Page, func(tg *model.TargetGroup) bool {
			if tg.Account != c.Account {
				return false
			}
			if in.TargetGroupType != "" && tg.Type != in.TargetGroupType {
				return false
			}
			if in.VpcIdentifier != "" && (tg.Config == nil || tg.Config.VpcIdentifier != in.VpcIdentifier) {
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		out = make([]TargetGroupDetail, 0, len(tgs))
		for _, tg := range tgs {
			d, err := s.targetGroupDetail(tx, tg)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, next, err
}

// UpdateTargetGroupInput is UpdateTargetGroup's request.
type UpdateTargetGroupInput struct {
	Identifier  string
	HealthCheck *model.HealthCheckConfig
}

// mergeHealthCheck overlays the members set in upd onto cur. Numbers set
// to 0 are kept as 0 so that the defaults pass resets them.
func mergeHealthCheck(cur, upd *model.HealthCheckConfig) *model.HealthCheckConfig {
	out := cloneHealthCheck(cur)
	if out == nil {
		out = &model.HealthCheckConfig{}
	}
	u := cloneHealthCheck(upd)
	if u == nil {
		return out
	}
	if u.Enabled != nil {
		out.Enabled = u.Enabled
	}
	if u.Protocol != "" {
		out.Protocol = u.Protocol
	}
	if u.ProtocolVersion != "" {
		out.ProtocolVersion = u.ProtocolVersion
	}
	if u.Port != nil {
		out.Port = u.Port
	}
	if u.Path != "" {
		out.Path = u.Path
	}
	if u.HealthCheckIntervalSeconds != nil {
		out.HealthCheckIntervalSeconds = u.HealthCheckIntervalSeconds
	}
	if u.HealthCheckTimeoutSeconds != nil {
		out.HealthCheckTimeoutSeconds = u.HealthCheckTimeoutSeconds
	}
	if u.HealthyThresholdCount != nil {
		out.HealthyThresholdCount = u.HealthyThresholdCount
	}
	if u.UnhealthyThresholdCount != nil {
		out.UnhealthyThresholdCount = u.UnhealthyThresholdCount
	}
	if u.Matcher != nil {
		out.Matcher = u.Matcher
	}
	return out
}

// UpdateTargetGroup changes the health check of an IP or INSTANCE target
// group, the only mutable part of a target group. Members left out keep
// their value; numbers set to 0 return to their defaults.
func (s *Service) UpdateTargetGroup(ctx context.Context, in UpdateTargetGroupInput) (*model.TargetGroup, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.TargetGroup, "targetGroupIdentifier", in.Identifier)
	if in.HealthCheck == nil {
		v.Addf("healthCheck", "healthCheck is required")
	}
	model.CheckHealthCheck(&v, "healthCheck", in.HealthCheck)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.TargetGroup
	err = s.update(ctx, func(tx store.Tx) error {
		tg, err := s.loadTargetGroup(tx, c, in.Identifier)
		if err != nil {
			return err
		}
		if tg.Type == model.TargetGroupTypeLambda || tg.Type == model.TargetGroupTypeALB {
			return model.Invalid("healthCheck", "health checks are not supported for %s target groups", tg.Type)
		}
		if tg.Config == nil {
			tg.Config = &model.TargetGroupConfig{}
		}
		tg.Config.HealthCheck = tgHealthCheckDefaults(mergeHealthCheck(tg.Config.HealthCheck, in.HealthCheck), tg.Config)
		if err := s.purgeDrainedTargets(tx, tg.ID); err != nil {
			return err
		}
		tg.UpdatedAt = s.now()
		out = tg
		return putJSON(tx, pfxTargetGroup+tg.ID, tg)
	})
	return out, err
}

// DeleteTargetGroup deletes a target group that no rule forwards to, with
// its targets. The returned group has status DELETE_IN_PROGRESS, as Lattice
// answers.
func (s *Service) DeleteTargetGroup(ctx context.Context, ident string) (*model.TargetGroup, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.TargetGroup
	err = s.update(ctx, func(tx store.Tx) error {
		tg, err := s.loadTargetGroup(tx, c, ident)
		if err != nil {
			return err
		}
		users, err := tgServices(tx, tg.ID)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return model.Conflict(model.TypeTargetGroup, tg.ID,
				"target group %s is used by a rule of service %s; remove it from the rule first", tg.ID, users[0])
		}
		if err := deletePrefix(tx, pfxTarget+tg.ID+"/"); err != nil {
			return err
		}
		if err := tx.Delete(nameKey(arn.TargetGroup, tg.Account, tg.Name)); err != nil {
			return err
		}
		if err := addCount(tx, ownedCountKey(pfxTargetGroup, tg.Account), -1); err != nil {
			return err
		}
		if vpc := tgVPC(tg); vpc != "" {
			if err := tx.Delete(pfxTGbyVpc + vpc + "/" + tg.ID); err != nil {
				return err
			}
		}
		tg.Status = model.StatusDeleteInProgress
		out = tg
		return tx.Delete(pfxTargetGroup + tg.ID)
	})
	return out, err
}
