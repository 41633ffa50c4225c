package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/sigv4"
)

// The ACM API (docs/certificates.md) on the API address, told apart from
// Lattice as AWS tells services apart: AWS JSON 1.1, POST / with
// X-Amz-Target: CertificateManager.<Operation>, SigV4 signing name "acm".
// Blobs are base64 in JSON, timestamps epoch seconds; errors carry their
// type in X-Amzn-ErrorType and __type, which the acm SDK decodes.

// acmTargetPrefix is the awsJson1_1 target of the ACM service shape.
const acmTargetPrefix = "CertificateManager."

// isACM reports whether a request is for the ACM API.
func isACM(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/" && strings.HasPrefix(r.Header.Get("X-Amz-Target"), acmTargetPrefix)
}

type acmOp func(ctx context.Context, body []byte) (any, error)

func (s *Server) acmOps() map[string]acmOp {
	return map[string]acmOp{
		"ImportCertificate":         s.acmImport,
		"RequestCertificate":        s.acmRequest,
		"DescribeCertificate":       s.acmDescribe,
		"GetCertificate":            s.acmGet,
		"ListCertificates":          s.acmList,
		"DeleteCertificate":         s.acmDelete,
		"AddTagsToCertificate":      s.acmAddTags,
		"RemoveTagsFromCertificate": s.acmRemoveTags,
		"ListTagsForCertificate":    s.acmListTags,
	}
}

// serveACM authenticates (signing name acm) and runs one ACM operation.
func (s *Server) serveACM(w http.ResponseWriter, r *http.Request, payloadHash string, body []byte) {
	ctx := r.Context()
	res, err := s.acmVerifier.Verify(ctx, r, payloadHash)
	if err != nil {
		writeACMError(w, s.toACMError(ctx, err))
		return
	}
	ctx = service.WithCaller(ctx, model.Caller{Account: res.Credential.Account, PrincipalARN: res.Credential.PrincipalARN})
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), acmTargetPrefix)
	op, ok := s.acm[name]
	if !ok {
		writeACMError(w, acmError{Status: http.StatusBadRequest, Type: "UnknownOperationException",
			Message: "Trellis does not serve the ACM operation " + clipName(name)})
		return
	}
	out, err := op(ctx, body)
	if err != nil {
		s.log.DebugContext(ctx, "acm error", "op", name, "err", err)
		writeACMError(w, s.toACMError(ctx, err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if out == nil {
		out = obj{}
	}
	_ = encodeJSON(w, out)
}

func clipName(n string) string {
	if len(n) > 64 {
		n = n[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, n)
}

type acmError struct {
	Status  int
	Type    string
	Message string
}

// errSerialization is a request body that is not the operation's JSON.
var errSerialization = errors.New("the request body is not a JSON object of the operation's members")

// toACMError maps an error to ACM's error types (the acm SDK's modeled
// exceptions; all client errors are 400 in AWS JSON 1.1).
func (s *Server) toACMError(ctx context.Context, err error) acmError {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return acmError{Status: se.Status, Type: se.Code, Message: se.Message}
	}
	if errors.Is(err, errSerialization) {
		return acmError{Status: http.StatusBadRequest, Type: "SerializationException", Message: err.Error()}
	}
	var e *model.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(ctx, "internal error", "err", err)
		return acmError{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: "An internal error occurred. Try again later."}
	}
	t := "ValidationException"
	switch e.Kind {
	case model.KindValidation:
		switch e.Reason {
		case model.ReasonInvalidArn:
			t = "InvalidArnException"
		case model.ReasonInvalidTag:
			t = "InvalidTagException"
		case model.ReasonTooManyTags:
			t = "TooManyTagsException"
		case model.ReasonInvalidParameter:
			t = "InvalidParameterException"
		}
	case model.KindNotFound:
		t = "ResourceNotFoundException"
	case model.KindConflict:
		t = "ResourceInUseException"
		if e.ResourceType == model.TypeClientToken {
			t = "ConflictException" // an IdempotencyToken reused with other parameters
		}
	case model.KindQuota:
		t = "LimitExceededException"
	case model.KindAccessDenied:
		t = "AccessDeniedException"
	case model.KindThrottling:
		t = "ThrottlingException"
	case model.KindInternal:
		return acmError{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: e.Message}
	}
	return acmError{Status: http.StatusBadRequest, Type: t, Message: e.Message}
}

func writeACMError(w http.ResponseWriter, e acmError) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	_ = encodeJSON(w, obj{"__type": e.Type, "message": e.Message})
}

// decodeACM reads an operation's JSON body (an empty body is {}; unknown
// members are ignored, as AWS does for newer clients).
func decodeACM(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errSerialization
	}
	return nil
}

type acmTag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

func toTags(in []acmTag) []service.CertificateTag {
	out := make([]service.CertificateTag, len(in))
	for i, t := range in {
		out[i] = service.CertificateTag{Key: t.Key, Value: t.Value}
	}
	return out
}

