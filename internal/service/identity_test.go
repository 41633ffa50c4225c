package service

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

const (
	testAdminAccount = "000000000000"
	testAccount      = "111122223333"
)

// idEnv is the fixture of the identity tests: a Service whose clock the
// test moves, with the default account and account 111122223333.
type idEnv struct {
	t     *testing.T
	s     *Service
	mu    sync.Mutex
	clock time.Time
	admin context.Context
}

func newIDEnv(t *testing.T) *idEnv {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &idEnv{t: t, clock: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	e.s = New(st, Config{DNSToken: "abc1234", AdminAccount: testAdminAccount, Now: e.now})
	e.admin = e.as(testAdminAccount, "arn:aws:iam::"+testAdminAccount+":root")
	if err := e.s.EnsureAccount(context.Background(), testAdminAccount, "default"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.PutAccount(e.admin, testAccount, PutAccountInput{}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *idEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *idEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock = e.clock.Add(d)
}

func (e *idEnv) as(account, principal string) context.Context {
	return WithCaller(context.Background(), model.Caller{Account: account, PrincipalARN: principal})
}

// fieldsOf returns the sorted field names of a ValidationException, failing
// the test for any other outcome.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	e, ok := err.(*model.Error)
	if !ok || e.Kind != model.KindValidation {
		t.Fatalf("want a ValidationException, got %v", err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Name)
	}
	sort.Strings(out)
	return out
}

func wantKind(t *testing.T, what string, err error, kind model.ErrorKind) {
	t.Helper()
	if model.KindOf(err) != kind || err == nil {
		t.Fatalf("%s: got %v (kind %d), want kind %d", what, err, model.KindOf(err), kind)
	}
}

func TestParsePrincipalARN(t *testing.T) {
	s := New(nil, Config{})
	good := map[string]PrincipalName{
		"arn:aws:iam::111122223333:role/deployer":                   {"111122223333", "role", "/", "deployer"},
		"arn:aws:iam::111122223333:user/bob+ops@x.com":              {"111122223333", "user", "/", "bob+ops@x.com"},
		"arn:aws:iam::111122223333:role/path/to/deployer":           {"111122223333", "role", "/path/to/", "deployer"},
		"arn:aws:iam::111122223333:user/a_b=c,d.e-f":                {"111122223333", "user", "/", "a_b=c,d.e-f"},
		"arn:aws:iam::111122223333:role/" + strings.Repeat("n", 64): {"111122223333", "role", "/", strings.Repeat("n", 64)},
	}
	for in, want := range good {
		var v model.Validator
		if got := s.ParsePrincipalARN(&v, "principalArn", in); got != want || v.Err() != nil {
			t.Errorf("%s: got %+v, %v", in, got, v.Err())
		}
	}
	for _, in := range []string{"", "arn", "arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:group/g",
		"arn:aws:iam:us-east-1:111122223333:role/r", "arn:aws-cn:iam::111122223333:role/r", "arn:aws:sts::111122223333:role/r",
		"arn:aws:iam::1111222233334:role/r", "arn:aws:iam::11112222333a:role/r", "arn:aws:iam::111122223333:role/",
		"arn:aws:iam::111122223333:role/" + strings.Repeat("n", 65), "arn:aws:iam::111122223333:role/a b",
		"arn:aws:iam::111122223333:role//r", "arn:aws:iam::111122223333:role/p\x01/r", "arn:aws:iam::111122223333:role",
		"arn:aws:iam::111122223333:role/" + strings.Repeat("p/", 300) + "r"} {
		var v model.Validator
		s.ParsePrincipalARN(&v, "principalArn", in)
		if err := v.Err(); err == nil {
			t.Errorf("%q: accepted", in)
		} else if f := fieldsOf(t, err); len(f) != 1 || f[0] != "principalArn" {
			t.Errorf("%q: fields %v", in, f)
		}
	}
}

func TestAccountValidation(t *testing.T) {
	e := newIDEnv(t)
	str := func(s string) *string { return &s }
	cases := []struct {
		id   string
		in   PutAccountInput
		want []string
	}{
		{"1234", PutAccountInput{}, []string{"accountId"}},
		{"12345678901a", PutAccountInput{}, []string{"accountId"}},
		{testAccount, PutAccountInput{Name: str(strings.Repeat("n", 129))}, []string{"name"}},
		{testAccount, PutAccountInput{Name: str("tab\there")}, []string{"name"}},
		{testAccount, PutAccountInput{OrgID: str("o-abc")}, []string{"orgId"}},
		{testAccount, PutAccountInput{OrgID: str("o-ABCDEFGHIJ")}, []string{"orgId"}},
		{testAccount, PutAccountInput{OrgID: str("x-abcdefghij")}, []string{"orgId"}},
		{testAccount, PutAccountInput{OrgID: str("o-" + strings.Repeat("a", 33))}, []string{"orgId"}},
		{testAccount, PutAccountInput{OrgID: str("o-abcdefghij"), OrgPath: str("o-abcdefghij/r-ab12")}, []string{"orgPath"}},
		{testAccount, PutAccountInput{OrgID: str("o-abcdefghij"), OrgPath: str("o-abcdefghij/")}, []string{"orgPath"}},
		{testAccount, PutAccountInput{OrgID: str("o-abcdefghij"), OrgPath: str("o-abcdefghij/r-ab12/ou-x/")}, []string{"orgPath"}},
		{"1", PutAccountInput{OrgID: str("bad"), OrgPath: str("bad")}, []string{"accountId", "orgId", "orgPath"}},
		// Consistency with the stored account, checked in the transaction.
		{testAccount, PutAccountInput{OrgPath: str("o-abcdefghij/r-ab12/")}, []string{"orgPath"}},
		{testAccount, PutAccountInput{OrgID: str("o-abcdefghij"), OrgPath: str("o-zzzzzzzzzz/r-ab12/")}, []string{"orgPath"}},
	}
	for _, c := range cases {
		_, _, err := e.s.PutAccount(e.admin, c.id, c.in)
		if got := fieldsOf(t, err); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s %+v: fields %v, want %v", c.id, c.in, got, c.want)
		}
	}
	a, created, err := e.s.PutAccount(e.admin, testAccount, PutAccountInput{OrgID: str("o-abcdefghij"),
		OrgPath: str("o-abcdefghij/r-ab12/ou-ab12-11111111/ou-ab12-22222222/")})
	if err != nil || created || a.OrgPath == "" {
		t.Fatalf("valid org path: %v %v %+v", err, created, a)
	}
	// Clearing the organization without its path is inconsistent; both at once is fine.
	_, _, err = e.s.PutAccount(e.admin, testAccount, PutAccountInput{OrgID: str("")})
	fieldsOf(t, err)
	if a, _, err = e.s.PutAccount(e.admin, testAccount, PutAccountInput{OrgID: str(""), OrgPath: str("")}); err != nil || a.OrgID != "" {
		t.Fatalf("clear: %v %+v", err, a)
	}
	// An unchanged PUT writes nothing.
	before := a.UpdatedAt
	e.advance(time.Minute)
	if a, _, err = e.s.PutAccount(e.admin, testAccount, PutAccountInput{}); err != nil || !a.UpdatedAt.Equal(before) {
		t.Fatalf("no-op put: %v %v", err, a.UpdatedAt)
	}
}

func TestAccountGuardsAndDefaults(t *testing.T) {
	e := newIDEnv(t)
	// EnsureAccount keeps an existing record.
	if err := e.s.EnsureAccount(context.Background(), testAdminAccount, "other name"); err != nil {
		t.Fatal(err)
	}
	if a, err := e.s.GetAccount(e.admin, testAdminAccount); err != nil || a.Name != "default" {
		t.Fatalf("default account: %v %+v", err, a)
	}
	wantKind(t, "delete the default account", e.s.DeleteAccount(e.admin, testAdminAccount), model.KindConflict)
	wantKind(t, "no caller", e.s.DeleteAccount(context.Background(), testAccount), model.KindAccessDenied)
	_, _, err := e.s.ListAccounts(context.Background(), Page{})
	wantKind(t, "list without caller", err, model.KindAccessDenied)

	role := "arn:aws:iam::" + testAccount + ":role/r"
	if _, _, err := e.s.PutPrincipal(e.admin, role, nil); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "delete with a principal", e.s.DeleteAccount(e.admin, testAccount), model.KindConflict)
	if err := e.s.DeletePrincipal(e.admin, role); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteAccount(e.admin, testAccount); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.PutPrincipal(e.admin, role, nil)
	wantKind(t, "principal of a deleted account", err, model.KindNotFound)
}

