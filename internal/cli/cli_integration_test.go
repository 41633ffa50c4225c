package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// trellisCLI runs CLI commands in-process against a real server.
type trellisCLI struct {
	t        *testing.T
	srv      *apptest.Server
	endpoint string // the server's, or a recording proxy's
}

func startCLI(t *testing.T) *trellisCLI { t.Helper(); return startCLIWith(t, apptest.Options{}) }

func startCLIWith(t *testing.T, o apptest.Options) *trellisCLI {
	t.Helper()
	srv := apptest.StartWith(t, o)
	t.Setenv(envEndpoint, "")
	t.Setenv(envRegion, "")
	t.Setenv(envAccessKeyID, srv.AccessKeyID)
	t.Setenv(envSecretAccessKey, srv.SecretAccessKey)
	t.Setenv(envSessionToken, "")
	t.Setenv(envRootAccessKeyID, "")
	t.Setenv(envRootSecretAccessKey, "")
	t.Setenv(envDataDir, t.TempDir()) // no credentials.json there
	return &trellisCLI{t: t, srv: srv, endpoint: srv.Endpoint}
}

func (c *trellisCLI) exec(args ...string) result {
	full := append([]string{"--endpoint", c.endpoint, "--region", c.srv.Region}, args...)
	return runCLI("", full...)
}

// writeRecorder remembers the requests, other than GETs, that went through a
// proxy in front of the server.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

// take returns the requests recorded since the last call.
func (w *writeRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

// recordWrites sends the following commands through a reverse proxy that
// records every request that may change something.
func (c *trellisCLI) recordWrites() *writeRecorder {
	c.t.Helper()
	target, err := url.Parse(c.srv.Endpoint)
	if err != nil {
		c.t.Fatal(err)
	}
	w := &writeRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.mu.Lock()
			w.writes = append(w.writes, r.Method+" "+r.URL.Path)
			w.mu.Unlock()
		}
		proxy.ServeHTTP(rw, r)
	}))
	c.t.Cleanup(srv.Close)
	c.endpoint = srv.URL
	return w
}

