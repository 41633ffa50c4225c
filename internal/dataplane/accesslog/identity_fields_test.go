package accesslog

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// The identity fields of a record (resolvedUser, callerPrincipal,
// callerPrincipalOrgID, callerPrincipalTags) carry what tenants chose:
// whatever they hold, a record stays one line, one JSON object with
// Lattice's fields in order, and each value reads back as it was (issue 10,
// finding 1: values holding CR LF, quotes or ';').

// checkIdentityRecord encodes a record of a request by id and checks it.
func checkIdentityRecord(t *testing.T, id *snapshot.Identity) {
	t.Helper()
	e := fullEntry()
	e.Caller = id
	for range 2 { // the tags are encoded, then served from the cache
		b := AppendJSON(nil, e)
		if bytes.ContainsAny(b, "\r\n") || bytes.IndexByte(b, 0) >= 0 {
			t.Fatalf("a raw line break or NUL in %q", b)
		}
		if diff := cmp.Diff(fieldOrder, keys(t, b)); diff != "" {
			t.Fatalf("keys (-want +got):\n%s\nrecord %s", diff, b)
		}
		got := decode(t, b)
		for k, in := range map[string]string{"resolvedUser": id.PrincipalARN, "callerPrincipal": id.PrincipalARN,
			"callerPrincipalOrgID": id.OrgID} {
			if got[k] != wantString(in) {
				t.Fatalf("%s: %q read back as %q, want %q", k, in, got[k], wantString(in))
			}
		}
		s, _ := got["callerPrincipalTags"].(string)
		if len(id.Tags) == 0 {
			if s != "-" {
				t.Fatalf("callerPrincipalTags without tags: %q", s)
			}
			continue
		}
		var tags map[string]string
		if err := json.Unmarshal([]byte(s), &tags); err != nil {
			t.Fatalf("callerPrincipalTags %q is not a JSON object: %v", s, err)
		}
		// Keys are written in sorted order; two keys that differ only in
		// invalid UTF-8 read back as one (U+FFFD each), the last one.
		want := map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(id.Tags)) {
			want[string([]rune(k))] = string([]rune(id.Tags[k]))
		}
		if diff := cmp.Diff(want, tags); diff != "" {
			t.Fatalf("callerPrincipalTags (-want +got):\n%s", diff)
		}
	}
}

func TestAppendJSONIdentityAttacks(t *testing.T) {
	const crlf = "blue\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /admin/users HTTP/1.1\r\n"
	for _, tc := range []struct {
		name string
		id   snapshot.Identity
	}{
		{"CR LF in a tag value", snapshot.Identity{PrincipalARN: "arn:aws:iam::111122223333:user/u", Tags: map[string]string{"team": crlf}}},
		{"a tag that closes the string and adds a field", snapshot.Identity{PrincipalARN: "arn:aws:iam::111122223333:user/u",
			Tags: map[string]string{`k"}","injected":"1`: `v","failureReason":"x`}}},
		{"a principal that closes the string and adds a field", snapshot.Identity{
			PrincipalARN: `arn:aws:iam::111122223333:user/u","failureReason":"forged`, OrgID: "o-\"\n,\"x\":\"1"}},
		{"semicolons", snapshot.Identity{PrincipalARN: "arn:aws:iam::111122223333:user/;Principal=arn:aws:iam::999999999999:root;/u",
			Tags: map[string]string{"k;principal": "arn:aws:iam::999999999999:root;x=y"}}},
		{"backslashes, controls, invalid UTF-8, U+2028", snapshot.Identity{PrincipalARN: "a\\b\x00\x1f\x7f\xff\u2028",
			Tags: map[string]string{"\\": "\\\"", "\x00\u2029": "\xfe\t"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkIdentityRecord(t, &tc.id)
		})
	}
}

func FuzzAppendJSONIdentity(f *testing.F) {
	f.Add("arn:aws:iam::111122223333:user/u", "o-a1b2c3d4e5", "team", "blue", "env", "prod")
	f.Add(`u","x":"1`, "o\r\n", "k\"}", "v\r\n\"", ";principal", "\\")
	f.Add("\xff\u2028", "\x00", "", "", "\x7f", "\ufffd")
	f.Fuzz(func(t *testing.T, principal, org, k1, v1, k2, v2 string) {
		checkIdentityRecord(t, &snapshot.Identity{PrincipalARN: principal, OrgID: org, Tags: map[string]string{k1: v1, k2: v2}})
	})
}