func TestPrincipalTags(t *testing.T) {
	e := newIDEnv(t)
	user := "arn:aws:iam::" + testAccount + ":user/u"
	tooMany := map[string]string{}
	for i := 0; i <= model.MaxTags; i++ {
		tooMany[strings.Repeat("k", i+1)] = "v"
	}
	for name, tags := range map[string]map[string]string{
		"too many":     tooMany,
		"long key":     {strings.Repeat("k", 129): "v"},
		"empty key":    {"": "v"},
		"long value":   {"k": strings.Repeat("v", 257)},
		"reserved key": {"aws:x": "v"},
	} {
		_, _, err := e.s.PutPrincipal(e.admin, user, tags)
		if f := fieldsOf(t, err); f[0] != "tags" {
			t.Errorf("%s: %v", name, f)
		}
	}
	ok := map[string]string{strings.Repeat("k", 128): strings.Repeat("v", 256)}
	p, created, err := e.s.PutPrincipal(e.admin, user, ok)
	if err != nil || !created || p.Type != "user" || p.Name != "u" || p.Account != testAccount || len(p.Tags) != 1 {
		t.Fatalf("put: %v %v %+v", err, created, p)
	}
	ok[strings.Repeat("k", 128)] = "changed" // the caller's map is not kept
	if p, _ := e.s.GetPrincipal(e.admin, user); p.Tags[strings.Repeat("k", 128)] != strings.Repeat("v", 256) {
		t.Fatal("the stored tags alias the caller's map")
	}
	if p, created, err = e.s.PutPrincipal(e.admin, user, map[string]string{}); err != nil || created || len(p.Tags) != 0 {
		t.Fatalf("clear tags: %v %v %+v", err, created, p)
	}
}

