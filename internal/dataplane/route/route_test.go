package route

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/snapshot"
)

type req struct {
	method  string
	target  string
	host    string
	headers [][2]string
}

func (q req) build() *http.Request {
	m := q.method
	if m == "" {
		m = http.MethodGet
	}
	t := q.target
	if t == "" {
		t = "/"
	}
	r := httptest.NewRequest(m, t, nil)
	if q.host != "" {
		r.Host = q.host
	}
	for _, h := range q.headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

func path(exact, cs bool, v string) *snapshot.PathMatch {
	if !cs {
		v = strings.ToLower(v)
	}
	return &snapshot.PathMatch{Exact: exact, Value: v, CaseSensitive: cs}
}

func header(name string, kind int, cs bool, v string) snapshot.HeaderMatch {
	if !cs {
		v = strings.ToLower(v)
	}
	return snapshot.HeaderMatch{Name: http.CanonicalHeaderKey(name), Kind: kind, Value: v, CaseSensitive: cs}
}

func TestMatchCriteria(t *testing.T) {
	tests := []struct {
		name  string
		match snapshot.Match
		req   req
		want  bool
	}{
		{"empty match", snapshot.Match{}, req{method: "DELETE", target: "/x"}, true},

		{"method exact", snapshot.Match{Method: "POST"}, req{method: "POST"}, true},
		{"method other", snapshot.Match{Method: "POST"}, req{method: "GET"}, false},
		{"method case-sensitive", snapshot.Match{Method: "POST"}, req{method: "post"}, false},
		{"method custom", snapshot.Match{Method: "PURGE"}, req{method: "PURGE"}, true},

		{"path exact", snapshot.Match{Path: path(true, false, "/api/v1")}, req{target: "/api/v1"}, true},
		{"path exact folds case", snapshot.Match{Path: path(true, false, "/API/v1")}, req{target: "/Api/V1"}, true},
		{"path exact longer", snapshot.Match{Path: path(true, false, "/api/v1")}, req{target: "/api/v1/"}, false},
		{"path exact shorter", snapshot.Match{Path: path(true, false, "/api/v1")}, req{target: "/api/v"}, false},
		{"path exact ignores query", snapshot.Match{Path: path(true, false, "/api")}, req{target: "/api?x=1"}, true},
		{"path exact cs equal", snapshot.Match{Path: path(true, true, "/Api")}, req{target: "/Api"}, true},
		{"path exact cs differs", snapshot.Match{Path: path(true, true, "/Api")}, req{target: "/api"}, false},
		{"path prefix", snapshot.Match{Path: path(false, false, "/api")}, req{target: "/api/users"}, true},
		{"path prefix equal", snapshot.Match{Path: path(false, false, "/api")}, req{target: "/api"}, true},
		{"path prefix folds case", snapshot.Match{Path: path(false, false, "/api")}, req{target: "/APi/users"}, true},
		{"path prefix no", snapshot.Match{Path: path(false, false, "/api")}, req{target: "/ap"}, false},
		{"path prefix other", snapshot.Match{Path: path(false, false, "/api")}, req{target: "/web/api"}, false},
		{"path prefix cs", snapshot.Match{Path: path(false, true, "/API")}, req{target: "/API/x"}, true},
		{"path prefix cs differs", snapshot.Match{Path: path(false, true, "/API")}, req{target: "/api/x"}, false},
		{"path prefix root", snapshot.Match{Path: path(false, false, "/")}, req{target: "/anything"}, true},
		{"path decoded", snapshot.Match{Path: path(true, false, "/a b")}, req{target: "/a%20B"}, true},
		{"path non-ASCII folds", snapshot.Match{Path: path(true, false, "/Ärger")}, req{target: "/%C3%84RGER"}, true},
		{"path non-ASCII cs", snapshot.Match{Path: path(true, true, "/Ärger")}, req{target: "/%C3%A4rger"}, false},

		{"header exact", snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-env", snapshot.HeaderExact, false, "Canary")}},
			req{headers: [][2]string{{"X-Env", "canary"}}}, true},
		{"header exact name case", snapshot.Match{Headers: []snapshot.HeaderMatch{header("X-ENV", snapshot.HeaderExact, false, "canary")}},
			req{headers: [][2]string{{"x-env", "CANARY"}}}, true},
		{"header exact differs", snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-env", snapshot.HeaderExact, false, "canary")}},
			req{headers: [][2]string{{"X-Env", "canary2"}}}, false},
		{"header missing", snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-env", snapshot.HeaderExact, false, "")}},
			req{}, false},
		{"header empty value present", snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-env", snapshot.HeaderExact, false, "")}},
			req{headers: [][2]string{{"X-Env", ""}}}, true},
		{"header exact cs", snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-env", snapshot.HeaderExact, true, "Canary")}},
			req{headers: [][2]string{{"X-Env", "Canary"}}}, true},
		{"header exact cs differs", snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-env", snapshot.HeaderExact, true, "Canary")}},
			req{headers: [][2]string{{"X-Env", "canary"}}}, false},
		{"header prefix", snapshot.Match{Headers: []snapshot.HeaderMatch{header("user-agent", snapshot.HeaderPrefix, false, "curl/")}},
			req{headers: [][2]string{{"User-Agent", "Curl/8.1"}}}, true},
		{"header prefix no", snapshot.Match{Headers: []snapshot.HeaderMatch{header("user-agent", snapshot.HeaderPrefix, false, "curl/")}},
			req{headers: [][2]string{{"User-Agent", "wget curl/"}}}, false},
		{"header prefix short", snapshot.Match{Headers: []snapshot.HeaderMatch{header("user-agent", snapshot.HeaderPrefix, false, "curl/")}},
			req{headers: [][2]string{{"User-Agent", "cur"}}}, false},
		{"header prefix cs", snapshot.Match{Headers: []snapshot.HeaderMatch{header("user-agent", snapshot.HeaderPrefix, true, "Curl")}},
			req{headers: [][2]string{{"User-Agent", "curl/8"}}}, false},
		{"header contains", snapshot.Match{Headers: []snapshot.HeaderMatch{header("cookie", snapshot.HeaderContains, false, "Beta=1")}},
			req{headers: [][2]string{{"Cookie", "a=b; BETA=1; c=d"}}}, true},
		{"header contains at end", snapshot.Match{Headers: []snapshot.HeaderMatch{header("cookie", snapshot.HeaderContains, false, "beta=1")}},
			req{headers: [][2]string{{"Cookie", "a=b; beta=1"}}}, true},
		{"header contains no", snapshot.Match{Headers: []snapshot.HeaderMatch{header("cookie", snapshot.HeaderContains, false, "beta=1")}},
			req{headers: [][2]string{{"Cookie", "a=b; beta=2"}}}, false},
		{"header contains cs", snapshot.Match{Headers: []snapshot.HeaderMatch{header("cookie", snapshot.HeaderContains, true, "Beta=1")}},
			req{headers: [][2]string{{"Cookie", "a=b; beta=1"}}}, false},
		{"header contains cs yes", snapshot.Match{Headers: []snapshot.HeaderMatch{header("cookie", snapshot.HeaderContains, true, "Beta=1")}},
			req{headers: [][2]string{{"Cookie", "a=b; Beta=1"}}}, true},
		{"header any value", snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-tag", snapshot.HeaderExact, false, "b")}},
			req{headers: [][2]string{{"X-Tag", "a"}, {"X-Tag", "B"}}}, true},
		{"header values not joined", snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-tag", snapshot.HeaderExact, false, "a, b")}},
			req{headers: [][2]string{{"X-Tag", "a"}, {"X-Tag", "b"}}}, false},
		{"header host", snapshot.Match{Headers: []snapshot.HeaderMatch{header("host", snapshot.HeaderPrefix, false, "api.")}},
			req{host: "API.example.com"}, true},
		{"headers all must hold", snapshot.Match{Headers: []snapshot.HeaderMatch{
			header("x-a", snapshot.HeaderExact, false, "1"), header("x-b", snapshot.HeaderExact, false, "2")}},
			req{headers: [][2]string{{"X-A", "1"}, {"X-B", "3"}}}, false},
		{"headers all hold", snapshot.Match{Headers: []snapshot.HeaderMatch{
			header("x-a", snapshot.HeaderExact, false, "1"), header("x-b", snapshot.HeaderExact, false, "2")}},
			req{headers: [][2]string{{"X-A", "1"}, {"X-B", "2"}}}, true},
		{"unknown kind", snapshot.Match{Headers: []snapshot.HeaderMatch{{Name: "X-A", Kind: 42, Value: "1"}}},
			req{headers: [][2]string{{"X-A", "1"}}}, false},

		{"all criteria", snapshot.Match{Method: "PUT", Path: path(false, false, "/v2"),
			Headers: []snapshot.HeaderMatch{header("x-a", snapshot.HeaderContains, false, "yes")}},
			req{method: "PUT", target: "/V2/items", headers: [][2]string{{"X-A", "oh YES"}}}, true},
		{"all criteria but method", snapshot.Match{Method: "PUT", Path: path(false, false, "/v2"),
			Headers: []snapshot.HeaderMatch{header("x-a", snapshot.HeaderContains, false, "yes")}},
			req{method: "POST", target: "/V2/items", headers: [][2]string{{"X-A", "oh YES"}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule := &snapshot.Rule{ID: "r", Match: tc.match}
			def := &snapshot.Rule{ID: "default", IsDefault: true}
			l := &snapshot.Listener{Rules: []*snapshot.Rule{rule, def}}
			got := Match(l, tc.req.build())
			if (got == rule) != tc.want {
				t.Fatalf("matched %q, want rule matched = %v", got.ID, tc.want)
			}
			if !tc.want && got != def {
				t.Fatalf("fell through to %v, want the default rule", got)
			}
		})
	}
}

func TestMatchOrder(t *testing.T) {
	r1 := &snapshot.Rule{ID: "r1", Priority: 1, Match: snapshot.Match{Path: path(false, false, "/api/v2")}}
	r2 := &snapshot.Rule{ID: "r2", Priority: 2, Match: snapshot.Match{Path: path(false, false, "/api")}}
	def := &snapshot.Rule{ID: "default", IsDefault: true}
	l := &snapshot.Listener{Rules: []*snapshot.Rule{r1, r2, def}}
	for target, want := range map[string]string{"/api/v2/x": "r1", "/api/v1": "r2", "/": "default"} {
		if got := Match(l, req{target: target}.build()); got.ID != want {
			t.Errorf("%s: got %s, want %s", target, got.ID, want)
		}
	}
	if got := Match(&snapshot.Listener{}, req{}.build()); got != nil {
		t.Errorf("no rules: got %v", got)
	}
	if got := Match(nil, req{}.build()); got != nil {
		t.Errorf("nil listener: got %v", got)
	}
}

func TestEqualFoldHelpers(t *testing.T) {
	for _, tc := range []struct {
		s, lowered   string
		eq, contains bool
	}{
		{"", "", true, true},
		{"ABC", "abc", true, true},
		{"aBc", "abd", false, false},
		{"xxABCxx", "abc", false, true},
		{"ab", "abc", false, false},
		{"[", "{", false, false}, // '[' is not 'A'..'Z'
		{"@", "`", false, false},
	} {
		if got := equalFold(tc.s, tc.lowered); got != tc.eq {
			t.Errorf("equalFold(%q, %q) = %v", tc.s, tc.lowered, got)
		}
		if got := containsFold(tc.s, tc.lowered); got != tc.contains {
			t.Errorf("containsFold(%q, %q) = %v", tc.s, tc.lowered, got)
		}
	}
}

func forward(weights ...int) *snapshot.Action {
	a := &snapshot.Action{}
	for i, w := range weights {
		a.TotalWeight += w
		a.Forward = append(a.Forward, snapshot.WeightedTargetGroup{
			TargetGroup: &snapshot.TargetGroup{ID: string(rune('a' + i))},
			Weight:      w,
			Cumulative:  a.TotalWeight,
		})
	}
	return a
}

func TestPickGroup(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    string // group picked for each n in [0, total)
	}{
		{[]int{1}, "a"},
		{[]int{3, 1}, "aaab"},
		{[]int{0, 2, 0, 1}, "bbd"},
		{[]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, "abcdefghijj"}, // binary search path
		{[]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, "ij"},
	} {
		a := forward(tc.weights...)
		var got []byte
		for n := 0; n < a.TotalWeight; n++ {
			g := PickGroup(a, n)
			if g == nil {
				t.Fatalf("weights %v: n=%d picked nothing", tc.weights, n)
			}
			got = append(got, g.ID...)
		}
		if string(got) != tc.want {
			t.Errorf("weights %v: picks %q, want %q", tc.weights, got, tc.want)
		}
		if g := PickGroup(a, -1); g != nil {
			t.Errorf("weights %v: n=-1 picked %v", tc.weights, g.ID)
		}
		if g := PickGroup(a, a.TotalWeight); g != nil {
			t.Errorf("weights %v: n=total picked %v", tc.weights, g.ID)
		}
	}
	if g := PickGroup(forward(0, 0), 0); g != nil {
		t.Errorf("zero total weight picked %v", g.ID)
	}
	if g := PickGroup(&snapshot.Action{FixedStatus: 404}, 0); g != nil {
		t.Errorf("fixed response picked %v", g.ID)
	}
}

func TestMatchAllocs(t *testing.T) {
	l, r := benchListener()
	if n := testing.AllocsPerRun(100, func() { Match(l, r) }); n != 0 {
		t.Fatalf("Match allocates %v times per call", n)
	}
	a := forward(10, 20, 30, 40)
	if n := testing.AllocsPerRun(100, func() { PickGroup(a, 55) }); n != 0 {
		t.Fatalf("PickGroup allocates %v times per call", n)
	}
}

// benchListener has five rules; only the last (a custom rule using every
// criterion) matches the request.
func benchListener() (*snapshot.Listener, *http.Request) {
	l := &snapshot.Listener{Rules: []*snapshot.Rule{
		{ID: "1", Match: snapshot.Match{Method: "POST"}},
		{ID: "2", Match: snapshot.Match{Path: path(true, false, "/api/v1/Orders")}},
		{ID: "3", Match: snapshot.Match{Path: path(false, false, "/admin")}},
		{ID: "4", Match: snapshot.Match{Headers: []snapshot.HeaderMatch{header("x-canary", snapshot.HeaderExact, false, "yes")}}},
		{ID: "5", Match: snapshot.Match{Method: "GET", Path: path(false, false, "/API/v1/"), Headers: []snapshot.HeaderMatch{
			header("user-agent", snapshot.HeaderContains, false, "Mozilla"),
			header("x-tenant", snapshot.HeaderPrefix, true, "acme-"),
		}}},
	}}
	r := req{target: "/api/V1/orders/12345", headers: [][2]string{
		{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0"},
		{"X-Tenant", "acme-prod"},
		{"Accept", "*/*"},
	}}.build()
	return l, r
}

func BenchmarkMatch(b *testing.B) {
	l, r := benchListener()
	b.ReportAllocs()
	for b.Loop() {
		if Match(l, r) != l.Rules[4] {
			b.Fatal("wrong rule")
		}
	}
}

func BenchmarkPickGroup(b *testing.B) {
	a := forward(100, 200, 50, 50, 100, 100, 100, 100, 100, 100)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if PickGroup(a, n) == nil {
			b.Fatal("nil")
		}
		n += 7
		if n >= a.TotalWeight {
			n -= a.TotalWeight
		}
	}
}
