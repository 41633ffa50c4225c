package model

import "time"

// Certificate is an ACM certificate (docs/certificates.md): imported, or
// requested and issued at once by the installation CA. PrivateKeyPEM is
// kept in the store for the data plane's TLS; no API answer carries it.
type Certificate struct {
	ARN     string `json:"arn"`
	ID      string `json:"id"`
	Account string `json:"account"`
	Type    string `json:"type"` // CertificateTypeImported or CertificateTypeIssued

	DomainName string   `json:"domainName"`
	SANs       []string `json:"sans,omitempty"`

	CertificatePEM string `json:"certificatePem"`
	ChainPEM       string `json:"chainPem,omitempty"`
	PrivateKeyPEM  string `json:"privateKeyPem"`

	NotBefore          time.Time `json:"notBefore"`
	NotAfter           time.Time `json:"notAfter"`
	Issuer             string    `json:"issuer"`
	Subject            string    `json:"subject"`
	Serial             string    `json:"serial"`
	KeyAlgorithm       string    `json:"keyAlgorithm"`
	SignatureAlgorithm string    `json:"signatureAlgorithm"`

	CreatedAt  time.Time         `json:"createdAt"`
	ImportedAt time.Time         `json:"importedAt,omitzero"`
	IssuedAt   time.Time         `json:"issuedAt,omitzero"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// ACM certificate types and the one status Trellis's certificates have
// (ACM CertificateType, CertificateStatus).
const (
	CertificateTypeImported = "IMPORTED"
	CertificateTypeIssued   = "AMAZON_ISSUED"
	CertificateStatusIssued = "ISSUED"
	TypeCertificate         = "CERTIFICATE"
)

// Reasons of validation errors that ACM reports with their own types
// (the ACM wire in internal/api maps them; other validation errors are
// ValidationException).
const (
	ReasonInvalidArn       = "acm:InvalidArnException"
	ReasonInvalidTag       = "acm:InvalidTagException"
	ReasonTooManyTags      = "acm:TooManyTagsException"
	ReasonInvalidParameter = "acm:InvalidParameterException"
)

// QuotaCertificates bounds an account's ACM certificates (ACM's default
// quota of certificates per account).
var QuotaCertificates = Quota{Name: "certificates", Code: "L-F141DD1D", ResourceType: TypeCertificate,
	Description: "ACM certificates per account", Default: 2500}
