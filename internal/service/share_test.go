package service

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

// SharedWith is what the cross-account Lattice operations will ask
// (issue 16, item 2): it follows every change of a share, and it survives
// a restart (the share is durable before the API answers).
func TestSharedWith(t *testing.T) {
	const (
		owner, member, outsider = "111100001111", "222200002222", "333300003333"
		org                     = "o-abcdef1234"
	)
	path := filepath.Join(t.TempDir(), "db")
	st, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, Config{DNSToken: "abc1234"})
	as := func(a string) context.Context {
		return WithCaller(context.Background(), model.Caller{Account: a, PrincipalARN: "arn:aws:iam::" + a + ":root"})
	}
	if _, err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, a := range []model.Account{{ID: owner, OrgID: org}, {ID: member, OrgID: org}, {ID: outsider}} {
			if err := putJSON(tx, pfxAccount+a.ID, &a); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sn, err := s.CreateServiceNetwork(as(owner), CreateServiceNetworkInput{Name: "net"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateServiceNetwork(as(owner), CreateServiceNetworkInput{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, account, res string, want bool) {
		t.Helper()
		ok, shareArn, err := s.SharedWith(context.Background(), account, res)
		if err != nil || ok != want || (ok && shareArn == "") {
			t.Fatalf("%s: SharedWith(%s) = %v %q %v, want %v", what, account, ok, shareArn, err, want)
		}
	}
	sh, err := s.CreateResourceShare(as(owner), CreateResourceShareInput{Name: "s", ResourceArns: []string{sn.ARN}, Principals: []string{org, outsider}})
	if err != nil {
		t.Fatal(err)
	}
	check("member through the organization", member, sn.ARN, true)
	check("outsider before accepting", outsider, sn.ARN, false)
	check("owner", owner, sn.ARN, false)
	check("a resource not in the share", member, other.ARN, false)
	invs, _, err := s.GetResourceShareInvitations(as(outsider), nil, nil, Page{})
	if err != nil || len(invs) != 1 {
		t.Fatalf("invitations %v %v", invs, err)
	}
	if _, _, err := s.AnswerInvitation(as(outsider), invs[0].ARN, true); err != nil {
		t.Fatal(err)
	}
	check("outsider after accepting", outsider, sn.ARN, true)

	// Durable: a reopened store answers the same.
	st.Close()
	if st, err = embedded.Open(path); err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	s = New(st, Config{DNSToken: "abc1234"})
	check("outsider after a restart", outsider, sn.ARN, true)

	if _, _, err := s.DisassociateResourceShare(as(owner), sh.ARN, nil, []string{org}, nil); err != nil {
		t.Fatal(err)
	}
	check("member after its organization left", member, sn.ARN, false)
	check("outsider still", outsider, sn.ARN, true)
	if _, _, err := s.DisassociateResourceShare(as(owner), sh.ARN, []string{sn.ARN}, nil, nil); err != nil {
		t.Fatal(err)
	}
	check("outsider after the resource left", outsider, sn.ARN, false)
	if _, _, err := s.AssociateResourceShare(as(owner), sh.ARN, []string{sn.ARN}, nil, nil); err != nil {
		t.Fatal(err)
	}
	check("outsider after the resource came back", outsider, sn.ARN, true)
	if err := s.DeleteResourceShare(as(owner), sh.ARN, nil); err != nil {
		t.Fatal(err)
	}
	check("outsider after the delete", outsider, sn.ARN, false)
}

// A page token resumes exactly after its page also where the items
// (a share's associations) were not made in key order.
func TestSharePageOrder(t *testing.T) {
	items := []string{"b", "d", "a", "e", "c"}
	var got []string
	p := Page{MaxResults: 2}
	for i := 0; ; i++ {
		page, next, err := pageOf(items, func(s string) string { return s }, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		if i > 5 {
			t.Fatal("no end")
		}
		p.NextToken = next
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("pages gave %v", got)
	}
}

func FuzzParseSharePrincipal(f *testing.F) {
	for _, s := range []string{"111122223333", "o-abcdef1234", "arn:aws:organizations::111122223333:organization/o-abcdef1234",
		"arn:aws:iam::111122223333:role/r", "12345", "", "arn:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSharePrincipal(s)
		if err != nil {
			if model.KindOf(err) != model.KindValidation {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		// What is accepted is a bare account or organization ID: safe in
		// a store key and a log line.
		if !(len(p.id) == 12 && !p.org) && !(p.org && ValidOrgID(p.id)) {
			t.Fatalf("%q parsed to %+v", s, p)
		}
		if strings.ContainsAny(p.id, "/\n") {
			t.Fatalf("%q parsed to %+v", s, p)
		}
	})
}
