package service

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
)

func TestGetSessionToken(t *testing.T) {
	e := newIDEnv(t)
	user := "arn:aws:iam::" + testAccount + ":user/alice"
	role := "arn:aws:iam::" + testAccount + ":role/deployer"
	for _, p := range []string{user, role} {
		if _, _, err := e.s.PutPrincipal(e.admin, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	d := func(n int) *int { return &n }
	uctx := e.as(testAccount, user)

	// A user: 12 hours by default, its own principal, a session token.
	k, err := e.s.GetSessionToken(uctx, GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	if k.PrincipalARN != user || k.Account != testAccount || k.SessionARN != "" || k.SessionToken == "" ||
		k.ID[:4] != "ASIA" || k.Expiration == nil || !k.Expiration.Equal(e.now().Add(12*time.Hour)) {
		t.Fatalf("session: %+v", k)
	}
	// Durations.
	for _, n := range []int{899, 129601} {
		_, err := e.s.GetSessionToken(uctx, GetSessionTokenInput{DurationSeconds: d(n)})
		if f := fieldsOf(t, err); len(f) != 1 || f[0] != "DurationSeconds" {
			t.Fatalf("%d: fields %v", n, f)
		}
	}
	k, err = e.s.GetSessionToken(e.as(testAccount, "arn:aws:iam::"+testAccount+":root"), GetSessionTokenInput{DurationSeconds: d(7200)})
	if err != nil || !k.Expiration.Equal(e.now().Add(time.Hour)) {
		t.Fatalf("root session: %v %+v", err, k)
	}
	// Not a role's session, not a role, not a principal of another account,
	// not a user that does not exist.
	for what, ctx := range map[string]context.Context{
		"assumed role":  e.as(testAccount, "arn:aws:sts::"+testAccount+":assumed-role/deployer/s1"),
		"role":          e.as(testAccount, role),
		"other account": e.as(testAdminAccount, user),
		"gone user":     e.as(testAccount, "arn:aws:iam::"+testAccount+":user/ghost"),
	} {
		_, err := e.s.GetSessionToken(ctx, GetSessionTokenInput{})
		wantKind(t, what, err, model.KindAccessDenied)
	}
	// The session expires like an assumed role's.
	e.advance(12*time.Hour + time.Second)
	if _, err := e.s.GetAccessKey(e.admin, k.ID); model.KindOf(err) != model.KindNotFound {
		t.Fatalf("expired root session: %v", err)
	}
}