func fromTags(m map[string]string) []acmTag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]acmTag, len(keys))
	for i, k := range keys {
		v := m[k]
		out[i] = acmTag{Key: k, Value: &v}
	}
	return out
}

// epoch is an AWS JSON timestamp: seconds since the epoch, fractional.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func requireArn(a string) error {
	if a == "" {
		return model.Invalid("CertificateArn", "CertificateArn is required")
	}
	return nil
}

func (s *Server) acmImport(ctx context.Context, body []byte) (any, error) {
	var in struct {
		CertificateArn   string   `json:"CertificateArn"`
		Certificate      []byte   `json:"Certificate"`
		PrivateKey       []byte   `json:"PrivateKey"`
		CertificateChain []byte   `json:"CertificateChain"`
		Tags             []acmTag `json:"Tags"`
	}
	if err := decodeACM(body, &in); err != nil {
		return nil, err
	}
	a, err := s.svc.ImportCertificate(ctx, service.ImportCertificateInput{CertificateArn: in.CertificateArn,
		Certificate: in.Certificate, PrivateKey: in.PrivateKey, Chain: in.CertificateChain, Tags: toTags(in.Tags)})
	if err != nil {
		return nil, err
	}
	return obj{"CertificateArn": a}, nil
}

func (s *Server) acmRequest(ctx context.Context, body []byte) (any, error) {
	var in struct {
		DomainName              string   `json:"DomainName"`
		SubjectAlternativeNames []string `json:"SubjectAlternativeNames"`
		KeyAlgorithm            string   `json:"KeyAlgorithm"`
		ValidationMethod        string   `json:"ValidationMethod"`
		IdempotencyToken        *string  `json:"IdempotencyToken"`
		Tags                    []acmTag `json:"Tags"`
	}
	if err := decodeACM(body, &in); err != nil {
		return nil, err
	}
	if in.ValidationMethod != "" && in.ValidationMethod != "DNS" && in.ValidationMethod != "EMAIL" {
		return nil, model.Invalid("ValidationMethod", "ValidationMethod must be DNS or EMAIL")
	}
	a, err := s.svc.RequestCertificate(ctx, service.RequestCertificateInput{DomainName: in.DomainName,
		SubjectAlternativeNames: in.SubjectAlternativeNames, KeyAlgorithm: in.KeyAlgorithm, Tags: toTags(in.Tags),
		IdempotencyToken: in.IdempotencyToken})
	if err != nil {
		return nil, err
	}
	return obj{"CertificateArn": a}, nil
}

type acmArnInput struct {
	CertificateArn string `json:"CertificateArn"`
}

func decodeArn(body []byte) (string, error) {
	var in acmArnInput
	if err := decodeACM(body, &in); err != nil {
		return "", err
	}
	return in.CertificateArn, requireArn(in.CertificateArn)
}

// certificateDetail is DescribeCertificate's Certificate: the members
// Terraform's aws_acm_certificate and the AWS CLI read.
func certificateDetail(c *model.Certificate, inUseBy []string) obj {
	if inUseBy == nil {
		inUseBy = []string{}
	}
	names := c.SANs
	if len(names) == 0 {
		names = []string{c.DomainName}
	}
	o := obj{
		"CertificateArn":          c.ARN,
		"DomainName":              c.DomainName,
		"SubjectAlternativeNames": names,
		"Status":                  model.CertificateStatusIssued,
		"Type":                    c.Type,
		"NotBefore":               epoch(c.NotBefore),
		"NotAfter":                epoch(c.NotAfter),
		"Issuer":                  c.Issuer,
		"Subject":                 c.Subject,
		"Serial":                  c.Serial,
		"KeyAlgorithm":            c.KeyAlgorithm,
		"SignatureAlgorithm":      c.SignatureAlgorithm,
		"InUseBy":                 inUseBy,
		"CreatedAt":               epoch(c.CreatedAt),
		"KeyUsages":               []obj{{"Name": "DIGITAL_SIGNATURE"}},
		"ExtendedKeyUsages":       []obj{{"Name": "TLS_WEB_SERVER_AUTHENTICATION"}},
		"RenewalEligibility":      "INELIGIBLE",
		"Options":                 obj{"CertificateTransparencyLoggingPreference": "DISABLED"},
	}
	if c.Type == model.CertificateTypeImported {
		o["ImportedAt"] = epoch(c.ImportedAt)
	} else {
		o["IssuedAt"] = epoch(c.IssuedAt)
		dvo := make([]obj, len(names))
		for i, n := range names {
			dvo[i] = obj{"DomainName": n, "ValidationDomain": n, "ValidationStatus": "SUCCESS", "ValidationMethod": "DNS",
				"ResourceRecord": validationRecord(c.ARN, n)}
		}
		o["DomainValidationOptions"] = dvo
	}
	return o
}

