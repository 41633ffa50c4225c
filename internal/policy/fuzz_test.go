package policy

import (
	"errors"
	"testing"
)

// FuzzParse checks Parse on arbitrary documents: it never panics, rejects
// only with a non-empty *Error, and what it accepts evaluates (and
// explains, consistently with Evaluate) without panicking for a range of
// callers.
func FuzzParse(f *testing.F) {
	for _, d := range goodDocs {
		f.Add(d)
	}
	for _, b := range badDocs {
		f.Add(b.doc)
	}
	f.Add(benchPolicyA)
	f.Add(benchPolicyB)
	reqs := []*Request{sessionReq(), userReq(), rootReq(), otherReq(), anonReq(), {}, {Anonymous: true}}
	// A request full of awkward values.
	odd := sessionReq()
	odd.Resource, odd.Method, odd.RawQuery = "*?\\:€", "", "%%%&=&a=%zz&b=%41"
	odd.PrincipalTags = map[string]string{"team": "*", "x": "\\"}
	odd.Header.Set("X-Count", "1e309")
	reqs = append(reqs, odd)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse(doc)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Fatalf("error %T %q", err, err)
			}
			if p != nil {
				t.Fatal("a policy and an error")
			}
			return
		}
		if p.Statements() < 1 {
			t.Fatalf("accepted a policy with %d statements", p.Statements())
		}
		for _, r := range reqs {
			checkExplainAgrees(t, p, r, p.Evaluate(r))
		}
	})
}
