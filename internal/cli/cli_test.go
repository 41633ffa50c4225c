package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// newTestRoot builds a root command the way cmd/trellis does.
func newTestRoot() *cobra.Command {
	root := &cobra.Command{Use: "trellis", SilenceUsage: true, SilenceErrors: true}
	AddCommands(root)
	return root
}

type result struct {
	stdout, stderr string
	err            error
}

// runCLI executes "trellis args..." in-process with the given stdin.
func runCLI(stdin string, args ...string) result {
	root := newTestRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		// What cmd/trellis does with the error.
		fmt.Fprintln(&errOut, "Error:", err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// recorded is one request seen by the recording endpoint.
type recorded struct {
	method, path, rawQuery, auth string
	body                         string
}

type reply struct {
	status  int
	errType string
	body    string
}

// recorder is an httptest endpoint that records requests and plays back
// canned responses, to check what the SDK puts on the wire for each command.
type recorder struct {
	mu      sync.Mutex
	reqs    []recorded
	replies []reply
	srv     *httptest.Server
}

func newRecorder(t *testing.T, replies ...reply) *recorder {
	r := &recorder{replies: replies}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{
			method: req.Method, path: req.URL.EscapedPath(), rawQuery: req.URL.RawQuery,
			auth: req.Header.Get("Authorization"), body: string(b),
		})
		rep := reply{status: 200, body: "{}"}
		if len(r.replies) > 0 {
			rep, r.replies = r.replies[0], r.replies[1:]
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if rep.errType != "" {
			w.Header().Set("X-Amzn-Errortype", rep.errType)
		}
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
	}))
	t.Cleanup(r.srv.Close)
	t.Setenv(envEndpoint, r.srv.URL)
	t.Setenv(envAccessKeyID, "AKIDTEST")
	t.Setenv(envSecretAccessKey, "secret")
	t.Setenv(envSessionToken, "")
	// Shared AWS configuration must never be consulted.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMAWSENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "nope")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "missing"))
	return r
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// jsonEqual compares two JSON documents semantically.
func jsonEqual(t *testing.T, what, want, got string) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expected JSON %q: %v", what, want, err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: output is not JSON: %v\n%s", what, err, got)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

