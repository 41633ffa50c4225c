package service

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// CreateResourceConfigurationInput is CreateResourceConfiguration's request.
type CreateResourceConfigurationInput struct {
	Name                                 string
	Type                                 string
	PortRanges                           []string
	Protocol                             string
	ResourceGatewayIdentifier            string
	ResourceConfigurationGroupIdentifier string
	Definition                           *model.ResourceConfigurationDefinition
	AllowShareableSN                     *bool
	CustomDomainName                     string
	GroupDomain                          string
	DomainVerificationIdentifier         string
	Tags                                 map[string]string
	ClientToken                          *string `json:"-"`
}

// checkPortRanges validates portRanges items: "N" or "N-M", 1–65535,
// N ≤ M, at most 11 characters (reference §4.2).
func checkPortRanges(v *model.Validator, field string, rs []string) {
	if len(rs) > 100 {
		v.Addf(field, "%s must have at most 100 entries", field)
	}
	port := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 1 && n <= 65535 && s == strconv.Itoa(n)
	}
	for _, r := range rs {
		lo, hi, isRange := strings.Cut(r, "-")
		a, okA := port(lo)
		b, okB := a, okA
		if isRange {
			b, okB = port(hi)
		}
		if len(r) > 11 || !okA || !okB || a > b {
			v.Addf(field, "%s item %q must be a port (1-65535) or a range N-M with N <= M", field, r)
		}
	}
}

// checkDefinition validates a definition for a configuration of type typ:
// exactly one member; ARN configurations take arnResource only, SINGLE and
// CHILD ipResource or dnsResource.
func checkDefinition(v *model.Validator, typ string, d *model.ResourceConfigurationDefinition) {
	const f = "resourceConfigurationDefinition"
	if d == nil {
		v.Addf(f, "%s is required for %s resource configurations", f, typ)
		return
	}
	n := 0
	for _, set := range []bool{d.IPResource != nil, d.DNSResource != nil, d.ARNResource != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.Addf(f, "%s must have exactly one of ipResource, dnsResource, arnResource", f)
		return
	}
	switch {
	case d.ARNResource != nil:
		if typ != model.ResourceConfigurationTypeARN {
			v.Addf(f+".arnResource", "arnResource applies only to ARN resource configurations")
			return
		}
		model.CheckARN(v, f+".arnResource.arn", d.ARNResource.ARN, 20, 1011)
		return
	case typ == model.ResourceConfigurationTypeARN:
		v.Addf(f+".arnResource", "ARN resource configurations take an arnResource")
	case d.IPResource != nil:
		a, err := netip.ParseAddr(d.IPResource.IPAddress)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			v.Addf(f+".ipResource.ipAddress", "ipAddress must be an IPv4 or IPv6 address")
		}
	case d.DNSResource != nil:
		model.CheckDomainName(v, f+".dnsResource.domainName", d.DNSResource.DomainName)
		if strings.HasPrefix(d.DNSResource.DomainName, "*.") {
			v.Addf(f+".dnsResource.domainName", "domainName must not be a wildcard")
		}
		switch d.DNSResource.IPAddressType {
		case "", model.IPAddressTypeIPv4, model.IPAddressTypeIPv6, model.IPAddressTypeDualstack:
		default:
			v.Addf(f+".dnsResource.ipAddressType", "ipAddressType must be one of IPV4, IPV6, DUALSTACK")
		}
	}
}

func cloneDefinition(d *model.ResourceConfigurationDefinition) *model.ResourceConfigurationDefinition {
	if d == nil {
		return nil
	}
	out := &model.ResourceConfigurationDefinition{}
	if d.IPResource != nil {
		r := *d.IPResource
		out.IPResource = &r
	}
	if d.DNSResource != nil {
		r := *d.DNSResource
		r.IPAddressType = orDefault(r.IPAddressType, model.IPAddressTypeIPv4)
		out.DNSResource = &r
	}
	if d.ARNResource != nil {
		r := *d.ARNResource
		out.ARNResource = &r
	}
	return out
}

