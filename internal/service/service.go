package service

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-net/trellis/internal/ca"
	"net/netip"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Config configures a Service.
type Config struct {
	Region    string // e.g. us-east-1
	Partition string // "aws" unless set
	// DNSToken is the opaque partition token in generated service DNS names
	// (reference §1.3); stable for an installation.
	DNSToken string
	Quotas   model.Quotas
	// DrainTime is how long a deregistered target stays DRAINING (default 1 minute).
	DrainTime time.Duration
	// IngressPrefix is where host-mode VPCs get their ingress addresses
	// (default 127.171.0.0/16).
	IngressPrefix netip.Prefix
	// Netns reports whether this host can run network-namespace VPCs (mode
	// netns): nil or an error refuses them at PUT, with the error's text.
	Netns func() error
	// AdminAccount is the installation's default account: its root is the
	// administrator, the only caller that may create, change and delete
	// accounts and manage other accounts' identities. Empty means no caller
	// is the administrator.
	AdminAccount string
	// CA issues the certificates RequestCertificate asks for; nil refuses
	// RequestCertificate (certificate.go).
	CA    *ca.CA
	Now   func() time.Time
	NewID func(arn.Kind) string
	// DomainVerificationResolver is the DNS server (IP:PORT) that
	// domain verifications ask for their TXT record; empty: none, and only
	// the administrator's verify path marks a domain VERIFIED
	// (domain_verification.go).
	DomainVerificationResolver string
	// DomainVerificationTimeout is how long a verification may stay
	// PENDING before it is VERIFICATION_TIMED_OUT (default
	// DefaultDomainVerificationTimeout; domain_verification.go).
	DomainVerificationTimeout time.Duration
}

// Service implements the Lattice operations on a store.
type Service struct {
	st  store.Store
	cfg Config
	// health reports the live status of targets (the data plane's health
	// checker); nil until the data plane is wired in.
	health TargetHealth
}

// TargetHealth is what ListTargets asks about a target's health.
type TargetHealth interface {
	// TargetStatus returns the status and reason code of a target, or ok=false
	// when the checker has no opinion yet.
	TargetStatus(targetGroupID, targetID string, port int) (status, reason string, ok bool)
}

// New returns a Service on st.
func New(st store.Store, cfg Config) *Service {
	if cfg.Partition == "" {
		cfg.Partition = "aws"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = arn.NewID
	}
	if cfg.DrainTime == 0 {
		cfg.DrainTime = time.Minute
	}
	if !cfg.IngressPrefix.IsValid() {
		cfg.IngressPrefix = DefaultIngressPrefix
	}
	if cfg.DomainVerificationTimeout <= 0 {
		cfg.DomainVerificationTimeout = DefaultDomainVerificationTimeout
	}
	if cfg.Quotas == nil {
		cfg.Quotas = model.Quotas{}
	}
	return &Service{st: st, cfg: cfg}
}

// SetTargetHealth connects the health checker.
func (s *Service) SetTargetHealth(h TargetHealth) { s.health = h }

// Region returns the configured region.
func (s *Service) Region() string { return s.cfg.Region }

type callerKey struct{}