func TestCommandsOnTheWire(t *testing.T) {
	policy := `{"Version":"2012-10-17","Statement":[]}`
	tests := []struct {
		name      string
		args      []string
		stdin     string
		response  string
		method    string
		path      string
		query     string
		body      string // JSON; "" means no body
		wantOut   string // JSON
		wantTable string
	}{
		{
			name:   "service create",
			args:   []string{"service", "create", "--name", "orders", "--auth-type", "aws_iam", "--custom-domain-name", "orders.example.com", "--tag", "team=orders", "--client-token", "tok-1"},
			method: "POST", path: "/services",
			body:     `{"name":"orders","authType":"AWS_IAM","customDomainName":"orders.example.com","tags":{"team":"orders"},"clientToken":"tok-1"}`,
			response: `{"arn":"arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1","id":"svc-0123456789abcdef1","name":"orders","status":"CREATE_IN_PROGRESS","dnsEntry":{"domainName":"orders.example.on.aws","hostedZoneId":"Z1"}}`,
			wantOut:  `{"arn":"arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1","id":"svc-0123456789abcdef1","name":"orders","status":"CREATE_IN_PROGRESS","dnsEntry":{"domainName":"orders.example.on.aws","hostedZoneId":"Z1"}}`,
		},
		{
			name:   "service network create with sharing",
			args:   []string{"sn", "create", "--name", "prod", "--sharing-enabled=false", "--client-token", "t"},
			method: "POST", path: "/servicenetworks",
			body: `{"name":"prod","sharingConfig":{"enabled":false},"clientToken":"t"}`,
		},
		{
			name:   "service get positional",
			args:   []string{"svc", "get", "svc-0123456789abcdef1"},
			method: "GET", path: "/services/svc-0123456789abcdef1",
			response: `{"id":"svc-0123456789abcdef1","createdAt":"2024-05-06T07:08:09.123Z"}`,
			wantOut:  `{"id":"svc-0123456789abcdef1","createdAt":"2024-05-06T07:08:09.123Z"}`,
		},
		{
			name:   "service list paging flags",
			args:   []string{"service", "list", "--max-results", "5", "--next-token", "abc"},
			method: "GET", path: "/services", query: "maxResults=5&nextToken=abc",
			response: `{"items":[{"id":"svc-0123456789abcdef1","name":"orders"}],"nextToken":"def"}`,
			wantOut:  `{"items":[{"id":"svc-0123456789abcdef1","name":"orders"}],"nextToken":"def"}`,
		},
		{
			name:   "listener create weighted forward",
			args:   []string{"listener", "create", "--service", "svc-0123456789abcdef1", "--name", "web", "--protocol", "HTTP", "--port", "80", "--default-forward", "tg-0123456789abcdefa=90,tg-0123456789abcdefb=10", "--client-token", "t"},
			method: "POST", path: "/services/svc-0123456789abcdef1/listeners",
			body: `{"name":"web","protocol":"HTTP","port":80,"clientToken":"t","defaultAction":{"forward":{"targetGroups":[{"targetGroupIdentifier":"tg-0123456789abcdefa","weight":90},{"targetGroupIdentifier":"tg-0123456789abcdefb","weight":10}]}}}`,
		},
		{
			name:   "listener update fixed response",
			args:   []string{"listener", "update", "--service", "svc-0123456789abcdef1", "--listener", "listener-0123456789abcdef1", "--default-fixed-response", "404"},
			method: "PATCH", path: "/services/svc-0123456789abcdef1/listeners/listener-0123456789abcdef1",
			body: `{"defaultAction":{"fixedResponse":{"statusCode":404}}}`,
		},
		{
			name: "rule create from flags",
			args: []string{"rule", "create", "--service", "svc-0123456789abcdef1", "--listener", "listener-0123456789abcdef1", "--name", "r1", "--priority", "10",
				"--path-prefix", "/api", "--case-sensitive", "--header", "x-env=exact:blue", "--header", "ua=contains:curl", "--method", "get",
				"--forward", "tg-0123456789abcdef1=90,tg-0123456789abcdef2=10", "--client-token", "t"},
			method: "POST", path: "/services/svc-0123456789abcdef1/listeners/listener-0123456789abcdef1/rules",
			body: `{"name":"r1","priority":10,"clientToken":"t",
				"match":{"httpMatch":{"method":"GET","pathMatch":{"match":{"prefix":"/api"},"caseSensitive":true},
				"headerMatches":[{"name":"x-env","match":{"exact":"blue"}},{"name":"ua","match":{"contains":"curl"}}]}},
				"action":{"forward":{"targetGroups":[{"targetGroupIdentifier":"tg-0123456789abcdef1","weight":90},{"targetGroupIdentifier":"tg-0123456789abcdef2","weight":10}]}}}`,
		},
		{
			name: "rule create input-json overridden by flags",
			args: []string{"rule", "create", "--service", "svc-0123456789abcdef1", "--listener", "listener-0123456789abcdef1", "--client-token", "t", "--name", "from-flag", "--method", "POST", "--input-json",
				`{"name":"r1","priority":10,"match":{"httpMatch":{"pathMatch":{"match":{"prefix":"/api"}}}},"action":{"forward":{"targetGroups":[{"targetGroupIdentifier":"tg-0123456789abcdef1","weight":90}]}}}`},
			method: "POST", path: "/services/svc-0123456789abcdef1/listeners/listener-0123456789abcdef1/rules",
			body: `{"name":"from-flag","priority":10,"clientToken":"t","match":{"httpMatch":{"method":"POST","pathMatch":{"match":{"prefix":"/api"}}}},
				"action":{"forward":{"targetGroups":[{"targetGroupIdentifier":"tg-0123456789abcdef1","weight":90}]}}}`,
		},
		{
			name:   "rule create input-json from stdin with path params",
			args:   []string{"rule", "create", "--client-token", "t", "--input-json", "file://-"},
			stdin:  `{"serviceIdentifier":"svc-0123456789abcdef9","listenerIdentifier":"listener-0123456789abcdef9","name":"r9","priority":1,"match":{"httpMatch":{"method":"GET"}},"action":{"fixedResponse":{"statusCode":503}}}`,
			method: "POST", path: "/services/svc-0123456789abcdef9/listeners/listener-0123456789abcdef9/rules",
			body: `{"name":"r9","priority":1,"clientToken":"t","match":{"httpMatch":{"method":"GET"}},"action":{"fixedResponse":{"statusCode":503}}}`,
		},
		{
			name:   "rule batch-update priorities",
			args:   []string{"rule", "batch-update", "--service", "svc-0123456789abcdef1", "--listener", "listener-0123456789abcdef1", "--rule-priority", "rule-0123456789abcdefa=20", "--rule-priority", "rule-0123456789abcdefb=10"},
			method: "PATCH", path: "/services/svc-0123456789abcdef1/listeners/listener-0123456789abcdef1/rules",
			body: `{"rules":[{"ruleIdentifier":"rule-0123456789abcdefa","priority":20},{"ruleIdentifier":"rule-0123456789abcdefb","priority":10}]}`,
		},
		{
			name: "target group create",
			args: []string{"tg", "create", "--name", "web", "--type", "IP", "--port", "8080", "--protocol", "HTTP", "--vpc", "vpc-1", "--protocol-version", "HTTP1",
				"--health-check-path", "/healthz", "--health-check-interval", "10", "--health-check-enabled=false", "--matcher", "200-299", "--client-token", "t"},
			method: "POST", path: "/targetgroups",
			body: `{"name":"web","type":"IP","clientToken":"t","config":{"port":8080,"protocol":"HTTP","protocolVersion":"HTTP1","vpcIdentifier":"vpc-1",
				"healthCheck":{"enabled":false,"path":"/healthz","healthCheckIntervalSeconds":10,"matcher":{"httpCode":"200-299"}}}}`,
		},
		{
			name:   "lambda target group",
			args:   []string{"tg", "create", "--name", "fn", "--type", "LAMBDA", "--lambda-event-structure-version", "V2", "--client-token", "t"},
			method: "POST", path: "/targetgroups",
			body: `{"name":"fn","type":"LAMBDA","clientToken":"t","config":{"lambdaEventStructureVersion":"V2"}}`,
		},
		{
			name:   "register targets",
			args:   []string{"tg", "register-targets", "--target-group", "tg-0123456789abcdef1", "--target", "127.0.0.1:8080", "--target", "127.0.0.2"},
			method: "POST", path: "/targetgroups/tg-0123456789abcdef1/registertargets",
			body:     `{"targets":[{"id":"127.0.0.1","port":8080},{"id":"127.0.0.2"}]}`,
			response: `{"successful":[{"id":"127.0.0.1","port":8080},{"id":"127.0.0.2","port":80}],"unsuccessful":[]}`,
			wantOut:  `{"successful":[{"id":"127.0.0.1","port":8080},{"id":"127.0.0.2","port":80}],"unsuccessful":[]}`,
		},
		{
			name:   "list targets table",
			args:   []string{"tg", "list-targets", "tg-0123456789abcdef1", "--output", "table"},
			method: "POST", path: "/targetgroups/tg-0123456789abcdef1/listtargets",
			body:     `{}`,
			response: `{"items":[{"id":"127.0.0.1","port":8080,"status":"HEALTHY"},{"id":"127.0.0.2","port":80,"status":"UNAVAILABLE","reasonCode":"HealthCheckDisabled"}]}`,
			wantTable: "ID         PORT  STATUS       REASON\n" +
				"127.0.0.1  8080  HEALTHY      -\n" +
				"127.0.0.2  80    UNAVAILABLE  HealthCheckDisabled\n",
		},
		{
			name:   "snsa create",
			args:   []string{"snsa", "create", "--service-network", "sn-0123456789abcdef1", "--service", "svc-0123456789abcdef1", "--client-token", "t"},
			method: "POST", path: "/servicenetworkserviceassociations",
			body: `{"serviceNetworkIdentifier":"sn-0123456789abcdef1","serviceIdentifier":"svc-0123456789abcdef1","clientToken":"t"}`,
		},
		{
			name:   "snva create",
			args:   []string{"snva", "create", "--service-network", "sn-0123456789abcdef1", "--vpc", "vpc-1", "--security-group-id", "sg-1", "--security-group-id", "sg-2", "--client-token", "t"},
			method: "POST", path: "/servicenetworkvpcassociations",
			body: `{"serviceNetworkIdentifier":"sn-0123456789abcdef1","vpcIdentifier":"vpc-1","securityGroupIds":["sg-1","sg-2"],"clientToken":"t"}`,
		},
		{
			name:   "snva list filters",
			args:   []string{"snva", "list", "--vpc", "vpc-1", "--service-network", "sn-0123456789abcdef1"},
			method: "GET", path: "/servicenetworkvpcassociations", query: "serviceNetworkIdentifier=sn-0123456789abcdef1&vpcIdentifier=vpc-1",
		},
		{
			name:   "auth policy from stdin",
			args:   []string{"auth-policy", "put", "--resource", "svc-0123456789abcdef1", "--policy-file", "-"},
			stdin:  policy,
			method: "PUT", path: "/authpolicy/svc-0123456789abcdef1",
			body:     `{"policy":` + mustJSONString(policy) + `}`,
			response: `{"policy":` + mustJSONString(policy) + `,"state":"Active"}`,
			wantOut:  `{"policy":` + mustJSONString(policy) + `,"state":"Active"}`,
		},
		{
			name:   "resource policy",
			args:   []string{"resource-policy", "put", "--resource-arn", "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1", "--policy", policy},
			method: "PUT", path: "/resourcepolicy/arn%3Aaws%3Avpc-lattice%3Aus-east-1%3A111122223333%3Aservice%2Fsvc-1",
			body: `{"policy":` + mustJSONString(policy) + `}`,
		},
		{
			name:   "access log subscription create",
			args:   []string{"als", "create", "--resource", "svc-0123456789abcdef1", "--destination-arn", "arn:aws:logs:us-east-1:111122223333:log-group:x", "--client-token", "t"},
			method: "POST", path: "/accesslogsubscriptions",
			body: `{"resourceIdentifier":"svc-0123456789abcdef1","destinationArn":"arn:aws:logs:us-east-1:111122223333:log-group:x","clientToken":"t"}`,
		},
		{
			name:   "tag add",
			args:   []string{"tag", "add", "--resource-arn", "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1", "--tag", "team=orders"},
			method: "POST", path: "/tags/arn%3Aaws%3Avpc-lattice%3Aus-east-1%3A111122223333%3Aservice%2Fsvc-1",
			body: `{"tags":{"team":"orders"}}`,
		},
		{
			name:   "tag remove",
			args:   []string{"tag", "remove", "--resource-arn", "arn:x", "--tag-key", "a", "--tag-key", "b"},
			method: "DELETE", path: "/tags/arn%3Ax", query: "tagKeys=a&tagKeys=b",
		},
		{
			name:   "delete prints empty object",
			args:   []string{"listener", "delete", "--service", "svc-0123456789abcdef1", "listener-0123456789abcdef1"},
			method: "DELETE", path: "/services/svc-0123456789abcdef1/listeners/listener-0123456789abcdef1",
			response: `{}`,
			wantOut:  `{}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, reply{status: 200, body: orDefault(tt.response, "{}")})
			res := runCLI(tt.stdin, tt.args...)
			if res.err != nil {
				t.Fatalf("err = %v\nstderr: %s", res.err, res.stderr)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != tt.method || r.path != tt.path || r.rawQuery != tt.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.method, r.path, r.rawQuery, tt.method, tt.path, tt.query)
			}
			if !strings.Contains(r.auth, "Credential=AKIDTEST/") || !strings.Contains(r.auth, "/us-east-1/vpc-lattice/") {
				t.Errorf("Authorization = %q, want TRELLIS credentials for us-east-1/vpc-lattice", r.auth)
			}
			if tt.body == "" {
				if r.body != "" {
					t.Errorf("unexpected body %s", r.body)
				}
			} else {
				jsonEqual(t, "request body", tt.body, r.body)
			}
			switch {
			case tt.wantTable != "":
				if diff := cmp.Diff(tt.wantTable, res.stdout); diff != "" {
					t.Errorf("table mismatch (-want +got):\n%s", diff)
				}
			case tt.wantOut != "":
				jsonEqual(t, "stdout", tt.wantOut, res.stdout)
			default:
				if !json.Valid([]byte(res.stdout)) {
					t.Errorf("stdout is not JSON: %q", res.stdout)
				}
			}
		})
	}
}

func TestListAllFollowsPages(t *testing.T) {
	rec := newRecorder(t,
		reply{status: 200, body: `{"items":[{"id":"tg-1","name":"a","serviceArns":["arn:s1"]}],"nextToken":"p2"}`},
		reply{status: 200, body: `{"items":[{"id":"tg-2","name":"b"}]}`},
	)
	res := runCLI("", "target-group", "list", "--all", "--max-results", "1", "--vpc", "vpc-1")
	if res.err != nil {
		t.Fatalf("err = %v\n%s", res.err, res.stderr)
	}
	jsonEqual(t, "stdout", `{"items":[{"id":"tg-1","name":"a","serviceArns":["arn:s1"]},{"id":"tg-2","name":"b"}]}`, res.stdout)
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2", len(reqs))
	}
	if reqs[0].rawQuery != "maxResults=1&vpcIdentifier=vpc-1" || reqs[1].rawQuery != "maxResults=1&nextToken=p2&vpcIdentifier=vpc-1" {
		t.Errorf("queries = %q, %q", reqs[0].rawQuery, reqs[1].rawQuery)
	}
}

func TestListTableShowsNextToken(t *testing.T) {
	newRecorder(t, reply{status: 200, body: `{"items":[{"id":"svc-1","name":"orders","status":"ACTIVE","dnsEntry":{"domainName":"orders.on.aws"}}],"nextToken":"n2"}`})
	res := runCLI("", "service", "list", "--output", "table")
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := "ID     NAME    STATUS  DNS NAME       CUSTOM DOMAIN  ARN\n" +
		"svc-1  orders  ACTIVE  orders.on.aws  -              -\n"
	if diff := cmp.Diff(want, res.stdout); diff != "" {
		t.Errorf("table mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.stderr, "--next-token n2") {
		t.Errorf("stderr = %q, want a next-token hint", res.stderr)
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name       string
		reply      reply
		wantStderr string
	}{
		{
			name: "validation with field list",
			reply: reply{status: 400, errType: "ValidationException", body: `{"message":"Invalid request","reason":"fieldValidationFailed",
				"fieldList":[{"name":"name","message":"must match ^[a-z]"},{"name":"priority","message":"must be 1-2000"}]}`},
			wantStderr: "Error: ValidationException: Invalid request\n  - name: must match ^[a-z]\n  - priority: must be 1-2000\n",
		},
		{
			name: "validation with one field repeating the message",
			reply: reply{status: 400, errType: "ValidationException", body: `{"message":"targetGroupIdentifier must be the ID or ARN of a targetgroup","reason":"fieldValidationFailed",
				"fieldList":[{"name":"targetGroupIdentifier","message":"targetGroupIdentifier must be the ID or ARN of a targetgroup"}]}`},
			wantStderr: "Error: ValidationException: targetGroupIdentifier must be the ID or ARN of a targetgroup\n",
		},
		{
			name: "validation with one field saying more",
			reply: reply{status: 400, errType: "ValidationException", body: `{"message":"Invalid request","reason":"fieldValidationFailed",
				"fieldList":[{"name":"name","message":"must match ^[a-z]"}]}`},
			wantStderr: "Error: ValidationException: Invalid request\n  - name: must match ^[a-z]\n",
		},
		{
			name: "validation with two fields, one repeating the message",
			reply: reply{status: 400, errType: "ValidationException", body: `{"message":"name is required","reason":"fieldValidationFailed",
				"fieldList":[{"name":"name","message":"name is required"},{"name":"priority","message":"must be 1-2000"}]}`},
			wantStderr: "Error: ValidationException: name is required\n  - name: name is required\n  - priority: must be 1-2000\n",
		},
		{
			name:       "validation without field list",
			reply:      reply{status: 400, errType: "ValidationException", body: `{"message":"Invalid request","reason":"other"}`},
			wantStderr: "Error: ValidationException: Invalid request\n",
		},
		{
			name:       "not found",
			reply:      reply{status: 404, errType: "ResourceNotFoundException", body: `{"message":"Service svc-9 not found","resourceId":"svc-9","resourceType":"SERVICE"}`},
			wantStderr: "Error: ResourceNotFoundException: Service svc-9 not found\n",
		},
		{
			name:       "conflict from body code",
			reply:      reply{status: 409, body: `{"__type":"ConflictException","message":"in use"}`},
			wantStderr: "Error: ConflictException: in use\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newRecorder(t, tt.reply)
			res := runCLI("", "service", "get", "svc-0123456789abcdef9")
			if res.err == nil || !isCLIError(res.err) {
				t.Fatalf("err = %v, want a reported error", res.err)
			}
			if res.stderr != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", res.stderr, tt.wantStderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
		})
	}
}

func TestUsageErrorsSendNothing(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{name: "missing name", args: []string{"service", "create"}, wantStderr: "Error: required flag(s) --name not set"},
		{name: "missing several", args: []string{"rule", "create", "--service", "s"}, wantStderr: "--listener, --name, --priority, --path-prefix, --path-exact, --header or --method, --forward or --fixed-response not set"},
		{name: "listener needs action", args: []string{"listener", "create", "--service", "s", "--name", "n", "--protocol", "HTTP"}, wantStderr: "--default-forward or --default-fixed-response not set"},
		{name: "exclusive actions", args: []string{"listener", "create", "--default-forward", "tg", "--default-fixed-response", "404"}, wantStderr: "mutually exclusive"},
		{name: "bad weight", args: []string{"listener", "update", "--default-forward", "tg=ten"}, wantStderr: "--default-forward: invalid weight"},
		{name: "bad header", args: []string{"rule", "create", "--header", "oops"}, wantStderr: "invalid header match"},
		{name: "case sensitive without path", args: []string{"rule", "update", "--case-sensitive"}, wantStderr: "--case-sensitive needs"},
		{name: "bad status", args: []string{"rule", "update", "--fixed-response", "4o4"}, wantStderr: "invalid status code"},
		{name: "bad target", args: []string{"tg", "register-targets", "--target-group", "tg-1", "--target", "1.2.3.4:x"}, wantStderr: "invalid port"},
		{name: "no targets", args: []string{"tg", "register-targets", "--target-group", "tg-1"}, wantStderr: "required flag(s) --target not set"},
		{name: "bad input json", args: []string{"service", "create", "--input-json", `{"nmae":"x"}`}, wantStderr: `--input-json: input: unknown member "nmae"`},
		{name: "missing input file", args: []string{"service", "create", "--input-json", "file:///nonexistent/x.json"}, wantStderr: "--input-json: open /nonexistent/x.json"},
		{name: "bad output", args: []string{"service", "list", "--output", "yaml"}, wantStderr: `invalid --output "yaml"`},
		{name: "unknown flag", args: []string{"service", "create", "--nope"}, wantStderr: "Error: unknown flag: --nope"},
		{name: "bad int flag", args: []string{"listener", "create", "--port", "eighty"}, wantStderr: `invalid argument "eighty"`},
		{name: "unknown verb", args: []string{"service", "frob"}, wantStderr: `unknown verb "frob" for "trellis service"`},
		{name: "too many args", args: []string{"service", "get", "a", "b"}, wantStderr: "unexpected arguments: a b"},
		{name: "arg on verb without id", args: []string{"service", "list", "x"}, wantStderr: "unexpected arguments: x"},
		{name: "arg and flag", args: []string{"service", "get", "a", "--service", "b"}, wantStderr: "either as an argument or with --service"},
		{name: "policy both", args: []string{"auth-policy", "put", "--resource", "r", "--policy", "{}", "--policy-file", "x"}, wantStderr: "mutually exclusive"},
		{name: "bad endpoint", args: []string{"service", "list", "--endpoint", "localhost:1"}, wantStderr: `invalid --endpoint "localhost:1"`},
		{name: "tag without key", args: []string{"tag", "add", "--resource-arn", "a", "--tag", "=v"}, wantStderr: "invalid tag"},
		{name: "update without change", args: []string{"tg", "update", "tg-1"}, wantStderr: "--health-check-* or --matcher not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t)
			res := runCLI("", tt.args...)
			if res.err == nil {
				t.Fatalf("want error; stdout=%q", res.stdout)
			}
			if !isCLIError(res.err) {
				t.Errorf("error %v did not go through report", res.err)
			}
			if !strings.Contains(res.stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", res.stderr, tt.wantStderr)
			}
			if !strings.HasPrefix(res.stderr, "Error: ") {
				t.Errorf("stderr = %q, want an Error: prefix", res.stderr)
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

func TestNounWithoutVerbPrintsHelp(t *testing.T) {
	res := runCLI("", "target-group")
	if res.err != nil {
		t.Fatal(res.err)
	}
	for _, v := range []string{"create", "register-targets", "deregister-targets", "list-targets"} {
		if !strings.Contains(res.stdout, v) {
			t.Errorf("help does not mention %q:\n%s", v, res.stdout)
		}
	}
}

func TestCommandTree(t *testing.T) {
	want := map[string][]string{
		"service-network":                      {"create", "delete", "get", "list", "update"},
		"service":                              {"create", "delete", "get", "list", "update"},
		"listener":                             {"create", "delete", "get", "list", "update"},
		"rule":                                 {"batch-update", "create", "delete", "get", "list", "update"},
		"target-group":                         {"create", "delete", "deregister-targets", "get", "list", "list-targets", "register-targets", "update"},
		"service-network-service-association":  {"create", "delete", "get", "list"},
		"service-network-vpc-association":      {"create", "delete", "get", "list", "update"},
		"auth-policy":                          {"delete", "get", "put"},
		"resource-policy":                      {"delete", "get", "put"},
		"access-log-subscription":              {"create", "delete", "get", "list", "update"},
		"tag":                                  {"add", "list", "remove"},
		"vpc":                                  {"delete", "exec", "get", "list", "put"},
		"security-group":                       {"delete", "get", "list", "put"},
		"instance":                             {"delete", "get", "list", "put"},
		"load-balancer":                        {"delete", "get", "list", "put"},
		"logs":                                 {"tail"},
		"account":                              {"delete", "get", "list", "put"},
		"principal":                            {"delete", "get", "list", "put"},
		"access-key":                           {"create", "delete", "list"},
		"sts":                                  {"assume-role"},
		"auth":                                 {"simulate"},
		"dns":                                  {"lookup"},
		"ca":                                   {"get"},
		"canary":                               {"abort", "get", "list", "start", "watch"},
		"function":                             {"create", "delete", "get", "invoke", "list"},
		"traffic":                              {"top"},
		"resource-gateway":                     {"create", "delete", "get", "list", "update"},
		"resource-configuration":               {"create", "delete", "get", "list", "update"},
		"service-network-resource-association": {"create", "delete", "get", "list"},
		"domain-verification":                  {"delete", "get", "list", "start", "verify"},
		"share": {"accept", "associate", "create", "delete", "disassociate", "get", "invitations", "list", "principals",
			"reject", "resources", "update"},
	}
	root := newTestRoot()
	got := map[string][]string{}
	for _, n := range root.Commands() {
		for _, v := range n.Commands() {
			got[n.Name()] = append(got[n.Name()], v.Name())
			if !v.SilenceUsage {
				t.Errorf("%s %s: SilenceUsage not set", n.Name(), v.Name())
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("command tree mismatch (-want +got):\n%s", diff)
	}
	for _, alias := range []string{"sn", "svc", "tg", "snsa", "snva"} {
		if c, _, err := root.Find([]string{alias}); err != nil || c == root {
			t.Errorf("alias %q not found", alias)
		}
	}
	for _, f := range []string{"endpoint", "region", "output", "data-dir"} {
		if root.PersistentFlags().Lookup(f) == nil {
			t.Errorf("persistent flag --%s missing", f)
		}
	}
}

func TestAddCommandsKeepsExistingRootFlags(t *testing.T) {
	root := &cobra.Command{Use: "trellis"}
	root.PersistentFlags().String("data-dir", "/var/lib/trellis", "shared with serve")
	AddCommands(root) // must not panic on the redefinition
	if got := root.PersistentFlags().Lookup("data-dir").DefValue; got != "/var/lib/trellis" {
		t.Errorf("data-dir default = %q", got)
	}
}

func TestGlobalFlagDefaults(t *testing.T) {
	t.Setenv(envEndpoint, "")
	t.Setenv(envRegion, "")
	t.Setenv(envDataDir, "")
	root := newTestRoot()
	for flag, want := range map[string]string{"endpoint": DefaultEndpoint, "region": "us-east-1", "output": "json", "data-dir": "./trellis-data"} {
		if got := root.PersistentFlags().Lookup(flag).DefValue; got != want {
			t.Errorf("--%s default = %q, want %q", flag, got, want)
		}
	}
	t.Setenv(envEndpoint, "http://10.0.0.1:1")
	t.Setenv(envRegion, "eu-west-1")
	root = newTestRoot()
	if got := root.PersistentFlags().Lookup("endpoint").DefValue; got != "http://10.0.0.1:1" {
		t.Errorf("endpoint from env = %q", got)
	}
	if got := root.PersistentFlags().Lookup("region").DefValue; got != "eu-west-1" {
		t.Errorf("region from env = %q", got)
	}
}

func TestRegionFlagSignsRequests(t *testing.T) {
	rec := newRecorder(t)
	if res := runCLI("", "service", "list", "--region", "eu-central-1"); res.err != nil {
		t.Fatal(res.err)
	}
	if auth := rec.requests()[0].auth; !strings.Contains(auth, "/eu-central-1/vpc-lattice/") {
		t.Errorf("Authorization = %q, want region eu-central-1", auth)
	}
}

func TestResolveCredentials(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, credentialsFile), `{"accessKeyId":"AKIDFILE","secretAccessKey":"s3","account":"111122223333"}`)
	badDir := t.TempDir()
	writeFile(t, filepath.Join(badDir, credentialsFile), `{"accessKeyId":"AKIDFILE"}`)
	tests := []struct {
		name    string
		env     map[string]string
		dir     string
		want    credentialSet
		wantErr string
	}{
		{
			name: "explicit env wins",
			env: map[string]string{envAccessKeyID: "AKID1", envSecretAccessKey: "s1", envSessionToken: "tok",
				envRootAccessKeyID: "AKIDROOT", envRootSecretAccessKey: "s2"},
			dir:  dir,
			want: credentialSet{AccessKeyID: "AKID1", SecretAccessKey: "s1", SessionToken: "tok", Source: "environment"},
		},
		{
			name: "root env next",
			env:  map[string]string{envRootAccessKeyID: "AKIDROOT", envRootSecretAccessKey: "s2"},
			dir:  dir,
			want: credentialSet{AccessKeyID: "AKIDROOT", SecretAccessKey: "s2", Source: "environment (root)"},
		},
		{
			name: "credentials file last",
			dir:  dir,
			want: credentialSet{AccessKeyID: "AKIDFILE", SecretAccessKey: "s3", Account: "111122223333", Source: filepath.Join(dir, credentialsFile)},
		},
		{name: "half env", env: map[string]string{envAccessKeyID: "AKID1"}, dir: dir, wantErr: "both TRELLIS_ACCESS_KEY_ID and TRELLIS_SECRET_ACCESS_KEY"},
		{name: "nothing", dir: t.TempDir(), wantErr: "no credentials"},
		{name: "incomplete file", dir: badDir, wantErr: "accessKeyId and secretAccessKey must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveCredentials(func(k string) string { return tt.env[k] }, tt.dir)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); tt.wantErr == "" && diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCredentialsFromDataDirFlag(t *testing.T) {
	rec := newRecorder(t)
	t.Setenv(envAccessKeyID, "")
	t.Setenv(envSecretAccessKey, "")
	t.Setenv(envRootAccessKeyID, "")
	t.Setenv(envRootSecretAccessKey, "")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, credentialsFile), `{"accessKeyId":"AKIDFROMFILE","secretAccessKey":"s","account":"1"}`)
	if res := runCLI("", "sn", "list", "--data-dir", dir); res.err != nil {
		t.Fatalf("%v: %s", res.err, res.stderr)
	}
	if auth := rec.requests()[0].auth; !strings.Contains(auth, "Credential=AKIDFROMFILE/") {
		t.Errorf("Authorization = %q, want the data-dir credentials", auth)
	}
	res := runCLI("", "sn", "list", "--data-dir", t.TempDir())
	if res.err == nil || !strings.Contains(res.stderr, "Error: no credentials") {
		t.Errorf("err = %v, stderr = %q; want a no-credentials error", res.err, res.stderr)
	}
}

func mustJSONString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestUnreachableEndpoint(t *testing.T) {
	old := retryMaxAttempts
	retryMaxAttempts = 1
	t.Cleanup(func() { retryMaxAttempts = old })
	rec := newRecorder(t)
	rec.srv.Close() // nothing listens there any more
	res := runCLI("", "service", "list")
	if res.err == nil || !isCLIError(res.err) {
		t.Fatalf("err = %v, want a reported error", res.err)
	}
	if !strings.HasPrefix(res.stderr, "Error: cannot reach the Trellis API: ") || !strings.Contains(res.stderr, "Is 'trellis serve' running at "+rec.srv.URL) {
		t.Errorf("stderr = %q", res.stderr)
	}
}

func isCLIError(err error) bool {
	var ce *cliError
	return errors.As(err, &ce)
}