// validationRecord is the DNS validation record ACM names for a requested
// certificate's domain. Trellis issues at once and checks no record, but
// Terraform configurations build DNS records from these fields
// (for_each over domain_validation_options), so they are filled the way ACM
// fills them: a CNAME under the domain (a wildcard's base) to a value under
// a validation zone, both stable for the certificate.
func validationRecord(certARN, domain string) obj {
	base := strings.TrimPrefix(domain, "*.")
	h := sha256.Sum256([]byte(certARN + "\x00" + base))
	x := hex.EncodeToString(h[:])
	return obj{"Name": "_" + x[:32] + "." + base + ".", "Type": "CNAME",
		"Value": "_" + x[32:] + ".acm-validations.trellis.invalid."}
}

func (s *Server) acmDescribe(ctx context.Context, body []byte) (any, error) {
	a, err := decodeArn(body)
	if err != nil {
		return nil, err
	}
	c, users, err := s.svc.DescribeCertificate(ctx, a)
	if err != nil {
		return nil, err
	}
	return obj{"Certificate": certificateDetail(c, users)}, nil
}

// acmGet answers the certificate and its chain: never the private key.
func (s *Server) acmGet(ctx context.Context, body []byte) (any, error) {
	a, err := decodeArn(body)
	if err != nil {
		return nil, err
	}
	c, _, err := s.svc.DescribeCertificate(ctx, a)
	if err != nil {
		return nil, err
	}
	out := obj{"Certificate": c.CertificatePEM}
	if c.ChainPEM != "" {
		out["CertificateChain"] = c.ChainPEM
	}
	return out, nil
}

func (s *Server) acmList(ctx context.Context, body []byte) (any, error) {
	var in struct {
		CertificateStatuses []string `json:"CertificateStatuses"`
		NextToken           string   `json:"NextToken"`
		MaxItems            *int     `json:"MaxItems"`
	}
	if err := decodeACM(body, &in); err != nil {
		return nil, err
	}
	p := service.Page{NextToken: in.NextToken}
	if in.MaxItems != nil {
		if *in.MaxItems < 1 {
			e := model.Invalid("MaxItems", "MaxItems must be 1 to 1000")
			e.Reason = model.ReasonInvalidParameter
			return nil, e
		}
		p.MaxResults = *in.MaxItems
	}
	list, next, err := s.svc.ListCertificates(ctx, in.CertificateStatuses, p)
	if err != nil {
		return nil, err
	}
	items := make([]obj, len(list))
	for i, c := range list {
		names := c.SANs
		if len(names) == 0 {
			names = []string{c.DomainName}
		}
		o := obj{"CertificateArn": c.ARN, "DomainName": c.DomainName, "SubjectAlternativeNameSummaries": names,
			"HasAdditionalSubjectAlternativeNames": false, "Status": model.CertificateStatusIssued, "Type": c.Type,
			"KeyAlgorithm": c.KeyAlgorithm, "InUse": c.InUse, "NotBefore": epoch(c.NotBefore), "NotAfter": epoch(c.NotAfter),
			"CreatedAt": epoch(c.CreatedAt), "RenewalEligibility": "INELIGIBLE"}
		if c.Type == model.CertificateTypeImported {
			o["ImportedAt"] = epoch(c.ImportedAt)
		} else {
			o["IssuedAt"] = epoch(c.IssuedAt)
		}
		items[i] = o
	}
	out := obj{"CertificateSummaryList": items}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Server) acmDelete(ctx context.Context, body []byte) (any, error) {
	a, err := decodeArn(body)
	if err != nil {
		return nil, err
	}
	return nil, s.svc.DeleteCertificate(ctx, a)
}

func decodeTagsInput(body []byte) (string, []service.CertificateTag, error) {
	var in struct {
		CertificateArn string   `json:"CertificateArn"`
		Tags           []acmTag `json:"Tags"`
	}
	if err := decodeACM(body, &in); err != nil {
		return "", nil, err
	}
	return in.CertificateArn, toTags(in.Tags), requireArn(in.CertificateArn)
}

func (s *Server) acmAddTags(ctx context.Context, body []byte) (any, error) {
	a, tags, err := decodeTagsInput(body)
	if err != nil {
		return nil, err
	}
	return nil, s.svc.AddCertificateTags(ctx, a, tags)
}

func (s *Server) acmRemoveTags(ctx context.Context, body []byte) (any, error) {
	a, tags, err := decodeTagsInput(body)
	if err != nil {
		return nil, err
	}
	return nil, s.svc.RemoveCertificateTags(ctx, a, tags)
}

func (s *Server) acmListTags(ctx context.Context, body []byte) (any, error) {
	a, err := decodeArn(body)
	if err != nil {
		return nil, err
	}
	c, _, err := s.svc.DescribeCertificate(ctx, a)
	if err != nil {
		return nil, err
	}
	return obj{"Tags": fromTags(c.Tags)}, nil
}
