package service

import (
	"reflect"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
)

// The values of the issue-10 attack (finding 1): identity values that would
// reach x-amzn-lattice-identity(-tags) are refused where they are accepted,
// with a ValidationException naming the field, and nothing changes.

const crlfAttack = "blue\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /admin/users HTTP/1.1\r\nHost: x\r\n\r\n"

func TestPrincipalTagsIAMSyntax(t *testing.T) {
	e := newIDEnv(t)
	user := "arn:aws:iam::" + testAccount + ":user/u"
	keep := map[string]string{"team": "blue"}
	if _, _, err := e.s.PutPrincipal(e.admin, user, keep); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tags map[string]string
	}{
		{"CR LF in a value", map[string]string{"team": crlfAttack}},
		{"CR LF in a key", map[string]string{"team\r\nX-Injected: yes": "blue"}},
		{"a key that spells a second principal", map[string]string{"k;principal": "arn:aws:iam::999999999999:root"}},
		{"a value with ;", map[string]string{"team": "blue;principal=arn:aws:iam::999999999999:root"}},
		{"a tag named principal", map[string]string{"principal": "arn:aws:iam::999999999999:root"}},
		{"a tag named PrincipalOrgID", map[string]string{"PrincipalOrgID": "o-a1b2c3d4e5"}},
		{"NUL", map[string]string{"team": "a\x00"}},
		{"backslash", map[string]string{"team": `a\`}},
		{"keys that differ only in case", map[string]string{"Team": "a", "team": "b"}},
		{"a symbol", map[string]string{"team": "☃"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.s.PutPrincipal(e.admin, user, tc.tags)
			if f := fieldsOf(t, err); len(f) == 0 || f[0] != "tags" {
				t.Fatalf("fields %v", f)
			}
			p, err := e.s.GetPrincipal(e.admin, user)
			if err != nil || !reflect.DeepEqual(p.Tags, keep) {
				t.Fatalf("the refused PUT changed the tags: %v %v", err, p)
			}
		})
	}
	// What IAM allows is accepted: letters of any script, digits, spaces and _.:/=+-@.
	ok := map[string]string{"cost-center": "12:34/56=7+8@x_y.z", "équipe": "bleu vert", "k=v": ""}
	if p, _, err := e.s.PutPrincipal(e.admin, user, ok); err != nil || !reflect.DeepEqual(p.Tags, ok) {
		t.Fatalf("valid tags: %v %+v", err, p)
	}
}

func TestPrincipalARNAttacks(t *testing.T) {
	e := newIDEnv(t)
	for _, in := range []string{
		"arn:aws:iam::" + testAccount + ":user/a\r\nX-Injected: yes",
		"arn:aws:iam::" + testAccount + ":user/p\r\n/alice",
		"arn:aws:iam::" + testAccount + ":user/a;Principal=arn:aws:iam::999999999999:root",
		"arn:aws:iam::" + testAccount + ":user/p a/alice",
		"arn:aws:iam::" + testAccount + ":user/p\x00/alice",
		"arn:aws:iam::" + testAccount + ":user/pé/alice",
	} {
		_, _, err := e.s.PutPrincipal(e.admin, in, nil)
		if f := fieldsOf(t, err); len(f) != 1 || f[0] != "principalArn" {
			t.Errorf("%q: fields %v", in, f)
		}
	}
	if ps, _, err := e.s.ListPrincipals(e.admin, testAccount, Page{}); err != nil || len(ps) != 0 {
		t.Fatalf("a refused principal was stored: %v %v", err, ps)
	}
	// A path may hold ';' and '=' (IAM allows printable ASCII): the headers
	// escape them (internal/snapshot).
	path := "arn:aws:iam::" + testAccount + ":user/;Principal=arn:aws:iam::999999999999:root;/bob"
	var v model.Validator
	if pn := e.s.ParsePrincipalARN(&v, "principalArn", path); v.Err() != nil || pn.Name != "bob" ||
		pn.Path != "/;Principal=arn:aws:iam::999999999999:root;/" {
		t.Fatalf("path: %v %+v", v.Err(), pn)
	}
}

func TestSessionNameAndAccountNameAttacks(t *testing.T) {
	e := newIDEnv(t)
	role := "arn:aws:iam::" + testAccount + ":role/r"
	if _, _, err := e.s.PutPrincipal(e.admin, role, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"s\r\nX-Injected: yes", "s;Principal=x", "s1\x00", "ab cd", "é1"} {
		_, err := e.s.AssumeRole(e.admin, AssumeRoleInput{RoleARN: role, RoleSessionName: name})
		if f := fieldsOf(t, err); len(f) != 1 || f[0] != "roleSessionName" {
			t.Errorf("%q: fields %v", name, f)
		}
	}
	if keys, _, err := e.s.ListAccessKeys(e.admin, ListAccessKeysInput{PrincipalARN: role}, Page{}); err != nil || len(keys) != 0 {
		t.Fatalf("a refused session was made: %v %v", err, keys)
	}
	name := "orders"
	if _, _, err := e.s.PutAccount(e.admin, testAccount, PutAccountInput{Name: &name}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"a\r\nX-Injected: yes", "a\u2028b", "a\u0085b", "\xff"} {
		_, _, err := e.s.PutAccount(e.admin, testAccount, PutAccountInput{Name: &bad})
		if f := fieldsOf(t, err); len(f) != 1 || f[0] != "name" {
			t.Errorf("%q: fields %v", bad, f)
		}
	}
	if a, err := e.s.GetAccount(e.admin, testAccount); err != nil || a.Name != name {
		t.Fatalf("a refused name was stored: %v %+v", err, a)
	}
}
