package model

import "time"

// Account is a tenant: a 12-digit ID, optionally in an organization.
type Account struct {
	ID        string    `json:"accountId"`
	Name      string    `json:"name,omitempty"`
	OrgID     string    `json:"orgId,omitempty"`   // e.g. o-a1b2c3d4e5
	OrgPath   string    `json:"orgPath,omitempty"` // e.g. o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Principal types.
const (
	PrincipalTypeRole = "role"
	PrincipalTypeUser = "user"
)

// Principal is an IAM role or user of an account.
type Principal struct {
	ARN       string            `json:"arn"` // arn:aws:iam::ACCOUNT:role/NAME or :user/NAME (paths allowed)
	Account   string            `json:"account"`
	Type      string            `json:"type"` // role or user
	Name      string            `json:"name"`
	Tags      map[string]string `json:"tags,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// AccessKey is a credential of a principal (or of an account's root).
// The secret is stored so the server can check signatures; no API returns
// it after creation.
type AccessKey struct {
	ID           string    `json:"accessKeyId"`
	Secret       string    `json:"secretAccessKey"`
	PrincipalARN string    `json:"principalArn"` // arn:aws:iam::ACCOUNT:root for root keys
	Account      string    `json:"account"`
	Status       string    `json:"status"` // Active or Inactive
	CreatedAt    time.Time `json:"createdAt"`
	// Temporary credentials (an assumed role): the session token the
	// request must carry, the session's principal ARN
	// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) and when it expires.
	SessionToken string     `json:"sessionToken,omitempty"`
	SessionARN   string     `json:"sessionArn,omitempty"`
	SessionName  string     `json:"sessionName,omitempty"`
	Expiration   *time.Time `json:"expiration,omitempty"`
}
