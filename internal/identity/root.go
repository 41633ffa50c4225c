// Package identity knows who holds which access keys: the root principal of
// the default account, whose credentials come from the environment or are
// generated once and kept in the data directory, and (through Chain) the
// access keys of accounts, roles, users and sessions kept in the store.
package identity

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/sigv4"
)

// DefaultAccount is the account ID of the default account unless
// TRELLIS_ACCOUNT_ID says otherwise (the same convention as other local AWS
// tools, so ARNs are predictable in tests).
const DefaultAccount = "000000000000"

// CredentialsFile is the file in the data directory that holds generated
// root credentials (mode 0600).
const CredentialsFile = "credentials.json"

// Root is the root principal's credentials of the default account.
type Root struct {
	Account         string `json:"account"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// PrincipalARN is arn:aws:iam::ACCOUNT:root.
func (r Root) PrincipalARN() string { return "arn:aws:iam::" + r.Account + ":root" }

// Source says where root credentials came from.
type Source int

// Sources of root credentials.
const (
	FromEnvironment Source = iota
	FromFile
	Generated
)

// LoadRoot returns the root credentials: from TRELLIS_ROOT_ACCESS_KEY_ID and
// TRELLIS_ROOT_SECRET_ACCESS_KEY when both are set, else from the data
// directory's credentials file, else newly generated and written there.
func LoadRoot(dataDir string, getenv func(string) string) (Root, Source, string, error) {
	account := getenv("TRELLIS_ACCOUNT_ID")
	if account == "" {
		account = DefaultAccount
	}
	if !arn.ValidAccount(account) {
		return Root{}, 0, "", fmt.Errorf("TRELLIS_ACCOUNT_ID %q is not a 12-digit account ID", account)
	}
	path := filepath.Join(dataDir, CredentialsFile)
	id, secret := getenv("TRELLIS_ROOT_ACCESS_KEY_ID"), getenv("TRELLIS_ROOT_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		return Root{Account: account, AccessKeyID: id, SecretAccessKey: secret}, FromEnvironment, "", nil
	case id != "" || secret != "":
		return Root{}, 0, "", errors.New("set both TRELLIS_ROOT_ACCESS_KEY_ID and TRELLIS_ROOT_SECRET_ACCESS_KEY, or neither")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		var r Root
		if err := json.Unmarshal(b, &r); err != nil || r.AccessKeyID == "" || r.SecretAccessKey == "" {
			return Root{}, 0, "", fmt.Errorf("%s is not a valid credentials file", path)
		}
		if r.Account == "" {
			r.Account = account
		}
		return r, FromFile, path, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Root{}, 0, "", err
	}
	r := Root{Account: account, AccessKeyID: "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
	b, _ = json.MarshalIndent(r, "", "  ")
	if err := writeFileSync(path, append(b, '\n'), 0o600); err != nil {
		return Root{}, 0, "", err
	}
	return r, Generated, path, nil
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// writeFileSync writes a file and fsyncs it and its directory, so the
// credentials printed to the user survive a crash.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Keys is a sigv4.KeyStore over a fixed set of credentials.
type Keys struct{ byID map[string]sigv4.Credential }

var _ sigv4.KeyStore = (*Keys)(nil)

// NewKeys returns a key store holding the root credentials.
func NewKeys(roots ...Root) *Keys {
	k := &Keys{byID: map[string]sigv4.Credential{}}
	for _, r := range roots {
		k.byID[r.AccessKeyID] = sigv4.Credential{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey,
			Account: r.Account, PrincipalARN: r.PrincipalARN()}
	}
	return k
}

// LookupAccessKey implements sigv4.KeyStore.
func (k *Keys) LookupAccessKey(_ context.Context, id string) (sigv4.Credential, error) {
	c, ok := k.byID[id]
	if !ok {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	return c, nil
}
