package cli

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/google/go-cmp/cmp"
)

func TestLooksLikeID(t *testing.T) {
	tests := []struct {
		prefix, s string
		want      bool
	}{
		{"svc", "svc-0123456789abcdef0", true},
		{"svc", "svc-zzzzzzzzzzzzzzzzz", true}, // [0-9a-z], not only hex
		{"sn", "sn-0123456789abcdef0", true},
		{"tg", "tg-0123456789abcdef0", true},
		{"listener", "listener-0123456789abcdef0", true},
		{"rule", "rule-0123456789abcdef0", true},
		{"svc", "orders", false},
		{"svc", "svc-1", false},                  // too short
		{"svc", "svc-0123456789abcdef", false},   // 16 characters
		{"svc", "svc-0123456789abcdef01", false}, // 18 characters
		{"svc", "svc-0123456789ABCDEF0", false},  // upper case
		{"svc", "svc-0123456789abcde-0", false},  // hyphen
		{"svc", "svc_0123456789abcdef0", false},  // underscore
		{"svc", "sn-0123456789abcdef012", false}, // another kind
		{"sn", "svc-0123456789abcdef0", false},   // another kind
		{"tg", "tg-0123456789abcdef0 ", false},   // trailing space
		{"svc", "svcx0123456789abcdef0", false},  // no hyphen
		{"svc", "", false},                       // empty
		{"listener", "listener-0123456789abcdef", false},
	}
	for _, tt := range tests {
		if got := looksLikeID(tt.prefix, tt.s); got != tt.want {
			t.Errorf("looksLikeID(%q, %q) = %v, want %v", tt.prefix, tt.s, got, tt.want)
		}
	}
}

