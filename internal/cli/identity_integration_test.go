package cli

import (
	"regexp"
	"strings"
	"testing"
)

func TestCLIIdentities(t *testing.T) {
	c := startCLI(t)
	const acct = "111122223333"
	role := "arn:aws:iam::" + acct + ":role/path/deployer"
	user := "arn:aws:iam::" + acct + ":user/alice"

	// Accounts.
	a := c.ok("account", "put", acct, "--name", "team-a", "--org-id", "o-a1b2c3d4e5")
	if str(t, a, "accountId") != acct || str(t, a, "name") != "team-a" || str(t, a, "orgId") != "o-a1b2c3d4e5" {
		t.Fatalf("account put: %v", a)
	}
	if got := c.ok("account", "put", acct, "--org-path", "o-a1b2c3d4e5/r-ab12/"); str(t, got, "name") != "team-a" {
		t.Fatalf("account put keeps what is not given: %v", got)
	}
	if got := str(t, c.ok("account", "get", acct), "orgPath"); got != "o-a1b2c3d4e5/r-ab12/" {
		t.Fatalf("account get: %s", got)
	}
	table := c.text("account", "list", "--output", "table")
	if !strings.Contains(table, "ACCOUNT ID") || !strings.Contains(table, acct) || !strings.Contains(table, c.srv.Account) {
		t.Fatalf("account list table:\n%s", table)
	}
	if msg := c.fails("account", "put", "123"); !strings.Contains(msg, "ValidationException") {
		t.Fatalf("bad account: %s", msg)
	}

	// Principals, with paths and tags, given as plain ARNs.
	p := c.ok("principal", "put", role, "--tag", "team=orders", "--tag", "env=prod")
	if str(t, p, "arn") != role || str(t, p, "type") != "role" || str(t, p, "tags.team") != "orders" || str(t, p, "tags.env") != "prod" {
		t.Fatalf("principal put: %v", p)
	}
	if got := str(t, c.ok("principal", "get", role), "name"); got != "deployer" {
		t.Fatalf("principal get: %s", got)
	}
	c.ok("principal", "put", user)
	if table := c.text("principal", "list", "--account", acct, "--output", "table"); !strings.Contains(table, role) || !strings.Contains(table, user) {
		t.Fatalf("principal list table:\n%s", table)
	}
	if page := c.ok("principal", "list", "--account", acct, "--max-results", "1"); str(t, page, "nextToken") == "" {
		t.Fatalf("principal list page: %v", page)
	}
	if msg := c.fails("principal", "put", role, "--tag", "=x"); !strings.Contains(msg, "invalid tag") {
		t.Fatalf("bad tag: %s", msg)
	}
	if msg := c.fails("principal", "put", "arn:aws:iam::999999999999:user/x"); !strings.Contains(msg, "ResourceNotFoundException") {
		t.Fatalf("unknown account: %s", msg)
	}

	// Access keys: the secret once, never in lists.
	k := c.ok("access-key", "create", "--principal", user)
	id, secret := str(t, k, "accessKeyId"), str(t, k, "secretAccessKey")
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(id) || len(secret) != 40 {
		t.Fatalf("access-key create: %v", k)
	}
	for _, args := range [][]string{{"access-key", "list", "--principal", user}, {"access-key", "list", "--account", acct},
		{"access-key", "list", "--account", acct, "--output", "table"}} {
		out := c.text(args...)
		if !strings.Contains(out, id) || strings.Contains(out, secret) {
			t.Fatalf("%v:\n%s", args, out)
		}
	}
	if msg := c.fails("access-key", "create"); !strings.Contains(msg, "exactly one of --principal and --account") {
		t.Fatalf("create without a holder: %s", msg)
	}
	if msg := c.fails("access-key", "create", "--principal", user, "--account", acct); !strings.Contains(msg, "exactly one") {
		t.Fatalf("create with two holders: %s", msg)
	}
	rootKey := c.ok("access-key", "create", "--account", acct)
	if str(t, rootKey, "principalArn") != "arn:aws:iam::"+acct+":root" {
		t.Fatalf("root key: %v", rootKey)
	}

	// As alice: her account's role, a session, and Lattice calls with it.
	t.Setenv(envAccessKeyID, id)
	t.Setenv(envSecretAccessKey, secret)
	if msg := c.fails("account", "put", "222233334444"); !strings.Contains(msg, "AccessDeniedException") {
		t.Fatalf("a user creates an account: %s", msg)
	}
	if msg := c.fails("sts", "assume-role", "--role-arn", role); !strings.Contains(msg, "--session-name") {
		t.Fatalf("assume-role without a session name: %s", msg)
	}
	if msg := c.fails("sts", "assume-role", "--role-arn", role, "--session-name", "cli", "--duration", "60"); !strings.Contains(msg, "ValidationException") {
		t.Fatalf("short session: %s", msg)
	}
	s := c.ok("sts", "assume-role", "--role-arn", role, "--session-name", "cli", "--duration", "900")
	if !strings.HasPrefix(str(t, s, "accessKeyId"), "ASIA") || str(t, s, "assumedRoleArn") != "arn:aws:sts::"+acct+":assumed-role/deployer/cli" {
		t.Fatalf("assume-role: %v", s)
	}
	t.Setenv(envAccessKeyID, str(t, s, "accessKeyId"))
	t.Setenv(envSecretAccessKey, str(t, s, "secretAccessKey"))
	t.Setenv(envSessionToken, str(t, s, "sessionToken"))
	sn := c.ok("sn", "create", "--name", "session-net")
	if arn := str(t, sn, "arn"); !strings.Contains(arn, ":"+acct+":servicenetwork/") {
		t.Fatalf("network of the session: %s", arn)
	}
	t.Setenv(envSessionToken, "")
	if msg := c.fails("sn", "list"); !strings.Contains(msg, "UnrecognizedClientException") {
		t.Fatalf("session key without its token: %s", msg)
	}

	// Back to the administrator: teardown and guards.
	t.Setenv(envAccessKeyID, c.srv.AccessKeyID)
	t.Setenv(envSecretAccessKey, c.srv.SecretAccessKey)
	c.text("access-key", "delete", id)
	if msg := c.fails("access-key", "delete", id); !strings.Contains(msg, "ResourceNotFoundException") {
		t.Fatalf("delete twice: %s", msg)
	}
	c.text("principal", "delete", user)
	if msg := c.fails("principal", "get", user); !strings.Contains(msg, "ResourceNotFoundException") {
		t.Fatalf("principal get after delete: %s", msg)
	}
	if msg := c.fails("account", "delete", acct); !strings.Contains(msg, "ConflictException") {
		t.Fatalf("delete an account in use: %s", msg)
	}
}
