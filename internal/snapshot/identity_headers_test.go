package snapshot

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
)

// kv is one decoded field of an identity header.
type kv struct{ Key, Value string }

// parseIdentityFields is the reference decoder of the identity headers
// (the encoding in identity_headers.go): split on every ';' not escaped by
// '\', split each field on its first unescaped '=', unescape "\x" to "x".
// It is written independently of the encoder, character by character.
func parseIdentityFields(h string) ([]kv, error) {
	var out []kv
	var key, cur strings.Builder
	inKey := true
	end := func() error {
		if inKey {
			return errors.New("field without '=': " + cur.String())
		}
		out = append(out, kv{key.String(), cur.String()})
		key.Reset()
		cur.Reset()
		inKey = true
		return nil
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '\\':
			if i+1 == len(h) {
				return nil, errors.New("dangling escape")
			}
			i++
			cur.WriteByte(h[i])
		case c == ';':
			if err := end(); err != nil {
				return nil, err
			}
		case c == '=' && inKey:
			key.WriteString(cur.String())
			cur.Reset()
			inKey = false
		default:
			cur.WriteByte(c)
		}
	}
	if h == "" {
		return nil, nil
	}
	if err := end(); err != nil {
		return nil, err
	}
	return out, nil
}

func controlFree(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// wantIdentityFields is what a target must decode from id's headers: every
// field put in, in order, except those holding control bytes, tags with an
// empty name and tags named like the header's own fields.
func wantIdentityFields(id *Identity) (ident, tags []kv, dropped int) {
	add := func(list *[]kv, k, v string, always bool) {
		if v == "" && !always {
			return
		}
		if !controlFree(k) || !controlFree(v) {
			dropped++
			return
		}
		*list = append(*list, kv{k, v})
	}
	add(&ident, "Principal", id.PrincipalARN, true)
	add(&ident, "PrincipalOrgID", id.OrgID, false)
	add(&ident, "PrincipalOrgPath", id.OrgPath, false)
	add(&ident, "SessionName", id.SessionName, false)
	add(&ident, "Type", "AWS_IAM", true)
	add(&tags, "principal", id.PrincipalARN, true)
	add(&tags, "principalorgid", id.OrgID, false)
	add(&tags, "principalorgpath", id.OrgPath, false)
	keys := make([]string, 0, len(id.Tags))
	for k := range id.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch strings.ToLower(k) {
		case "", "principal", "principalorgid", "principalorgpath":
			dropped++
			continue
		}
		add(&tags, k, id.Tags[k], true)
	}
	return ident, tags, dropped
}