func TestAccessKeyLifecycle(t *testing.T) {
	e := newIDEnv(t)
	role := "arn:aws:iam::" + testAccount + ":role/deploy"
	user := "arn:aws:iam::" + testAccount + ":user/u"
	for _, arn := range []string{role, user} {
		if _, _, err := e.s.PutPrincipal(e.admin, arn, nil); err != nil {
			t.Fatal(err)
		}
	}
	uctx := e.as(testAccount, user)
	k, err := e.s.CreateAccessKey(uctx, user)
	if err != nil || !strings.HasPrefix(k.ID, "AKIA") || len(k.ID) != 20 || len(k.Secret) != 40 || k.Status != "Active" {
		t.Fatalf("create: %v %+v", err, k)
	}
	if got, err := e.s.LookupAccessKey(context.Background(), k.ID); err != nil || got.Secret != k.Secret {
		t.Fatalf("lookup: %v %+v", err, got)
	}
	_, err = e.s.LookupAccessKey(context.Background(), "AKIAAAAAAAAAAAAAAAAA")
	wantKind(t, "lookup unknown", err, model.KindNotFound)

	// Sessions: validation, expiry, purge.
	d := func(n int) *int { return &n }
	_, err = e.s.AssumeRole(uctx, AssumeRoleInput{RoleARN: user, RoleSessionName: "a", DurationSeconds: d(899)})
	if f := fieldsOf(t, err); strings.Join(f, ",") != "durationSeconds,roleArn,roleSessionName" {
		t.Fatalf("fields %v", f)
	}
	_, err = e.s.AssumeRole(uctx, AssumeRoleInput{RoleARN: role, RoleSessionName: "has space"})
	fieldsOf(t, err)
	_, err = e.s.AssumeRole(uctx, AssumeRoleInput{RoleARN: role, RoleSessionName: strings.Repeat("s", 65)})
	fieldsOf(t, err)
	_, err = e.s.AssumeRole(uctx, AssumeRoleInput{})
	if f := fieldsOf(t, err); strings.Join(f, ",") != "roleArn,roleSessionName" {
		t.Fatalf("fields %v", f)
	}
	sess, err := e.s.AssumeRole(uctx, AssumeRoleInput{RoleARN: role, RoleSessionName: "s1", DurationSeconds: d(900)})
	if err != nil || !strings.HasPrefix(sess.ID, "ASIA") || sess.SessionToken == "" || sess.PrincipalARN != role ||
		sess.SessionARN != "arn:aws:sts::"+testAccount+":assumed-role/deploy/s1" || sess.SessionName != "s1" ||
		!sess.Expiration.Equal(e.now().Add(900*time.Second)) {
		t.Fatalf("assume: %v %+v", err, sess)
	}
	list := func() int {
		t.Helper()
		keys, _, err := e.s.ListAccessKeys(uctx, ListAccessKeysInput{}, Page{})
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	if n := list(); n != 2 {
		t.Fatalf("keys: %d", n)
	}
	e.advance(901 * time.Second)
	if n := list(); n != 1 {
		t.Fatalf("an expired session is listed: %d keys", n)
	}
	_, err = e.s.GetAccessKey(uctx, sess.ID)
	wantKind(t, "get expired", err, model.KindNotFound)
	// Lookup still finds it (the key store judges expiry) until a later
	// AssumeRole purges it.
	if _, err := e.s.LookupAccessKey(context.Background(), sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AssumeRole(uctx, AssumeRoleInput{RoleARN: role, RoleSessionName: "s2"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.LookupAccessKey(context.Background(), sess.ID)
	wantKind(t, "purged session", err, model.KindNotFound)

	// Filters.
	_, _, err = e.s.ListAccessKeys(uctx, ListAccessKeysInput{PrincipalARN: user, Account: testAccount}, Page{})
	fieldsOf(t, err)
	_, _, err = e.s.ListAccessKeys(uctx, ListAccessKeysInput{PrincipalARN: "arn:aws:iam::12:root"}, Page{})
	fieldsOf(t, err)
	_, _, err = e.s.ListAccessKeys(uctx, ListAccessKeysInput{Account: "12"}, Page{})
	fieldsOf(t, err)
	if keys, _, err := e.s.ListAccessKeys(uctx, ListAccessKeysInput{PrincipalARN: role}, Page{}); err != nil || len(keys) != 1 {
		t.Fatalf("role's keys: %v %d", err, len(keys))
	}
	if _, err := e.s.CreateRootAccessKey(e.admin, testAccount); err != nil {
		t.Fatal(err)
	}
	if keys, _, err := e.s.ListAccessKeys(uctx, ListAccessKeysInput{PrincipalARN: "arn:aws:iam::" + testAccount + ":root"}, Page{}); err != nil || len(keys) != 1 {
		t.Fatalf("root keys: %v %d", err, len(keys))
	}

	// Deleting the principal deletes its keys.
	if err := e.s.DeletePrincipal(e.admin, user); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.LookupAccessKey(context.Background(), k.ID)
	wantKind(t, "key of a deleted user", err, model.KindNotFound)
	wantKind(t, "bad key ID", e.s.DeleteAccessKey(e.admin, "akia-nope"), model.KindValidation)
}

func TestIdentityAuthorizationRules(t *testing.T) {
	e := newIDEnv(t)
	other := "444455556666"
	if _, _, err := e.s.PutAccount(e.admin, other, PutAccountInput{}); err != nil {
		t.Fatal(err)
	}
	user := e.as(other, "arn:aws:iam::"+other+":user/u")
	rootOther := e.as(other, "arn:aws:iam::"+other+":root")
	defaultUser := e.as(testAdminAccount, "arn:aws:iam::"+testAdminAccount+":user/u")
	if e.s.IsAdmin(model.Caller{Account: testAdminAccount, PrincipalARN: "arn:aws:iam::" + testAdminAccount + ":user/u"}) ||
		!e.s.IsAdmin(model.Caller{Account: testAdminAccount, PrincipalARN: "arn:aws:iam::" + testAdminAccount + ":root"}) {
		t.Fatal("IsAdmin")
	}
	denied := func(what string, err error) {
		t.Helper()
		wantKind(t, what, err, model.KindAccessDenied)
	}
	_, _, err := e.s.PutPrincipal(user, "arn:aws:iam::"+testAccount+":user/x", nil)
	denied("principal in another account", err)
	_, _, err = e.s.PutAccount(rootOther, other, PutAccountInput{})
	denied("an account's root changes its account", err)
	_, _, err = e.s.PutAccount(defaultUser, "777788889999", PutAccountInput{})
	denied("a default-account user creates an account", err)
	_, err = e.s.CreateRootAccessKey(user, other)
	denied("a user makes a root key", err)
	_, err = e.s.CreateRootAccessKey(defaultUser, testAdminAccount)
	denied("a default-account user makes an administrator key", err)
	_, _, err = e.s.ListPrincipals(user, testAccount, Page{})
	denied("list another account's principals", err)
	_, err = e.s.GetAccount(user, testAccount)
	denied("get another account", err)
	if _, err := e.s.CreateRootAccessKey(rootOther, other); err != nil {
		t.Fatalf("the root makes its own key: %v", err)
	}
	if _, _, err := e.s.PutPrincipal(user, "arn:aws:iam::"+other+":role/r", nil); err != nil {
		t.Fatalf("a user manages its account: %v", err)
	}
	_, err = e.s.AssumeRole(e.as(testAccount, "arn:aws:iam::"+testAccount+":user/x"),
		AssumeRoleInput{RoleARN: "arn:aws:iam::" + other + ":role/r", RoleSessionName: "s1"})
	denied("assume a role of another account", err)
	if _, err := e.s.AssumeRole(user, AssumeRoleInput{RoleARN: "arn:aws:iam::" + other + ":role/r", RoleSessionName: "s1"}); err != nil {
		t.Fatalf("assume a role of one's account: %v", err)
	}
	accounts, _, err := e.s.ListAccounts(user, Page{})
	if err != nil || len(accounts) != 1 || accounts[0].ID != other {
		t.Fatalf("a user's account list: %v %v", err, accounts)
	}
	accounts, _, err = e.s.ListAccounts(e.admin, Page{})
	if err != nil || len(accounts) != 3 {
		t.Fatalf("the administrator's account list: %v %v", err, accounts)
	}
}