// checkRcfgInput validates the members that apply to each type (reference
// §2.1: "which apply depends on type"): SINGLE and GROUP carry port ranges
// and a gateway, ARN a gateway, CHILD only its group and its definition.
func checkRcfgInput(v *model.Validator, in *CreateResourceConfigurationInput) {
	resourceConfigName.CheckName(v, "name", in.Name)
	t := in.Type
	switch t {
	case "":
		v.Addf("type", "type is required")
		return
	case model.ResourceConfigurationTypeSingle, model.ResourceConfigurationTypeGroup,
		model.ResourceConfigurationTypeChild, model.ResourceConfigurationTypeARN:
	default:
		v.Addf("type", "type must be one of SINGLE, GROUP, CHILD, ARN")
		return
	}
	switch in.Protocol {
	case "", model.ProtocolTCP:
	default:
		v.Addf("protocol", "protocol must be TCP")
	}
	notFor := func(field string, set bool) {
		if set {
			v.Addf(field, "%s does not apply to %s resource configurations", field, t)
		}
	}
	if t == model.ResourceConfigurationTypeChild {
		if in.ResourceConfigurationGroupIdentifier == "" {
			v.Addf("resourceConfigurationGroupIdentifier", "resourceConfigurationGroupIdentifier is required for CHILD resource configurations")
		} else {
			checkIdentifier(v, arn.ResourceConfiguration, "resourceConfigurationGroupIdentifier", in.ResourceConfigurationGroupIdentifier)
		}
		notFor("resourceGatewayIdentifier", in.ResourceGatewayIdentifier != "")
		notFor("portRanges", in.PortRanges != nil)
		notFor("protocol", in.Protocol != "")
		notFor("allowAssociationToShareableServiceNetwork", in.AllowShareableSN != nil)
		notFor("groupDomain", in.GroupDomain != "")
	} else {
		notFor("resourceConfigurationGroupIdentifier", in.ResourceConfigurationGroupIdentifier != "")
		if in.ResourceGatewayIdentifier == "" {
			v.Addf("resourceGatewayIdentifier", "resourceGatewayIdentifier is required for %s resource configurations", t)
		} else {
			checkIdentifier(v, arn.ResourceGateway, "resourceGatewayIdentifier", in.ResourceGatewayIdentifier)
		}
	}
	switch t {
	case model.ResourceConfigurationTypeSingle, model.ResourceConfigurationTypeGroup:
		if len(in.PortRanges) == 0 {
			v.Addf("portRanges", "portRanges is required for %s resource configurations", t)
		}
		checkPortRanges(v, "portRanges", in.PortRanges)
	case model.ResourceConfigurationTypeARN:
		notFor("portRanges", in.PortRanges != nil)
	}
	if t == model.ResourceConfigurationTypeGroup {
		notFor("resourceConfigurationDefinition", in.Definition != nil)
		notFor("customDomainName", in.CustomDomainName != "")
		if in.GroupDomain != "" {
			model.CheckDomainName(v, "groupDomain", in.GroupDomain)
		}
	} else {
		checkDefinition(v, t, in.Definition)
		notFor("groupDomain", in.GroupDomain != "" && t != model.ResourceConfigurationTypeChild)
		if in.CustomDomainName != "" {
			model.CheckDomainName(v, "customDomainName", in.CustomDomainName)
		}
	}
	if in.DomainVerificationIdentifier != "" {
		if in.CustomDomainName == "" && in.GroupDomain == "" {
			v.Addf("domainVerificationIdentifier", "domainVerificationIdentifier needs a customDomainName or groupDomain")
		}
		checkIdentifier(v, arn.DomainVerification, "domainVerificationIdentifier", in.DomainVerificationIdentifier)
	}
}

// validDVID reports whether s is dv- followed by 17 hexadecimal digits
// (reference §1: dv-[a-fA-F0-9]{17}).
func validDVID(s string) bool {
	rest, ok := strings.CutPrefix(s, "dv-")
	if !ok || len(rest) != 17 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i] | 0x20
		if (c < 'a' || c > 'f') && (rest[i] < '0' || rest[i] > '9') {
			return false
		}
	}
	return true
}

