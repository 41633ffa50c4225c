package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
)

// TestAccessKeyEncodersHideSecrets pins which encoders may carry a secret:
// only the answers of the operations that create a key.
func TestAccessKeyEncodersHideSecrets(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	k := &model.AccessKey{ID: "ASIAAAAAAAAAAAAAAAAA", Secret: "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3", SessionToken: "t0k3n-t0k3n",
		PrincipalARN: "arn:aws:iam::111122223333:role/r", Account: "111122223333", Status: "Active",
		CreatedAt: exp.Add(-time.Hour), SessionARN: "arn:aws:sts::111122223333:assumed-role/r/s", SessionName: "s", Expiration: &exp}
	enc := func(o obj) string {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	described := enc(accessKeyObj(k))
	for _, secret := range []string{k.Secret, k.SessionToken, "secretAccessKey", "sessionToken"} {
		if strings.Contains(described, secret) {
			t.Errorf("accessKeyObj carries %q: %s", secret, described)
		}
	}
	for _, want := range []string{k.ID, k.PrincipalARN, k.SessionARN, "2030-01-02T03:04:05.000Z"} {
		if !strings.Contains(described, want) {
			t.Errorf("accessKeyObj lacks %q: %s", want, described)
		}
	}
	if created := enc(accessKeyCreatedObj(k)); !strings.Contains(created, k.Secret) {
		t.Errorf("accessKeyCreatedObj lacks the secret: %s", created)
	}
	if session := enc(sessionObj(k)); !strings.Contains(session, k.Secret) || !strings.Contains(session, k.SessionToken) {
		t.Errorf("sessionObj lacks the credentials: %s", session)
	}
	// The entity's own JSON (the store's) does hold the secret: nothing may
	// encode an entity directly.
	if b, _ := json.Marshal(k); !strings.Contains(string(b), k.Secret) {
		t.Fatal("model.AccessKey no longer stores its secret; revisit this test")
	}
}