// checkIdentityHeaders encodes id and checks the headers against the
// reference decoder.
func checkIdentityHeaders(t *testing.T, id *Identity) (ident, tags string, warnings []string) {
	t.Helper()
	h, th := identityHeaders(id, func(w string) { warnings = append(warnings, w) })
	if len(h) != 1 || len(th) != 1 {
		t.Fatalf("want one value per header, got %q and %q", h, th)
	}
	ident, tags = h[0], th[0]
	for _, v := range []string{ident, tags} {
		if !controlFree(v) {
			t.Fatalf("control byte in a header value: %q", v)
		}
	}
	wantIdent, wantTags, dropped := wantIdentityFields(id)
	gotIdent, err := parseIdentityFields(ident)
	if err != nil {
		t.Fatalf("x-amzn-lattice-identity %q: %v", ident, err)
	}
	gotTags, err := parseIdentityFields(tags)
	if err != nil {
		t.Fatalf("x-amzn-lattice-identity-tags %q: %v", tags, err)
	}
	if !reflect.DeepEqual(gotIdent, wantIdent) {
		t.Fatalf("x-amzn-lattice-identity %q decodes to\n%q\nwant\n%q", ident, gotIdent, wantIdent)
	}
	if !reflect.DeepEqual(gotTags, wantTags) {
		t.Fatalf("x-amzn-lattice-identity-tags %q decodes to\n%q\nwant\n%q", tags, gotTags, wantTags)
	}
	// Never a second principal, in either header, in any case.
	for _, fields := range [][]kv{gotIdent, gotTags} {
		n := 0
		for _, f := range fields {
			if strings.EqualFold(f.Key, "principal") {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%d principal fields in %q", n, fields)
		}
	}
	if (dropped > 0) != (len(warnings) > 0) {
		t.Fatalf("%d fields left out but %d warnings: %q", dropped, len(warnings), warnings)
	}
	for _, w := range warnings {
		if !controlFree(w) {
			t.Fatalf("control byte in a warning: %q", w)
		}
	}
	return ident, tags, warnings
}

const injected = "blue\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /admin/users HTTP/1.1\r\nHost: x\r\n\r\n"

func TestIdentityHeadersAttacks(t *testing.T) {
	t.Parallel()
	const user = "arn:aws:iam::111122223333:user/alice"
	for _, tc := range []struct {
		name      string
		id        Identity
		ident     string // the exact x-amzn-lattice-identity
		tags      string // the exact x-amzn-lattice-identity-tags
		warnCount int
	}{
		{
			name:  "plain",
			id:    Identity{PrincipalARN: user, OrgID: "o-a1b2c3d4e5", Tags: map[string]string{"team": "blue", "env": "prod"}},
			ident: "Principal=" + user + ";PrincipalOrgID=o-a1b2c3d4e5;Type=AWS_IAM",
			tags:  "principal=" + user + ";principalorgid=o-a1b2c3d4e5;env=prod;team=blue",
		},
		{
			name:      "CR LF in a tag value",
			id:        Identity{PrincipalARN: user, Tags: map[string]string{"team": injected, "env": "prod"}},
			ident:     "Principal=" + user + ";Type=AWS_IAM",
			tags:      "principal=" + user + ";env=prod",
			warnCount: 1,
		},
		{
			name:      "CR LF in a tag key",
			id:        Identity{PrincipalARN: user, Tags: map[string]string{"x\r\nX-Injected: yes\r\n": "v"}},
			ident:     "Principal=" + user + ";Type=AWS_IAM",
			tags:      "principal=" + user,
			warnCount: 1,
		},
		{
			name:  "a tag key that ends in ;principal",
			id:    Identity{PrincipalARN: user, Tags: map[string]string{"k;principal": "arn:aws:iam::999999999999:root"}},
			ident: "Principal=" + user + ";Type=AWS_IAM",
			tags:  "principal=" + user + `;k\;principal=arn:aws:iam::999999999999:root`,
		},
		{
			name:  "a tag key holding =principal",
			id:    Identity{PrincipalARN: user, Tags: map[string]string{"k=x;principal": "arn:aws:iam::999999999999:root"}},
			ident: "Principal=" + user + ";Type=AWS_IAM",
			tags:  "principal=" + user + `;k\=x\;principal=arn:aws:iam::999999999999:root`,
		},
		{
			name:      "a tag named principal",
			id:        Identity{PrincipalARN: user, Tags: map[string]string{"Principal": "arn:aws:iam::999999999999:root", "principalorgid": "o-zzzzzzzzzz"}},
			ident:     "Principal=" + user + ";Type=AWS_IAM",
			tags:      "principal=" + user,
			warnCount: 2,
		},
		{
			name: "a path that spells another principal",
			id:   Identity{PrincipalARN: "arn:aws:iam::111122223333:user/;Principal=arn:aws:iam::999999999999:root;/bob"},
			ident: `Principal=arn:aws:iam::111122223333:user/\;Principal=arn:aws:iam::999999999999:root\;/bob;` +
				"Type=AWS_IAM",
			tags: `principal=arn:aws:iam::111122223333:user/\;Principal=arn:aws:iam::999999999999:root\;/bob`,
		},
		{
			name:  "backslashes",
			id:    Identity{PrincipalARN: `arn:aws:iam::111122223333:user/a\/b`, Tags: map[string]string{`k\`: `v\`}},
			ident: `Principal=arn:aws:iam::111122223333:user/a\\/b;Type=AWS_IAM`,
			tags:  `principal=arn:aws:iam::111122223333:user/a\\/b;k\\=v\\`,
		},
		{
			name: "a session",
			id: Identity{PrincipalARN: "arn:aws:sts::111122223333:assumed-role/r/s=1", SessionName: "s=1",
				OrgID: "o-a1b2c3d4e5", OrgPath: "o-a1b2c3d4e5/r-ab12/"},
			ident: "Principal=arn:aws:sts::111122223333:assumed-role/r/s=1;PrincipalOrgID=o-a1b2c3d4e5;" +
				"PrincipalOrgPath=o-a1b2c3d4e5/r-ab12/;SessionName=s=1;Type=AWS_IAM",
			tags: "principal=arn:aws:sts::111122223333:assumed-role/r/s=1;principalorgid=o-a1b2c3d4e5;principalorgpath=o-a1b2c3d4e5/r-ab12/",
		},
		{
			name:      "NUL and DEL in the session name and org path",
			id:        Identity{PrincipalARN: user, SessionName: "s\x00", OrgPath: "o-a1b2c3d4e5/\x7f/"},
			ident:     "Principal=" + user + ";Type=AWS_IAM",
			tags:      "principal=" + user,
			warnCount: 3, // the org path in both headers, the session name in one
		},
		{
			name:  "empty tag value, non-ASCII text",
			id:    Identity{PrincipalARN: user, Tags: map[string]string{"équipe": "", "名前": "値 ２"}},
			ident: "Principal=" + user + ";Type=AWS_IAM",
			tags:  "principal=" + user + ";équipe=;名前=値 ２",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ident, tags, warnings := checkIdentityHeaders(t, &tc.id)
			if ident != tc.ident || tags != tc.tags {
				t.Fatalf("got\n%s\n%s\nwant\n%s\n%s", ident, tags, tc.ident, tc.tags)
			}
			if len(warnings) != tc.warnCount {
				t.Fatalf("%d warnings, want %d: %q", len(warnings), tc.warnCount, warnings)
			}
		})
	}
}

// TestCompileIdentityWarnings: data stored before the API checked it (a
// tag with CR LF) is left out of the compiled headers and reported once in
// Snapshot.Warnings, however many keys the principal holds.
func TestCompileIdentityWarnings(t *testing.T) {
	t.Parallel()
	const user = "arn:aws:iam::111122223333:user/alice"
	st := &State{
		Accounts:   []*model.Account{{ID: "111122223333"}},
		Principals: []*model.Principal{{ARN: user, Account: "111122223333", Type: model.PrincipalTypeUser, Name: "alice", Tags: map[string]string{"team": injected, "env": "prod"}}},
		AccessKeys: []*model.AccessKey{
			{ID: "AKIAAAAAAAAAAAAAAAA1", Secret: "s", PrincipalARN: user, Account: "111122223333", Status: "Active"},
			{ID: "AKIAAAAAAAAAAAAAAAA2", Secret: "s", PrincipalARN: user, Account: "111122223333", Status: "Active"},
		},
	}
	snap := Compile(st, Options{Region: "us-east-1", Now: time.Unix(0, 0)})
	for _, k := range []string{"AKIAAAAAAAAAAAAAAAA1", "AKIAAAAAAAAAAAAAAAA2"} {
		id := snap.Identities[k]
		if id == nil {
			t.Fatalf("key %s not compiled", k)
		}
		if got := id.TagsHeader[0]; got != "principal="+user+";env=prod" {
			t.Fatalf("tags header %q", got)
		}
	}
	if len(snap.Warnings) != 1 || !strings.Contains(snap.Warnings[0], `"team"`) || strings.ContainsAny(snap.Warnings[0], "\r\n") {
		t.Fatalf("warnings: %q", snap.Warnings)
	}
}

// FuzzIdentityHeaders: whatever the stored identity holds, the headers hold
// no control byte and decode to exactly the fields put in (one field stays
// one field; no second principal ever appears).
func FuzzIdentityHeaders(f *testing.F) {
	f.Add("arn:aws:iam::111122223333:user/alice", "", "o-a1b2c3d4e5", "", "team", "blue", "env", "prod", "", "")
	f.Add("arn:aws:iam::111122223333:user/;Principal=arn:aws:iam::999999999999:root;/bob", "s1", "", "", "k;principal",
		"arn:aws:iam::999999999999:root", "principal", "x", "a=b", `c\;d`)
	f.Add("arn:aws:iam::111122223333:role/r", "sess", "o-x", "o-x/r-ab12/", "team", injected, `\`, `\\;`, "=", ";")
	f.Add(`a\`, `\;`, ";", "=", `k\=`, `=\`, "Principal", "PRINCIPAL", "\x00", "\x7f")
	f.Fuzz(func(t *testing.T, principal, session, orgID, orgPath, k1, v1, k2, v2, k3, v3 string) {
		id := &Identity{PrincipalARN: principal, SessionName: session, OrgID: orgID, OrgPath: orgPath,
			Tags: map[string]string{k1: v1, k2: v2, k3: v3}}
		checkIdentityHeaders(t, id)
	})
}