// CreateResourceConfiguration creates a resource configuration. A CHILD
// takes its gateway, port ranges and protocol from its GROUP.
func (s *Service) CreateResourceConfiguration(ctx context.Context, in CreateResourceConfigurationInput) (*model.ResourceConfiguration, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkRcfgInput(&v, &in)
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.ResourceConfiguration
	err = s.update(ctx, func(tx store.Tx) error {
		out, err = idempotent(tx, c.Account, "CreateResourceConfiguration", in.ClientToken, in, func() (*model.ResourceConfiguration, error) {
			rc := &model.ResourceConfiguration{Meta: s.newMeta(c, arn.ResourceConfiguration, in.Tags), Name: in.Name,
				Type: in.Type, Status: model.StatusActive, Definition: cloneDefinition(in.Definition),
				CustomDomainName: in.CustomDomainName, GroupDomain: in.GroupDomain}
			if in.Type == model.ResourceConfigurationTypeChild {
				g, err := s.loadResourceConfig(tx, c, "resourceConfigurationGroupIdentifier", in.ResourceConfigurationGroupIdentifier)
				if err != nil {
					return nil, err
				}
				if g.Type != model.ResourceConfigurationTypeGroup {
					return nil, model.Invalid("resourceConfigurationGroupIdentifier", "resource configuration %s is of type %s, not GROUP", g.ID, g.Type)
				}
				n, err := countPrefix(tx, pfxRcfgByGroup+g.ID+"/")
				if err != nil {
					return nil, err
				}
				if err := s.quota(model.QuotaChildrenPerGroup, g.ID, n, 1); err != nil {
					return nil, err
				}
				rc.GroupID, rc.ResourceGatewayID = g.ID, g.ResourceGatewayID
				rc.PortRanges, rc.Protocol, rc.AllowShareableSN = slices.Clone(g.PortRanges), g.Protocol, g.AllowShareableSN
				if err := tx.Put(pfxRcfgByGroup+g.ID+"/"+rc.ID, nil); err != nil {
					return nil, err
				}
			} else {
				gw, err := s.loadResourceGateway(tx, c, "resourceGatewayIdentifier", in.ResourceGatewayIdentifier)
				if err != nil {
					return nil, err
				}
				rc.ResourceGatewayID = gw.ID
				rc.PortRanges = slices.Clone(in.PortRanges)
				if in.Type != model.ResourceConfigurationTypeARN {
					rc.Protocol = model.ProtocolTCP
				}
				// Lattice's default: a configuration may join a service
				// network that is shared with other accounts.
				rc.AllowShareableSN = in.AllowShareableSN == nil || *in.AllowShareableSN
			}
			if in.DomainVerificationIdentifier != "" {
				id, err := s.checkDomainVerificationUse(tx, c, in.DomainVerificationIdentifier, orDefault(in.CustomDomainName, in.GroupDomain))
				if err != nil {
					return nil, err
				}
				rc.DomainVerificationID = id
			}
			nk := nameKey(arn.ResourceConfiguration, c.Account, in.Name)
			if _, taken, err := tx.Get(nk); err != nil || taken {
				if err != nil {
					return nil, err
				}
				return nil, model.Conflict(model.TypeResourceConfiguration, in.Name, "a resource configuration named %q already exists", in.Name)
			}
			n, err := countPrefix(tx, pfxRcfgByAccount+c.Account+"/")
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaResourceConfigurations, "", n, 1); err != nil {
				return nil, err
			}
			for _, k := range []string{nk, pfxRcfgByAccount + c.Account + "/" + rc.ID, pfxRcfgByGateway + rc.ResourceGatewayID + "/" + rc.ID} {
				val := []byte(nil)
				if k == nk {
					val = []byte(rc.ID)
				}
				if err := tx.Put(k, val); err != nil {
					return nil, err
				}
			}
			return rc, putJSON(tx, pfxResourceConfig+rc.ID, rc)
		})
		return err
	})
	return out, err
}