// WithCaller returns ctx carrying the authenticated caller.
func WithCaller(ctx context.Context, c model.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller in ctx.
func CallerFrom(ctx context.Context) (model.Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(model.Caller)
	return c, ok
}

func caller(ctx context.Context) (model.Caller, error) {
	c, ok := CallerFrom(ctx)
	if !ok || c.Account == "" {
		return model.Caller{}, model.AccessDenied("the request has no authenticated caller")
	}
	return c, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) arnOf(account, resource string) string {
	return arn.Lattice(s.cfg.Partition, s.cfg.Region, account, resource)
}

func (s *Service) newMeta(c model.Caller, kind arn.Kind, tags map[string]string) model.Meta {
	id := s.cfg.NewID(kind)
	now := s.now()
	return model.Meta{ID: id, ARN: s.arnOf(c.Account, kind.ResourceType+"/"+id), Account: c.Account,
		CreatedAt: now, UpdatedAt: now, Tags: cloneTags(tags)}
}

func cloneTags(t map[string]string) map[string]string {
	if len(t) == 0 {
		return nil
	}
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// ---- keys ----

// Key prefixes, from the one schema the snapshot compiler reads too.
const (
	pfxServiceNetwork = schema.ServiceNetwork
	pfxService        = schema.Service
	pfxListener       = schema.Listener
	pfxRule           = schema.Rule
	pfxTargetGroup    = schema.TargetGroup
	pfxTarget         = schema.Target
	pfxSNSA           = schema.SNSA
	pfxSNVA           = schema.SNVA
	pfxAuthPolicy     = schema.AuthPolicy
	pfxResourcePolicy = schema.ResourcePolicy
	pfxALS            = schema.ALS
	pfxVPC            = schema.VPC
	pfxName           = schema.Name
	pfxToken          = schema.Token
	pfxTGRef          = schema.TGRef
	pfxSNSAbySN       = schema.SNSAbySN
	pfxSNSAbySvc      = schema.SNSAbySvc
	pfxSNVAbySN       = schema.SNVAbySN
	pfxSNVAbyVpc      = schema.SNVAbyVpc
	pfxVPCAddr        = schema.VPCAddr
)

func nameKey(kind arn.Kind, account, name string) string {
	return pfxName + kind.Prefix + "/" + account + "/" + name
}

// ---- typed store helpers ----

func getJSON[T any](tx store.ReadTx, key string) (*T, error) {
	b, ok, err := tx.Get(key)
	if err != nil || !ok {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, nil
}

func putJSON(tx store.Tx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return tx.Put(key, b)
}

func scanJSON[T any](tx store.ReadTx, prefix string, fn func(key string, v *T) (bool, error)) error {
	return tx.Scan(prefix, "", func(k string, b []byte) (bool, error) {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return false, fmt.Errorf("decode %s: %w", k, err)
		}
		return fn(k, v)
	})
}

func hasPrefix(tx store.ReadTx, prefix string) (bool, error) {
	found := false
	err := tx.Scan(prefix, "", func(string, []byte) (bool, error) { found = true; return false, nil })
	return found, err
}

func countPrefix(tx store.ReadTx, prefix string) (int, error) {
	n := 0
	err := tx.Scan(prefix, "", func(string, []byte) (bool, error) { n++; return true, nil })
	return n, err
}

func deletePrefix(tx store.Tx, prefix string) error {
	var keys []string
	if err := tx.Scan(prefix, "", func(k string, _ []byte) (bool, error) { keys = append(keys, k); return true, nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// ---- identifiers ----

// resolve turns an ID-or-ARN identifier into an ID of kind. A malformed
// identifier is a ValidationException naming field.
func resolve(kind arn.Kind, field, ident string) (arn.Ref, error) {
	return model.ParseIdentifier(kind, field, ident)
}

// owned returns NotFound unless the resource belongs to the caller's account
// and, when the identifier was an ARN, the ARN names this very resource.
func owned(c model.Caller, m *model.Meta, ref arn.Ref, resourceType string) error {
	if m.Account != c.Account {
		return model.NotFound(resourceType, m.ID)
	}
	if ref.ARN.Resource != "" && ref.ARN.String() != m.ARN {
		return model.NotFound(resourceType, m.ID)
	}
	return nil
}

// metaPtr is a pointer to an entity that embeds model.Meta.
type metaPtr[T any] interface {
	*T
	GetMeta() *model.Meta
}

// loadOwned resolves an ID-or-ARN identifier of kind (field names it in
// errors), reads the entity at prefix+ID and checks the caller owns it.
func loadOwned[T any, P metaPtr[T]](tx store.ReadTx, c model.Caller, kind arn.Kind, prefix, resourceType, field, ident string) (*T, error) {
	ref, err := resolve(kind, field, ident)
	if err != nil {
		return nil, err
	}
	v, err := getJSON[T](tx, prefix+ref.ID)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, model.NotFound(resourceType, ref.ID)
	}
	return v, owned(c, P(v).GetMeta(), ref, resourceType)
}

// ---- pagination ----

// Page asks for one page of a list.
type Page struct {
	MaxResults int // 0 means the default
	NextToken  string
}

// DefaultPageSize is the page size when maxResults is not given.
const DefaultPageSize = 50

func (p Page) limit() int {
	if p.MaxResults <= 0 {
		return DefaultPageSize
	}
	return p.MaxResults
}

// after decodes NextToken into the store key to resume after.
func (p Page) after(prefix string) (string, error) {
	if p.NextToken == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.NextToken)
	if err != nil || !strings.HasPrefix(string(b), prefix) {
		return "", model.Invalid("nextToken", "nextToken is not a token this operation returned")
	}
	return string(b), nil
}

func pageToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// listPage scans prefix from the page's token, keeps the values accepted by
// keep, and returns at most the page's limit and the next token.
func listPage[T any](tx store.ReadTx, prefix string, p Page, keep func(*T) bool) ([]*T, string, error) {
	after, err := p.after(prefix)
	if err != nil {
		return nil, "", err
	}
	limit := p.limit()
	var out []*T
	next := ""
	err = tx.Scan(prefix, after, func(k string, b []byte) (bool, error) {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return false, fmt.Errorf("decode %s: %w", k, err)
		}
		if !keep(v) {
			return true, nil
		}
		if len(out) == limit {
			next = pageToken(after)
			return false, nil
		}
		out = append(out, v)
		after = k
		return true, nil
	})
	return out, next, err
}

// ---- idempotency ----

type tokenRecord struct {
	ParamsHash string          `json:"paramsHash"`
	Result     json.RawMessage `json:"result"`
	// At is when the token was first used; set only for tokens that
	// expire (idempotentWithin).
	At time.Time `json:"at,omitzero"`
}

// idempotent runs create unless token was used before by the same account
// for the same operation: then it returns the first result when the
// parameters are identical, or a ConflictException when they differ.
func idempotent[T any](tx store.Tx, account, op string, token *string, params any, create func() (*T, error)) (*T, error) {
	return idempotentWithin(tx, account, op, token, params, time.Time{}, 0, create)
}

// idempotentWithin is idempotent for a token that counts only for ttl
// after its first use at now (ACM's IdempotencyToken: one hour); ttl 0
// never expires.
func idempotentWithin[T any](tx store.Tx, account, op string, token *string, params any, now time.Time, ttl time.Duration, create func() (*T, error)) (*T, error) {
	if token == nil {
		return create()
	}
	pb, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pb)
	hash := hex.EncodeToString(sum[:])
	key := pfxToken + account + "/" + op + "/" + *token
	rec, err := getJSON[tokenRecord](tx, key)
	if err != nil {
		return nil, err
	}
	if rec != nil && ttl > 0 && now.Sub(rec.At) >= ttl {
		rec = nil // expired: the token starts afresh
	}
	if rec != nil {
		if rec.ParamsHash != hash {
			return nil, model.Conflict(model.TypeClientToken, *token,
				"clientToken %q was already used with different parameters", *token)
		}
		out := new(T)
		if err := json.Unmarshal(rec.Result, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	out, err := create()
	if err != nil {
		return nil, err
	}
	rb, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	rec = &tokenRecord{ParamsHash: hash, Result: rb}
	if ttl > 0 {
		rec.At = now
	}
	return out, putJSON(tx, key, rec)
}

// ---- transactions ----

func (s *Service) update(ctx context.Context, fn func(tx store.Tx) error) error {
	_, err := s.st.Update(ctx, fn)
	return err
}

func (s *Service) view(ctx context.Context, fn func(tx store.ReadTx) error) error {
	return s.st.View(ctx, fn)
}

// quota returns a Quota error when n+add exceeds q's limit.
func (s *Service) quota(q model.Quota, resourceID string, n, add int) error {
	if limit := s.cfg.Quotas.Limit(q); n+add > limit {
		return model.QuotaExceeded(q, resourceID, limit)
	}
	return nil
}

var errStop = errors.New("stop")

func boolPtr(b bool) *bool { return &b }
func intPtr(i int) *int    { return &i }