// ok runs a command that must succeed and returns its JSON output.
func (c *trellisCLI) ok(args ...string) map[string]any {
	c.t.Helper()
	res := c.exec(args...)
	if res.err != nil {
		c.t.Fatalf("trellis %s: %v\nstderr: %s", strings.Join(args, " "), res.err, res.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &m); err != nil {
		c.t.Fatalf("trellis %s: output is not a JSON object: %v\n%s", strings.Join(args, " "), err, res.stdout)
	}
	return m
}

// text runs a command that must succeed and returns its raw output.
func (c *trellisCLI) text(args ...string) string {
	c.t.Helper()
	res := c.exec(args...)
	if res.err != nil {
		c.t.Fatalf("trellis %s: %v\nstderr: %s", strings.Join(args, " "), res.err, res.stderr)
	}
	return res.stdout
}

// fails runs a command that must fail and returns what the user sees on
// stderr.
func (c *trellisCLI) fails(args ...string) string {
	c.t.Helper()
	res := c.exec(args...)
	if res.err == nil {
		c.t.Fatalf("trellis %s: succeeded, want an error\n%s", strings.Join(args, " "), res.stdout)
	}
	return res.stderr
}

// str returns the string at a dotted path of a JSON document.
func str(t *testing.T, m map[string]any, path string) string {
	t.Helper()
	v, ok := lookupPath(m, path)
	s, isStr := v.(string)
	if !ok || !isStr || s == "" {
		t.Fatalf("no string at %q in %v", path, m)
	}
	return s
}

// sub extracts the JSON at path as a canonical string, for comparisons.
func sub(t *testing.T, m map[string]any, path string) string {
	t.Helper()
	v, ok := lookupPath(m, path)
	if !ok {
		t.Fatalf("nothing at %q in %v", path, m)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func canon(t *testing.T, js string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCLIAgainstServer(t *testing.T) {
	c := startCLI(t)

	// Service network and service.
	sn := c.ok("service-network", "create", "--name", "cli-net", "--tag", "team=core")
	snID, snArn := str(t, sn, "id"), str(t, sn, "arn")
	if !strings.HasPrefix(snID, "sn-") || !strings.Contains(snArn, ":servicenetwork/"+snID) {
		t.Errorf("service network id/arn = %s %s", snID, snArn)
	}
	if got := str(t, sn, "name"); got != "cli-net" {
		t.Errorf("name = %q", got)
	}

	svc := c.ok("svc", "create", "--name", "orders", "--tag", "team=orders")
	svcID, svcArn := str(t, svc, "id"), str(t, svc, "arn")
	if !strings.HasPrefix(svcID, "svc-") {
		t.Errorf("service id = %s", svcID)
	}
	str(t, svc, "dnsEntry.domainName")
	str(t, svc, "status")

	got := c.ok("service", "get", svcID)
	if str(t, got, "arn") != svcArn || str(t, got, "name") != "orders" {
		t.Errorf("service get = %v", got)
	}
	str(t, got, "createdAt")

	// Target groups and targets.
	tg1 := c.ok("target-group", "create", "--name", "web-a", "--type", "IP", "--port", "8080", "--protocol", "HTTP",
		"--vpc", "vpc-0123456789abcdef0", "--protocol-version", "HTTP1",
		"--health-check-path", "/healthz", "--health-check-interval", "10", "--matcher", "200-299")
	tg1ID := str(t, tg1, "id")
	if got := str(t, tg1, "config.vpcIdentifier"); got != "vpc-0123456789abcdef0" {
		t.Errorf("config.vpcIdentifier = %q", got)
	}
	if got := sub(t, tg1, "config.healthCheck.matcher"); got != `{"httpCode":"200-299"}` {
		t.Errorf("matcher = %s", got)
	}
	tg2 := c.ok("tg", "create", "--input-json",
		`{"name":"web-b","type":"IP","config":{"port":8080,"protocol":"HTTP","vpcIdentifier":"vpc-0123456789abcdef0"}}`)
	tg2ID := str(t, tg2, "id")

	reg := c.ok("tg", "register-targets", "--target-group", tg1ID, "--target", "127.0.0.1:8080", "--target", "127.0.0.2")
	if n := len(reg["successful"].([]any)); n != 2 {
		t.Errorf("register-targets successful = %v", reg)
	}
	targets := c.ok("tg", "list-targets", tg1ID)
	if n := len(targets["items"].([]any)); n != 2 {
		t.Errorf("list-targets = %v", targets)
	}

	// Listener with a weighted forward, then a rule.
	ln := c.ok("listener", "create", "--service", svcID, "--name", "web", "--protocol", "HTTP", "--port", "80",
		"--default-forward", tg1ID+"=90,"+tg2ID+"=10")
	lnID := str(t, ln, "id")
	wantForward := canon(t, fmt.Sprintf(`{"forward":{"targetGroups":[{"targetGroupIdentifier":%q,"weight":90},{"targetGroupIdentifier":%q,"weight":10}]}}`, tg1ID, tg2ID))
	if got := sub(t, ln, "defaultAction"); got != wantForward {
		t.Errorf("listener defaultAction = %s, want %s", got, wantForward)
	}

	rule := c.ok("rule", "create", "--service", svcID, "--listener", lnID, "--name", "api", "--priority", "10",
		"--path-prefix", "/api", "--header", "x-env=exact:blue", "--method", "GET", "--forward", tg2ID+"=1")
	ruleID := str(t, rule, "id")
	wantMatch := canon(t, `{"httpMatch":{"method":"GET","pathMatch":{"match":{"prefix":"/api"}},"headerMatches":[{"name":"x-env","match":{"exact":"blue"}}]}}`)
	gotRule := c.ok("rule", "get", "--service", svcID, "--listener", lnID, ruleID)
	if got := sub(t, gotRule, "match"); !matchEquivalent(t, got, wantMatch) {
		t.Errorf("rule match = %s, want %s", got, wantMatch)
	}
	if got := sub(t, gotRule, "action"); got != canon(t, fmt.Sprintf(`{"forward":{"targetGroups":[{"targetGroupIdentifier":%q,"weight":1}]}}`, tg2ID)) {
		t.Errorf("rule action = %s", got)
	}
	rules := c.ok("rule", "list", "--service", svcID, "--listener", lnID)
	if n := len(rules["items"].([]any)); n < 1 {
		t.Errorf("rule list = %v", rules)
	}

	// A rule from wire JSON, and a server-side validation error.
	c.ok("rule", "create", "--service", svcID, "--listener", lnID, "--input-json",
		`{"name":"teapot","priority":20,"match":{"httpMatch":{"pathMatch":{"match":{"exact":"/tea"}}}},"action":{"fixedResponse":{"statusCode":500}}}`)
	stderr := c.fails("rule", "create", "--service", svcID, "--listener", lnID, "--name", "dup", "--priority", "10",
		"--path-prefix", "/dup", "--fixed-response", "404")
	if !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "Exception: ") {
		t.Errorf("duplicate priority stderr = %q, want Error: <Code>: <message>", stderr)
	}
	stderr = c.fails("svc", "create", "--name", "Not_A_Valid_Name!")
	if !strings.HasPrefix(stderr, "Error: ValidationException: ") {
		t.Errorf("invalid name stderr = %q", stderr)
	}
	t.Logf("validation error as printed:\n%s", stderr)
	stderr = c.fails("svc", "get", "svc-0000000000000000f")
	if !strings.HasPrefix(stderr, "Error: ResourceNotFoundException: ") {
		t.Errorf("not found stderr = %q", stderr)
	}

	// Association, auth policy, tags.
	snsa := c.ok("snsa", "create", "--service-network", snID, "--service", svcID)
	snsaID := str(t, snsa, "id")
	gotSnsa := c.ok("snsa", "get", snsaID)
	if str(t, gotSnsa, "serviceId") != svcID || str(t, gotSnsa, "serviceNetworkId") != snID {
		t.Errorf("snsa get = %v", gotSnsa)
	}

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	put := c.ok("auth-policy", "put", "--resource", svcID, "--policy", policy)
	if canon(t, str(t, put, "policy")) != canon(t, policy) {
		t.Errorf("put policy = %v", put)
	}
	gotPolicy := c.ok("auth-policy", "get", svcID)
	if canon(t, str(t, gotPolicy, "policy")) != canon(t, policy) {
		t.Errorf("get policy = %v", gotPolicy)
	}

	c.ok("tag", "add", "--resource-arn", svcArn, "--tag", "env=prod", "--tag", "tier=1")
	tags := c.ok("tag", "list", svcArn)
	if diff := cmp.Diff(map[string]any{"team": "orders", "env": "prod", "tier": "1"}, tags["tags"]); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	c.ok("tag", "remove", "--resource-arn", svcArn, "--tag-key", "tier")
	tags = c.ok("tag", "list", "--resource-arn", svcArn)
	if diff := cmp.Diff(map[string]any{"team": "orders", "env": "prod"}, tags["tags"]); diff != "" {
		t.Errorf("tags after remove (-want +got):\n%s", diff)
	}

	// Tables.
	table := c.text("service", "list", "--output", "table")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "STATUS") ||
		!strings.HasPrefix(lines[1], svcID+" ") || !strings.Contains(lines[1], "orders") {
		t.Errorf("service list table:\n%s", table)
	}
	table = c.text("tg", "list", "--output", "table", "--all")
	if !strings.Contains(table, tg1ID) || !strings.Contains(table, tg2ID) || !strings.Contains(table, "vpc-0123456789abcdef0") {
		t.Errorf("target group table:\n%s", table)
	}
	table = c.text("listener", "get", "--service", svcID, lnID, "--output", "table")
	if !strings.Contains(table, "defaultAction.forward.targetGroups.0.weight") || !strings.HasPrefix(table, "FIELD") {
		t.Errorf("listener get table:\n%s", table)
	}

	// Pagination: two service networks, one per page.
	c.ok("sn", "create", "--name", "cli-net-2")
	page := c.ok("sn", "list", "--max-results", "1")
	if len(page["items"].([]any)) != 1 || page["nextToken"] == nil {
		t.Errorf("first page = %v", page)
	}
	all := c.ok("sn", "list", "--max-results", "1", "--all")
	if len(all["items"].([]any)) != 2 || all["nextToken"] != nil {
		t.Errorf("--all = %v", all)
	}

	// Teardown.
	c.ok("auth-policy", "delete", svcID)
	// Without a policy, get succeeds with the state and no policy.
	if got := c.ok("auth-policy", "get", svcID); got["policy"] != nil || got["state"] != "Inactive" {
		t.Errorf("auth-policy get without a policy = %v", got)
	}
	c.ok("rule", "delete", "--service", svcID, "--listener", lnID, "--rule", ruleID)
	c.ok("listener", "delete", "--service", svcID, "--listener", lnID)
	c.ok("tg", "deregister-targets", "--target-group", tg1ID, "--target", "127.0.0.1:8080", "--target", "127.0.0.2")
	c.ok("snsa", "delete", snsaID)
	c.ok("tg", "delete", tg2ID)
	c.ok("svc", "delete", svcID)
	left := c.ok("svc", "list")
	for _, it := range left["items"].([]any) {
		if it.(map[string]any)["id"] == svcID && it.(map[string]any)["status"] != "DELETE_IN_PROGRESS" {
			t.Errorf("service still listed after delete: %v", it)
		}
	}
}

// matchEquivalent compares two rule matches, allowing the server to fill in
// defaults (such as caseSensitive) that the request left out.
func matchEquivalent(t *testing.T, got, want string) bool {
	t.Helper()
	if got == want {
		return true
	}
	var g, w any
	json.Unmarshal([]byte(got), &g)
	json.Unmarshal([]byte(want), &w)
	return containsJSON(g, w)
}

// containsJSON reports whether every member of want is present in got.
func containsJSON(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !containsJSON(g[k], wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !containsJSON(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return cmp.Equal(got, want)
}

// TestCLICredentialsFromDataDir uses the credentials.json the server writes
// into its data directory, with no credentials in the environment.
func TestCLICredentialsFromDataDir(t *testing.T) {
	c := startCLI(t)
	t.Setenv(envAccessKeyID, "")
	t.Setenv(envSecretAccessKey, "")
	res := c.exec("--data-dir", c.srv.DataDir, "service-network", "list")
	if res.err != nil {
		t.Fatalf("list with --data-dir credentials: %v\n%s", res.err, res.stderr)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if _, ok := out["items"]; !ok {
		t.Errorf("output = %s", res.stdout)
	}

	// Wrong credentials are rejected by the server.
	t.Setenv(envAccessKeyID, c.srv.AccessKeyID)
	t.Setenv(envSecretAccessKey, "wrong-secret")
	stderr := c.fails("service-network", "list")
	if !strings.HasPrefix(stderr, "Error: ") {
		t.Errorf("stderr = %q", stderr)
	}
	t.Logf("bad signature error as printed: %s", stderr)
}

// TestCLIUpdatesAndOtherNouns covers the update verbs, batch-update, VPC
// associations, access log subscriptions and resource policies.
func TestCLIUpdatesAndOtherNouns(t *testing.T) {
	c := startCLI(t)
	const vpc = "vpc-0123456789abcdef0"
	sn := c.ok("sn", "create", "--name", "upd-net")
	snID, snArn := str(t, sn, "id"), str(t, sn, "arn")
	if got := str(t, c.ok("sn", "update", snID, "--auth-type", "aws_iam"), "authType"); got != "AWS_IAM" {
		t.Errorf("sn update authType = %q", got)
	}
	svc := c.ok("svc", "create", "--name", "billing")
	svcID := str(t, svc, "id")
	if got := str(t, c.ok("svc", "update", "--service", svcID, "--auth-type", "AWS_IAM"), "authType"); got != "AWS_IAM" {
		t.Errorf("svc update authType = %q", got)
	}

	tg := c.ok("tg", "create", "--name", "billing-web", "--type", "IP", "--port", "8080", "--protocol", "HTTP", "--vpc", vpc)
	tgID := str(t, tg, "id")
	upd := c.ok("tg", "update", tgID, "--health-check-path", "/ready", "--health-check-enabled=false", "--matcher", "200-204")
	if got := sub(t, upd, "config.healthCheck"); !matchEquivalent(t, got, `{"enabled":false,"path":"/ready","matcher":{"httpCode":"200-204"}}`) {
		t.Errorf("tg update healthCheck = %s", got)
	}

	ln := c.ok("listener", "create", "--service", svcID, "--name", "http", "--protocol", "HTTP", "--default-fixed-response", "404")
	lnID := str(t, ln, "id")
	if got := sub(t, ln, "defaultAction"); got != `{"fixedResponse":{"statusCode":404}}` {
		t.Errorf("listener defaultAction = %s", got)
	}
	lnUpd := c.ok("listener", "update", "--service", svcID, lnID, "--default-forward", tgID)
	if got := sub(t, lnUpd, "defaultAction.forward.targetGroups.0.targetGroupIdentifier"); got != fmt.Sprintf("%q", tgID) {
		t.Errorf("listener update defaultAction = %s", sub(t, lnUpd, "defaultAction"))
	}
	if items := c.ok("listener", "list", "--service", svcID)["items"].([]any); len(items) != 1 {
		t.Errorf("listener list = %v", items)
	}

	ra := c.ok("rule", "create", "--service", svcID, "--listener", lnID, "--name", "first", "--priority", "1", "--path-exact", "/a", "--fixed-response", "404")
	rb := c.ok("rule", "create", "--service", svcID, "--listener", lnID, "--name", "second", "--priority", "2", "--header", "x-user=prefix:adm", "--forward", tgID+"=100")
	raID, rbID := str(t, ra, "id"), str(t, rb, "id")
	ru := c.ok("rule", "update", "--service", svcID, "--listener", lnID, raID, "--priority", "3", "--path-prefix", "/b", "--case-sensitive")
	if got := sub(t, ru, "priority"); got != "3" {
		t.Errorf("rule update priority = %s", got)
	}
	if got := sub(t, ru, "match.httpMatch.pathMatch"); !matchEquivalent(t, got, `{"match":{"prefix":"/b"},"caseSensitive":true}`) {
		t.Errorf("rule update pathMatch = %s", got)
	}
	batch := c.ok("rule", "batch-update", "--service", svcID, "--listener", lnID, "--rule-priority", raID+"=20", "--rule-priority", rbID+"=10")
	if n := len(batch["successful"].([]any)); n != 2 {
		t.Errorf("batch-update = %v", batch)
	}
	if got := sub(t, c.ok("rule", "get", "--service", svcID, "--listener", lnID, "--rule", rbID), "priority"); got != "10" {
		t.Errorf("priority after batch-update = %s", got)
	}

	// VPC association.
	snva := c.ok("snva", "create", "--service-network", snID, "--vpc", vpc, "--security-group-id", "sg-0123456789abcdef0")
	snvaID := str(t, snva, "id")
	if got := str(t, c.ok("snva", "get", snvaID), "vpcId"); got != vpc {
		t.Errorf("snva vpcId = %q", got)
	}
	snvaUpd := c.ok("snva", "update", snvaID, "--security-group-id", "sg-0123456789abcdef1", "--security-group-id", "sg-01234567")
	if got := sub(t, snvaUpd, "securityGroupIds"); got != `["sg-0123456789abcdef1","sg-01234567"]` {
		t.Errorf("snva update securityGroupIds = %s", got)
	}
	table := c.text("snva", "list", "--service-network", snID, "--output", "table")
	if !strings.Contains(table, snvaID) || !strings.Contains(table, vpc) {
		t.Errorf("snva table:\n%s", table)
	}

	// Access log subscription.
	dest := "arn:aws:logs:us-east-1:" + c.srv.Account + ":log-group:lattice"
	als := c.ok("als", "create", "--resource", snID, "--destination-arn", dest, "--service-network-log-type", "service")
	alsID := str(t, als, "id")
	dest2 := dest + "-2"
	if got := str(t, c.ok("als", "update", alsID, "--destination-arn", dest2), "destinationArn"); got != dest2 {
		t.Errorf("als update destinationArn = %q", got)
	}
	if got := str(t, c.ok("als", "get", alsID), "destinationArn"); got != dest2 {
		t.Errorf("als get destinationArn = %q", got)
	}
	if items := c.ok("als", "list", "--resource", snID, "--all")["items"].([]any); len(items) != 1 {
		t.Errorf("als list = %v", items)
	}
	c.ok("als", "delete", alsID)

	// Resource policy.
	rp := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"vpc-lattice:CreateServiceNetworkVpcAssociation","Resource":"` + snArn + `"}]}`
	c.ok("resource-policy", "put", "--resource-arn", snArn, "--policy", rp)
	if got := str(t, c.ok("resource-policy", "get", snArn), "policy"); canon(t, got) != canon(t, rp) {
		t.Errorf("resource policy = %s", got)
	}
	c.ok("resource-policy", "delete", snArn)
	if got := c.ok("resource-policy", "get", snArn); got["policy"] != nil {
		t.Errorf("resource-policy get without a policy = %v", got)
	}

	// Teardown.
	c.ok("snva", "delete", snvaID)
	c.ok("rule", "delete", "--service", svcID, "--listener", lnID, raID)
	c.ok("rule", "delete", "--service", svcID, "--listener", lnID, rbID)
	c.ok("listener", "delete", "--service", svcID, lnID)
	c.ok("tg", "delete", tgID)
	c.ok("svc", "delete", svcID)
}

// TestCLIResolvesNames gives names where the API wants identifiers.
func TestCLIResolvesNames(t *testing.T) {
	c := startCLI(t)
	sn := c.ok("sn", "create", "--name", "names-net")
	snID := str(t, sn, "id")
	svc := c.ok("svc", "create", "--name", "orders")
	svcID, svcArn := str(t, svc, "id"), str(t, svc, "arn")
	tgID := str(t, c.ok("tg", "create", "--name", "web-a", "--type", "IP", "--port", "8080", "--protocol", "HTTP",
		"--vpc", "vpc-0123456789abcdef0"), "id")
	writes := c.recordWrites()

	ln := c.ok("listener", "create", "--service", "orders", "--name", "web", "--protocol", "HTTP", "--port", "80",
		"--default-forward", "web-a=100")
	lnID := str(t, ln, "id")
	if got := str(t, ln, "serviceId"); got != svcID {
		t.Errorf("listener serviceId = %q, want %q", got, svcID)
	}
	want := canon(t, fmt.Sprintf(`{"forward":{"targetGroups":[{"targetGroupIdentifier":%q,"weight":100}]}}`, tgID))
	if got := sub(t, ln, "defaultAction"); got != want {
		t.Errorf("listener defaultAction = %s, want %s", got, want)
	}

	snsa := c.ok("snsa", "create", "--service-network", "names-net", "--service", "orders")
	gotSnsa := c.ok("snsa", "get", str(t, snsa, "id"))
	if str(t, gotSnsa, "serviceId") != svcID || str(t, gotSnsa, "serviceNetworkId") != snID {
		t.Errorf("snsa get = %v", gotSnsa)
	}
	if items := c.ok("snsa", "list", "--service", "orders")["items"].([]any); len(items) != 1 {
		t.Errorf("snsa list --service orders = %v", items)
	}

	reg := c.ok("target-group", "register-targets", "--target-group", "web-a", "--target", "127.0.0.1:8080")
	if n := len(reg["successful"].([]any)); n != 1 {
		t.Errorf("register-targets = %v", reg)
	}
	if items := c.ok("tg", "list-targets", "web-a")["items"].([]any); len(items) != 1 {
		t.Errorf("list-targets web-a = %v", items)
	}

	if got := str(t, c.ok("service", "get", "orders"), "id"); got != svcID {
		t.Errorf("service get orders: id = %q, want %q", got, svcID)
	}

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	c.ok("auth-policy", "put", "--resource", "orders", "--policy", policy)
	if got := str(t, c.ok("auth-policy", "get", svcID), "policy"); canon(t, got) != canon(t, policy) {
		t.Errorf("auth policy of %s = %s", svcID, got)
	}
	c.ok("auth-policy", "put", "--resource", "names-net", "--policy", policy) // a service network
	if got := str(t, c.ok("auth-policy", "get", snID), "policy"); canon(t, got) != canon(t, policy) {
		t.Errorf("auth policy of %s = %s", snID, got)
	}

	rule := c.ok("rule", "create", "--service", "orders", "--listener", "web", "--name", "api", "--priority", "10",
		"--path-prefix", "/api", "--forward", "web-a")
	ruleID := str(t, rule, "id")
	if got := str(t, rule, "arn"); !strings.Contains(got, ":service/"+svcID+"/listener/"+lnID+"/rule/") {
		t.Errorf("rule arn = %q, want it under %s and %s", got, svcID, lnID)
	}
	if got := str(t, c.ok("rule", "get", "--service", "orders", "--listener", "web", "api"), "id"); got != ruleID {
		t.Errorf("rule get by names: id = %q, want %q", got, ruleID)
	}
	c.ok("rule", "batch-update", "--service", "orders", "--listener", "web", "--rule-priority", "api=20")
	if got := sub(t, c.ok("rule", "get", "--service", svcID, "--listener", lnID, ruleID), "priority"); got != "20" {
		t.Errorf("priority after batch-update by name = %s", got)
	}
	writes.take()

	// Unknown names: an error naming the name, and nothing changed.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"listener", "create", "--service", "nosuch", "--name", "web2", "--protocol", "HTTP", "--default-fixed-response", "404"},
			`no service named "nosuch"`},
		{[]string{"listener", "create", "--service", "orders", "--name", "web2", "--protocol", "HTTP", "--port", "8080",
			"--default-forward", "web-a=50,nosuch-tg=50"}, `no target group named "nosuch-tg"`},
		{[]string{"snsa", "create", "--service-network", "nosuch-net", "--service", "orders"}, `no service network named "nosuch-net"`},
		{[]string{"tg", "register-targets", "--target-group", "nosuch-tg", "--target", "127.0.0.3"}, `no target group named "nosuch-tg"`},
		{[]string{"rule", "create", "--service", "orders", "--listener", "nosuch", "--name", "r2", "--priority", "30",
			"--path-prefix", "/r2", "--fixed-response", "404"}, `no listener named "nosuch" in service ` + svcID},
		{[]string{"rule", "delete", "--service", "orders", "--listener", "web", "nosuch"}, `no rule named "nosuch" in listener ` + lnID},
		{[]string{"auth-policy", "delete", "nosuch"}, `no service or service network named "nosuch"`},
		{[]string{"svc", "delete", "nosuch"}, `no service named "nosuch"`},
	} {
		stderr := c.fails(tt.args...)
		if !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, tt.want) {
			t.Errorf("trellis %s: stderr = %q, want it to contain %q", strings.Join(tt.args, " "), stderr, tt.want)
		}
		if w := writes.take(); len(w) != 0 {
			t.Errorf("trellis %s: sent %v, want no mutating request", strings.Join(tt.args, " "), w)
		}
	}
	if items := c.ok("listener", "list", "--service", "orders")["items"].([]any); len(items) != 1 {
		t.Errorf("listeners after failed creates = %v", items)
	}
	if items := c.ok("snsa", "list", "--service", svcID)["items"].([]any); len(items) != 1 {
		t.Errorf("associations after failed create = %v", items)
	}

	// A service network with the name of a service: --resource is ambiguous.
	c.ok("sn", "create", "--name", "orders")
	stderr := c.fails("auth-policy", "delete", "--resource", "orders")
	if !strings.Contains(stderr, `"orders" names more than one resource`) || !strings.Contains(stderr, svcID) ||
		!strings.Contains(stderr, "give the ID or ARN") {
		t.Errorf("ambiguous --resource: stderr = %q", stderr)
	}
	if w := writes.take(); len(w) != 1 || !strings.HasPrefix(w[0], "POST ") { // only the sn create
		t.Errorf("writes = %v, want only the service network creation", w)
	}
	if got := str(t, c.ok("auth-policy", "get", svcArn), "policy"); canon(t, got) != canon(t, policy) { // ARNs are not looked up
		t.Errorf("auth policy by ARN = %s", got)
	}

	// Teardown by name.
	c.ok("rule", "delete", "--service", "orders", "--listener", "web", "api")
	c.ok("listener", "delete", "--service", "orders", "web")
	c.ok("tg", "deregister-targets", "--target-group", "web-a", "--target", "127.0.0.1:8080")
	c.ok("snsa", "delete", str(t, snsa, "id"))
	c.ok("auth-policy", "delete", "--resource", svcID)
	c.ok("svc", "delete", "orders")
}

func TestCLIVPCs(t *testing.T) {
	c := startCLI(t)
	v := c.ok("vpc", "put", "vpc-0000000000000000a")
	if str(t, v, "ingressAddress") != "127.171.0.1" || str(t, v, "mode") != "host" {
		t.Fatalf("vpc put: %v", v)
	}
	if got := str(t, c.ok("vpc", "get", "vpc-0000000000000000a"), "vpcId"); got != "vpc-0000000000000000a" {
		t.Fatalf("vpc get: %s", got)
	}
	if table := c.text("vpc", "list", "--output", "table"); !strings.Contains(table, "127.171.0.1") || !strings.Contains(table, "INGRESS") {
		t.Fatalf("vpc list table:\n%s", table)
	}
	c.text("vpc", "delete", "vpc-0000000000000000a")
	if msg := c.fails("vpc", "get", "vpc-0000000000000000a"); !strings.Contains(msg, "ResourceNotFoundException") {
		t.Fatalf("vpc get after delete: %s", msg)
	}
	if msg := c.fails("vpc", "put", "vpc-nope"); !strings.Contains(msg, "ValidationException") {
		t.Fatalf("bad id: %s", msg)
	}
}

func TestCLIAuthSimulate(t *testing.T) {
	c := startCLI(t)
	c.ok("service-network", "create", "--name", "simnet", "--auth-type", "AWS_IAM")
	svc := c.ok("service", "create", "--name", "simsvc", "--auth-type", "AWS_IAM")
	c.ok("snsa", "create", "--service-network", "simnet", "--service", "simsvc")
	c.ok("snva", "create", "--service-network", "simnet", "--vpc", "vpc-0000000000000000c")
	c.ok("auth-policy", "put", "--resource", "simnet", "--policy",
		`{"Statement":[{"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`)
	c.ok("auth-policy", "put", "--resource", "simsvc", "--policy",
		`{"Statement":[{"Sid":"ReadOnly","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",`+
			`"Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"GET"}}},`+
			`{"Sid":"NoAdmin","Effect":"Deny","Principal":"*","Action":"*","Resource":"`+str(t, svc, "arn")+`/admin/*"}]}`)
	var out string
	deadline := time.Now().Add(3 * time.Second)
	for {
		// Until the data plane's snapshot has the VPC, simulate says it
		// does not know it: retried like an answer without the policy.
		res := c.exec("auth", "simulate", "--source-vpc", "vpc-0000000000000000c", "--service", "simsvc", "--method", "POST", "--path", "/orders")
		out = res.stdout + res.stderr
		if (res.err == nil && strings.Contains(out, "ReadOnly")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"Service network", "Allow by Everyone", "NoMatch", "condition StringEquals vpc-lattice-svcs:RequestMethod", "denied"} {
		if !strings.Contains(out, want) {
			t.Fatalf("simulate POST: missing %q in\n%s", want, out)
		}
	}
	out = c.text("auth", "simulate", "--source-vpc", "vpc-0000000000000000c", "--service", "simsvc", "--path", "/admin/x",
		"--principal", "arn:aws:iam::000000000000:root")
	if !strings.Contains(out, "Deny by NoAdmin") || !strings.Contains(out, "arn:aws:iam::000000000000:root") {
		t.Fatalf("simulate admin:\n%s", out)
	}
	out = c.text("auth", "simulate", "--source-vpc", "vpc-0000000000000000c", "--service", "simsvc", "--path", "/orders")
	if !strings.Contains(out, "allowed") {
		t.Fatalf("simulate GET:\n%s", out)
	}
	// A draft of the service's policy that allows POST: the simulation says
	// allowed, marks the level, and the live policy still denies POST.
	draft := filepath.Join(t.TempDir(), "draft.json")
	const draftDoc = `{"Statement":[{"Sid":"Writers","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	if err := os.WriteFile(draft, []byte(draftDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	simPost := []string{"auth", "simulate", "--source-vpc", "vpc-0000000000000000c", "--service", "simsvc", "--method", "POST", "--path", "/orders"}
	out = c.text(append(simPost, "--service-policy-file", draft)...)
	if !strings.Contains(out, "Service [draft policy]") || !strings.Contains(out, "Allow by Writers") || !strings.Contains(out, "allowed") {
		t.Fatalf("simulate POST with a draft:\n%s", out)
	}
	res := runCLI(draftDoc, append([]string{"--endpoint", c.endpoint, "--region", c.srv.Region}, append(simPost, "--service-policy-file", "-", "--output", "json")...)...)
	if res.err != nil || !strings.Contains(res.stdout, `"draft": true`) || !strings.Contains(res.stdout, `"allowed": true`) {
		t.Fatalf("simulate with a draft on stdin: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	if out := c.text(simPost...); !strings.Contains(out, "denied") || strings.Contains(out, "draft") {
		t.Fatalf("simulate POST after the drafts (the live policy):\n%s", out)
	}
	if err := os.WriteFile(draft, []byte(`{"Version":"2012-10-17"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := c.exec(append(simPost, "--network-policy-file", draft)...); res.err == nil ||
		!strings.Contains(res.stderr, "ValidationException") || !strings.Contains(res.stderr, "serviceNetworkAuthPolicy") {
		t.Fatalf("a bad draft: %v\n%s%s", res.err, res.stdout, res.stderr)
	}

	c.ok("vpc", "put", "vpc-0000000000000000d")
	time.Sleep(100 * time.Millisecond) // the data plane's snapshot follows the store within milliseconds
	js := c.ok("auth", "simulate", "--source-vpc", "vpc-0000000000000000d", "--service", "simsvc", "--output", "json")
	if js["reachable"] != false {
		t.Fatalf("a VPC outside the network: %v", js)
	}
}

func TestCLISecurityGroups(t *testing.T) {
	c := startCLI(t)
	const sg, vpc = "sg-0000000000000000a", "vpc-0000000000000000a"
	g := c.ok("security-group", "put", sg, "--vpc", vpc, "--ingress", "tcp:80-80:10.0.1.7/32",
		"--ingress", "tcp:8443:2001:db8::/32", "--ingress", "all:127.0.0.0/8", "--description", "web")
	if str(t, g, "vpcId") != vpc || str(t, g, "description") != "web" || str(t, g, "ingress.1.cidr") != "2001:db8::/32" ||
		str(t, g, "ingress.2.protocol") != "all" {
		t.Fatalf("put: %v", g)
	}
	if r := g["ingress"].([]any)[1].(map[string]any); r["fromPort"] != 8443.0 || r["toPort"] != 8443.0 {
		t.Fatalf("single port: %v", r)
	}
	g = c.ok("sg", "put", sg, "--input-json", `{"vpcId":"`+vpc+`","ingress":[{"protocol":"tcp","fromPort":81,"toPort":82,"cidr":"10.0.0.0/8","description":"lb"}]}`)
	if str(t, g, "ingress.0.description") != "lb" || len(g["ingress"].([]any)) != 1 {
		t.Fatalf("put --input-json: %v", g)
	}
	if got := str(t, c.ok("security-group", "get", sg), "ingress.0.cidr"); got != "10.0.0.0/8" {
		t.Fatalf("get: %s", got)
	}
	if table := c.text("security-group", "list", "--vpc", vpc, "--output", "table"); !strings.Contains(table, sg) || !strings.Contains(table, "SECURITY GROUP ID") {
		t.Fatalf("list table:\n%s", table)
	}
	if table := c.text("security-group", "list", "--vpc", "vpc-0000000000000000b", "--output", "table"); strings.Contains(table, sg) {
		t.Fatalf("list of another VPC:\n%s", table)
	}
	// The association names it; the CLI's --security-group-id reaches the API.
	sn := str(t, c.ok("sn", "create", "--name", "net"), "id")
	c.ok("snva", "create", "--service-network", sn, "--vpc", vpc, "--security-group-id", sg)
	if msg := c.fails("security-group", "delete", sg); !strings.Contains(msg, "ConflictException") {
		t.Fatalf("delete while used: %s", msg)
	}
	if msg := c.fails("security-group", "put", sg, "--vpc", vpc, "--ingress", "tcp:80:10.0.1.7"); !strings.Contains(msg, "ingress[0].cidr") {
		t.Fatalf("bad cidr: %s", msg)
	}
	for _, bad := range []string{"udp:53:10.0.0.0/8", "tcp:http:10.0.0.0/8", "tcp:80", "all:"} {
		if msg := c.fails("security-group", "put", sg, "--vpc", vpc, "--ingress", bad); !strings.Contains(msg, "--ingress") {
			t.Fatalf("--ingress %s: %s", bad, msg)
		}
	}
	if msg := c.fails("security-group", "put", sg, "--ingress", "all:10.0.0.0/8"); !strings.Contains(msg, "--vpc") {
		t.Fatalf("missing --vpc: %s", msg)
	}
}