func (s *Service) loadResourceConfig(tx store.ReadTx, c model.Caller, field, ident string) (*model.ResourceConfiguration, error) {
	return loadOwned[model.ResourceConfiguration](tx, c, arn.ResourceConfiguration, pfxResourceConfig, model.TypeResourceConfiguration, field, ident)
}

// GetResourceConfiguration describes a resource configuration of the
// caller, or one shared with it through RAM and named by its ARN.
func (s *Service) GetResourceConfiguration(ctx context.Context, ident string) (*model.ResourceConfiguration, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.ResourceConfiguration
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, _, err = loadShared[model.ResourceConfiguration](tx, c, arn.ResourceConfiguration, pfxResourceConfig,
			model.TypeResourceConfiguration, "resourceConfigurationIdentifier", ident)
		return err
	})
	return out, err
}

// ListResourceConfigurationsInput is ListResourceConfigurations' request.
type ListResourceConfigurationsInput struct {
	Page
	ResourceGatewayIdentifier            string
	ResourceConfigurationGroupIdentifier string
	DomainVerificationIdentifier         string
}

// ListResourceConfigurations lists the caller's resource configurations,
// optionally only those of one gateway, one group or one verified domain.
func (s *Service) ListResourceConfigurations(ctx context.Context, in ListResourceConfigurationsInput) ([]*model.ResourceConfiguration, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var v model.Validator
	var gw, grp arn.Ref
	if in.ResourceGatewayIdentifier != "" {
		gw, err = resolve(arn.ResourceGateway, "resourceGatewayIdentifier", in.ResourceGatewayIdentifier)
		v.Identifier(err)
	}
	if in.ResourceConfigurationGroupIdentifier != "" {
		grp, err = resolve(arn.ResourceConfiguration, "resourceConfigurationGroupIdentifier", in.ResourceConfigurationGroupIdentifier)
		v.Identifier(err)
	}
	dv := in.DomainVerificationIdentifier
	if dv != "" {
		if i := strings.LastIndexByte(dv, '/'); strings.HasPrefix(dv, "arn:") && i >= 0 {
			dv = dv[i+1:]
		}
		if !validDVID(dv) {
			v.Addf("domainVerificationIdentifier", "domainVerificationIdentifier must be the ID or ARN of a domain verification")
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	var out []*model.ResourceConfiguration
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxResourceConfig, in.Page, func(rc *model.ResourceConfiguration) bool {
			return rc.Account == c.Account && (gw.ID == "" || rc.ResourceGatewayID == gw.ID) &&
				(grp.ID == "" || rc.GroupID == grp.ID) && (dv == "" || rc.DomainVerificationID == dv)
		})
		return err
	})
	return out, next, err
}

// UpdateResourceConfigurationInput is UpdateResourceConfiguration's request.
type UpdateResourceConfigurationInput struct {
	Identifier       string
	Definition       *model.ResourceConfigurationDefinition
	AllowShareableSN *bool
	PortRanges       []string
}