func TestIsIdentifier(t *testing.T) {
	resource := []*nameKind{serviceKind, serviceNetworkKind}
	tests := []struct {
		s     string
		kinds []*nameKind
		want  bool
	}{
		{"arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0", []*nameKind{serviceKind}, true},
		{"arn:anything", []*nameKind{targetGroupKind}, true}, // the server judges ARNs
		{"svc-0123456789abcdef0", []*nameKind{serviceKind}, true},
		{"svc-0123456789abcdef0", []*nameKind{serviceNetworkKind}, false},
		{"svc-0123456789abcdef0", resource, true},
		{"sn-0123456789abcdef0", resource, true},
		{"tg-0123456789abcdef0", resource, false},
		{"orders", resource, false},
		{"arn", []*nameKind{serviceKind}, false},
	}
	for _, tt := range tests {
		if got := isIdentifier(tt.s, tt.kinds); got != tt.want {
			t.Errorf("isIdentifier(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// IDs of the resources the fake endpoint lists.
const (
	rsSvc   = "svc-0123456789abcdef1"
	rsSvc2  = "svc-0123456789abcdef2"
	rsSN    = "sn-0123456789abcdef1"
	rsTG1   = "tg-0123456789abcdef1"
	rsTG2   = "tg-0123456789abcdef2"
	rsLn    = "listener-0123456789abcdef1"
	rsRule  = "rule-0123456789abcdef1"
	rsRule2 = "rule-0123456789abcdef2"
)

var (
	servicesPage   = reply{status: 200, body: `{"items":[{"id":"` + rsSvc2 + `","name":"billing"},{"id":"` + rsSvc + `","name":"orders"}]}`}
	networksPage   = reply{status: 200, body: `{"items":[{"id":"` + rsSN + `","name":"prod"}]}`}
	targetGroups   = reply{status: 200, body: `{"items":[{"id":"` + rsTG1 + `","name":"web-a"},{"id":"` + rsTG2 + `","name":"web-b"}]}`}
	listenersPage  = reply{status: 200, body: `{"items":[{"id":"` + rsLn + `","name":"web"}]}`}
	rulesPage      = reply{status: 200, body: `{"items":[{"id":"` + rsRule + `","name":"api"},{"id":"` + rsRule2 + `","name":"admin"}]}`}
	emptyPage      = reply{status: 200, body: `{"items":[]}`}
	okReply        = reply{status: 200, body: `{}`}
	servicesPaged1 = reply{status: 200, body: `{"items":[{"id":"` + rsSvc2 + `","name":"billing"}],"nextToken":"p2"}`}
	servicesPaged2 = reply{status: 200, body: `{"items":[{"id":"` + rsSvc + `","name":"orders"}]}`}
)

// request returns "METHOD path[?query]".
func (r recorded) String() string {
	s := r.method + " " + r.path
	if r.rawQuery != "" {
		s += "?" + r.rawQuery
	}
	return s
}

func TestNamesAreResolved(t *testing.T) {
	policy := `{"Version":"2012-10-17","Statement":[]}`
	svcPath := "/services/" + rsSvc
	rulesPath := svcPath + "/listeners/" + rsLn + "/rules"
	tests := []struct {
		name     string
		args     []string
		replies  []reply
		requests []string
		body     string // JSON of the last request; "" to skip
	}{
		{
			name:     "positional service name",
			args:     []string{"service", "get", "orders"},
			replies:  []reply{servicesPage},
			requests: []string{"GET /services", "GET " + svcPath},
		},
		{
			name:     "name found on a later page",
			args:     []string{"service", "delete", "--service", "orders"},
			replies:  []reply{servicesPaged1, servicesPaged2},
			requests: []string{"GET /services", "GET /services?nextToken=p2", "DELETE " + svcPath},
		},
		{
			name: "listener create with service and weighted target group names",
			args: []string{"listener", "create", "--service", "orders", "--name", "web", "--protocol", "HTTP", "--client-token", "t",
				"--default-forward", "web-a=80,tg-0123456789abcdef9=10", "--default-forward", "web-b=10"},
			replies:  []reply{servicesPage, targetGroups},
			requests: []string{"GET /services", "GET /targetgroups", "POST " + svcPath + "/listeners"},
			body: `{"name":"web","protocol":"HTTP","clientToken":"t","defaultAction":{"forward":{"targetGroups":[` +
				`{"targetGroupIdentifier":"` + rsTG1 + `","weight":80},{"targetGroupIdentifier":"tg-0123456789abcdef9","weight":10},` +
				`{"targetGroupIdentifier":"` + rsTG2 + `","weight":10}]}}}`,
		},
		{
			name:     "IDs and ARNs are sent as they are",
			args:     []string{"snsa", "create", "--service-network", "arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/" + rsSN, "--service", rsSvc, "--client-token", "t"},
			requests: []string{"POST /servicenetworkserviceassociations"},
			body:     `{"serviceNetworkIdentifier":"arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/` + rsSN + `","serviceIdentifier":"` + rsSvc + `","clientToken":"t"}`,
		},
		{
			name:     "snsa create with names",
			args:     []string{"snsa", "create", "--service-network", "prod", "--service", "orders", "--client-token", "t"},
			replies:  []reply{networksPage, servicesPage},
			requests: []string{"GET /servicenetworks", "GET /services", "POST /servicenetworkserviceassociations"},
			body:     `{"serviceNetworkIdentifier":"` + rsSN + `","serviceIdentifier":"` + rsSvc + `","clientToken":"t"}`,
		},
		{
			name:     "list filters",
			args:     []string{"snsa", "list", "--service", "orders"},
			replies:  []reply{servicesPage},
			requests: []string{"GET /services", "GET /servicenetworkserviceassociations?serviceIdentifier=" + rsSvc},
		},
		{
			name:     "target group name",
			args:     []string{"tg", "register-targets", "--target-group", "web-b", "--target", "10.0.0.1:80"},
			replies:  []reply{targetGroups},
			requests: []string{"GET /targetgroups", "POST /targetgroups/" + rsTG2 + "/registertargets"},
			body:     `{"targets":[{"id":"10.0.0.1","port":80}]}`,
		},
		{
			name:     "resource names a service",
			args:     []string{"auth-policy", "put", "--resource", "orders", "--policy", policy},
			replies:  []reply{servicesPage, networksPage},
			requests: []string{"GET /services", "GET /servicenetworks", "PUT /authpolicy/" + rsSvc},
		},
		{
			name:     "resource names a service network",
			args:     []string{"als", "create", "--resource", "prod", "--destination-arn", "arn:aws:logs:us-east-1:111122223333:log-group:x", "--client-token", "t"},
			replies:  []reply{servicesPage, networksPage},
			requests: []string{"GET /services", "GET /servicenetworks", "POST /accesslogsubscriptions"},
			body:     `{"resourceIdentifier":"` + rsSN + `","destinationArn":"arn:aws:logs:us-east-1:111122223333:log-group:x","clientToken":"t"}`,
		},
		{
			name:     "listener and rule names within the resolved service",
			args:     []string{"rule", "get", "--service", "orders", "--listener", "web", "admin"},
			replies:  []reply{servicesPage, listenersPage, rulesPage},
			requests: []string{"GET /services", "GET " + svcPath + "/listeners", "GET " + rulesPath, "GET " + rulesPath + "/" + rsRule2},
		},
		{
			name: "rule create forwards to a named target group",
			args: []string{"rule", "create", "--service", rsSvc, "--listener", "web", "--name", "r", "--priority", "1",
				"--method", "GET", "--forward", "web-a", "--client-token", "t"},
			replies:  []reply{targetGroups, listenersPage},
			requests: []string{"GET /targetgroups", "GET " + svcPath + "/listeners", "POST " + rulesPath},
			body: `{"name":"r","priority":1,"clientToken":"t","match":{"httpMatch":{"method":"GET"}},` +
				`"action":{"forward":{"targetGroups":[{"targetGroupIdentifier":"` + rsTG1 + `"}]}}}`,
		},
		{
			name: "batch-update rule names, one list",
			args: []string{"rule", "batch-update", "--service", rsSvc, "--listener", rsLn,
				"--rule-priority", "api=20", "--rule-priority", "admin=10", "--rule-priority", "rule-0123456789abcdef9=5"},
			replies:  []reply{rulesPage},
			requests: []string{"GET " + rulesPath, "PATCH " + rulesPath},
			body: `{"rules":[{"ruleIdentifier":"` + rsRule + `","priority":20},{"ruleIdentifier":"` + rsRule2 + `","priority":10},` +
				`{"ruleIdentifier":"rule-0123456789abcdef9","priority":5}]}`,
		},
		{
			name: "input-json identifiers are wire JSON, not names",
			args: []string{"listener", "create", "--client-token", "t", "--input-json",
				`{"serviceIdentifier":"orders","name":"web","protocol":"HTTP","defaultAction":{"forward":{"targetGroups":[{"targetGroupIdentifier":"web-a"}]}}}`},
			requests: []string{"POST /services/orders/listeners"},
			body:     `{"name":"web","protocol":"HTTP","clientToken":"t","defaultAction":{"forward":{"targetGroups":[{"targetGroupIdentifier":"web-a"}]}}}`,
		},
		{
			name:     "listener name under a service from input-json",
			args:     []string{"listener", "get", "web", "--input-json", `{"serviceIdentifier":"` + rsSvc + `"}`},
			replies:  []reply{listenersPage},
			requests: []string{"GET " + svcPath + "/listeners", "GET " + svcPath + "/listeners/" + rsLn},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, append(tt.replies, okReply)...)
			res := runCLI("", tt.args...)
			if res.err != nil {
				t.Fatalf("err = %v\nstderr: %s", res.err, res.stderr)
			}
			reqs := rec.requests()
			var got []string
			for _, r := range reqs {
				got = append(got, r.String())
			}
			if diff := cmp.Diff(tt.requests, got); diff != "" {
				t.Fatalf("requests (-want +got):\n%s", diff)
			}
			if tt.body != "" {
				jsonEqual(t, "request body", tt.body, reqs[len(reqs)-1].body)
			}
		})
	}
}

func TestNameResolutionErrors(t *testing.T) {
	bothOrders := reply{status: 200, body: `{"items":[{"id":"` + rsSN + `","name":"orders"}]}`}
	twoOrders := reply{status: 200, body: `{"items":[{"id":"` + rsSvc + `","name":"orders"},{"id":"` + rsSvc2 + `","name":"orders"}]}`}
	tests := []struct {
		name       string
		args       []string
		replies    []reply
		requests   []string
		wantStderr string
	}{
		{
			name:       "unknown service",
			args:       []string{"listener", "create", "--service", "nosuch", "--name", "web", "--protocol", "HTTP", "--default-fixed-response", "404"},
			replies:    []reply{servicesPage},
			requests:   []string{"GET /services"},
			wantStderr: "Error: no service named \"nosuch\"\n",
		},
		{
			name:       "unknown target group after a known service",
			args:       []string{"listener", "create", "--service", "orders", "--name", "web", "--protocol", "HTTP", "--default-forward", "web-a=50,web-c=50"},
			replies:    []reply{servicesPage, targetGroups},
			requests:   []string{"GET /services", "GET /targetgroups"},
			wantStderr: "Error: no target group named \"web-c\"\n",
		},
		{
			name:       "malformed ID is a name too",
			args:       []string{"service", "delete", "svc-1"},
			replies:    []reply{servicesPage},
			requests:   []string{"GET /services"},
			wantStderr: "Error: no service named \"svc-1\"\n",
		},
		{
			name:       "unknown listener in the service",
			args:       []string{"rule", "list", "--service", "orders", "--listener", "nosuch"},
			replies:    []reply{servicesPage, listenersPage},
			requests:   []string{"GET /services", "GET /services/" + rsSvc + "/listeners"},
			wantStderr: "Error: no listener named \"nosuch\" in service " + rsSvc + "\n",
		},
		{
			name:       "unknown rule in the listener",
			args:       []string{"rule", "delete", "--service", rsSvc, "--listener", rsLn, "nosuch"},
			replies:    []reply{emptyPage},
			requests:   []string{"GET /services/" + rsSvc + "/listeners/" + rsLn + "/rules"},
			wantStderr: "Error: no rule named \"nosuch\" in listener " + rsLn + "\n",
		},
		{
			name:       "unknown resource",
			args:       []string{"auth-policy", "delete", "nosuch"},
			replies:    []reply{servicesPage, networksPage},
			requests:   []string{"GET /services", "GET /servicenetworks"},
			wantStderr: "Error: no service or service network named \"nosuch\"\n",
		},
		{
			name:     "resource names a service and a service network",
			args:     []string{"auth-policy", "put", "--resource", "orders", "--policy", "{}"},
			replies:  []reply{servicesPage, bothOrders},
			requests: []string{"GET /services", "GET /servicenetworks"},
			wantStderr: "Error: \"orders\" names more than one resource (service " + rsSvc + ", service network " + rsSN +
				"): give the ID or ARN instead\n",
		},
		{
			name:       "two services of the same name",
			args:       []string{"service", "delete", "orders"},
			replies:    []reply{twoOrders},
			requests:   []string{"GET /services"},
			wantStderr: "Error: \"orders\" names more than one resource (service " + rsSvc + ", service " + rsSvc2 + "): give the ID or ARN instead\n",
		},
		{
			name: "the lookup fails",
			args: []string{"service", "delete", "orders"},
			replies: []reply{{status: 403, errType: "AccessDeniedException",
				body: `{"message":"not authorized to perform vpc-lattice:ListServices"}`}},
			requests:   []string{"GET /services"},
			wantStderr: "Error: AccessDeniedException: not authorized to perform vpc-lattice:ListServices\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.replies...)
			res := runCLI("", tt.args...)
			if res.err == nil || !isCLIError(res.err) {
				t.Fatalf("err = %v, want a reported error", res.err)
			}
			if res.stderr != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", res.stderr, tt.wantStderr)
			}
			var got []string
			for _, r := range rec.requests() {
				if r.method != http.MethodGet {
					t.Errorf("mutating request sent: %s", r)
				}
				got = append(got, r.String())
			}
			if diff := cmp.Diff(tt.requests, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNameFlagsMatchInputs checks the nameFlags table against the commands:
// wherever a verb defines one of its flags, the input of the verb's operation
// (named in its short help) has the member the table names, and the flag's
// help says it takes a name.
func TestNameFlagsMatchInputs(t *testing.T) {
	client := reflect.TypeFor[*vpclattice.Client]()
	used := map[string]bool{}
	for _, noun := range newTestRoot().Commands() {
		switch noun.Name() {
		case "vpc", "security-group", "instance", "load-balancer", "account", "principal", "access-key", "sts", "auth", "dns", "ca", "function", "canary", "traffic", "logs":
			continue // Trellis-native: not an SDK operation
		case "share":
			continue // AWS RAM (share.go): not a vpclattice operation; takes ARNs only
		}
		for _, v := range noun.Commands() {
			if v.Annotations[annotationNative] != "" {
				continue // a Trellis-native endpoint among SDK verbs (domain-verification verify)
			}
			op := v.Short[strings.LastIndex(v.Short, "(")+1 : len(v.Short)-1]
			m, ok := client.MethodByName(op)
			if !ok {
				t.Errorf("%s %s: no client method %q", noun.Name(), v.Name(), op)
				continue
			}
			input := m.Type.In(2).Elem() // (client, ctx, *input, ...opts)
			for _, nf := range nameFlags {
				f := v.Flags().Lookup(nf.flag)
				if f == nil {
					continue
				}
				used[nf.flag] = true
				if _, ok := input.FieldByName(nf.field); !ok {
					t.Errorf("%s %s --%s: %s has no member %s", noun.Name(), v.Name(), nf.flag, input.Name(), nf.field)
				}
				if !strings.Contains(f.Usage, "name, ID or ARN") {
					t.Errorf("%s %s --%s: help %q does not say it takes a name", noun.Name(), v.Name(), nf.flag, f.Usage)
				}
			}
		}
	}
	for _, nf := range nameFlags {
		if !used[nf.flag] {
			t.Errorf("no command defines --%s", nf.flag)
		}
	}
}