// UpdateResourceConfiguration changes a configuration's definition
// (SINGLE, CHILD, ARN), port ranges (SINGLE, GROUP; a GROUP's children
// follow) or allowAssociationToShareableServiceNetwork (not CHILD). Members
// left out keep their value.
func (s *Service) UpdateResourceConfiguration(ctx context.Context, in UpdateResourceConfigurationInput) (*model.ResourceConfiguration, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.ResourceConfiguration, "resourceConfigurationIdentifier", in.Identifier)
	if in.PortRanges != nil {
		if len(in.PortRanges) == 0 {
			v.Addf("portRanges", "portRanges must have at least one entry")
		}
		checkPortRanges(&v, "portRanges", in.PortRanges)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.ResourceConfiguration
	err = s.update(ctx, func(tx store.Tx) error {
		rc, err := s.loadResourceConfig(tx, c, "resourceConfigurationIdentifier", in.Identifier)
		if err != nil {
			return err
		}
		var v model.Validator
		t := rc.Type
		if in.Definition != nil {
			if t == model.ResourceConfigurationTypeGroup {
				v.Addf("resourceConfigurationDefinition", "resourceConfigurationDefinition does not apply to GROUP resource configurations")
			} else {
				checkDefinition(&v, t, in.Definition)
			}
		}
		if in.PortRanges != nil && t != model.ResourceConfigurationTypeSingle && t != model.ResourceConfigurationTypeGroup {
			v.Addf("portRanges", "portRanges can be changed only on SINGLE and GROUP resource configurations")
		}
		if in.AllowShareableSN != nil && t == model.ResourceConfigurationTypeChild {
			v.Addf("allowAssociationToShareableServiceNetwork", "a CHILD takes allowAssociationToShareableServiceNetwork from its group")
		}
		if err := v.Err(); err != nil {
			return err
		}
		if in.Definition != nil {
			rc.Definition = cloneDefinition(in.Definition)
		}
		if in.PortRanges != nil {
			rc.PortRanges = slices.Clone(in.PortRanges)
		}
		if in.AllowShareableSN != nil {
			rc.AllowShareableSN = *in.AllowShareableSN
		}
		rc.UpdatedAt = s.now()
		if t == model.ResourceConfigurationTypeGroup && (in.PortRanges != nil || in.AllowShareableSN != nil) {
			if err := s.syncChildren(tx, rc); err != nil {
				return err
			}
		}
		out = rc
		return putJSON(tx, pfxResourceConfig+rc.ID, rc)
	})
	return out, err
}

// syncChildren copies a GROUP's inherited members to its children.
func (s *Service) syncChildren(tx store.Tx, g *model.ResourceConfiguration) error {
	var ids []string
	if err := tx.Scan(pfxRcfgByGroup+g.ID+"/", "", func(k string, _ []byte) (bool, error) {
		ids = append(ids, k[strings.LastIndexByte(k, '/')+1:])
		return true, nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		ch, err := getJSON[model.ResourceConfiguration](tx, pfxResourceConfig+id)
		if err != nil || ch == nil {
			return err
		}
		ch.PortRanges, ch.AllowShareableSN, ch.UpdatedAt = slices.Clone(g.PortRanges), g.AllowShareableSN, g.UpdatedAt
		if err := putJSON(tx, pfxResourceConfig+id, ch); err != nil {
			return err
		}
	}
	return nil
}

// DeleteResourceConfiguration deletes a resource configuration that no
// service network is associated with. A GROUP with children is refused
// too (delete the children first): Trellis never deletes what the caller
// did not name.
func (s *Service) DeleteResourceConfiguration(ctx context.Context, ident string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		rc, err := s.loadResourceConfig(tx, c, "resourceConfigurationIdentifier", ident)
		if err != nil {
			return err
		}
		if err := rcfgInUse(tx, rc); err != nil {
			return err
		}
		if rc.GroupID != "" {
			if err := tx.Delete(pfxRcfgByGroup + rc.GroupID + "/" + rc.ID); err != nil {
				return err
			}
		}
		for _, k := range []string{nameKey(arn.ResourceConfiguration, rc.Account, rc.Name),
			pfxRcfgByAccount + rc.Account + "/" + rc.ID, pfxRcfgByGateway + rc.ResourceGatewayID + "/" + rc.ID,
			pfxResourceConfig + rc.ID} {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// rcfgInUse refuses the deletion of a configuration that has children or
// service-network associations.
func rcfgInUse(tx store.ReadTx, rc *model.ResourceConfiguration) error {
	child, err := firstIndexed(tx, pfxRcfgByGroup+rc.ID+"/")
	if err != nil {
		return err
	}
	if child != "" {
		return model.Conflict(model.TypeResourceConfiguration, rc.ID,
			"resource configuration group %s has child configuration %s; delete the children first", rc.ID, child)
	}
	return snraInUse(tx, rc)
}
