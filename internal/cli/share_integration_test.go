package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIShareAcrossAccounts drives `trellis share` as two accounts against
// a real server: the administrator's account shares a service network with
// a consumer account outside its organization, the consumer sees the
// invitation, accepts it and then finds the share and the network.
func TestCLIShareAcrossAccounts(t *testing.T) {
	c := startCLI(t)
	const consumer = "444455556666"
	owner := c.srv.Account

	c.ok("account", "put", consumer, "--name", "consumer")
	key := c.ok("access-key", "create", "--account", consumer)
	sn := c.ok("sn", "create", "--name", "shared-net")
	snArn := str(t, sn, "arn")
	other := str(t, c.ok("sn", "create", "--name", "private-net"), "arn")

	// Usage mistakes are refused before any request.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"share", "create", "--resource", snArn}, "--name is required"},
		{[]string{"share", "list", "--owner", "everyone"}, "want self or other"},
		{[]string{"share", "get", "not-an-arn"}, "ARN as the only argument"},
		{[]string{"share", "associate", "arn:aws:ram:us-east-1:" + owner + ":resource-share/x"}, "at least one --resource or --principal"},
		{[]string{"share", "create", "--name", "x", "--tag", "=v"}, "invalid tag"},
	} {
		if msg := c.fails(tc.args...); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %s, want %q", tc.args, msg, tc.want)
		}
	}
	// Server errors are shown as "<Code>: <message>".
	if msg := c.fails("share", "create", "--name", "bad", "--resource", "arn:aws:vpc-lattice:us-east-1:"+owner+":servicenetwork/sn-0000000000000000f"); !strings.Contains(msg, "Exception") {
		t.Errorf("share of an unknown network: %s", msg)
	}

	sh := c.ok("share", "create", "--name", "net-share", "--resource", snArn, "--principal", consumer, "--tag", "team=net")
	shareArn := str(t, sh, "resourceShareArn")
	if !strings.HasPrefix(shareArn, "arn:aws:ram:") || str(t, sh, "name") != "net-share" || str(t, sh, "owningAccountId") != owner {
		t.Fatalf("share create: %v", sh)
	}
	if got := str(t, c.ok("share", "get", shareArn), "status"); got != "ACTIVE" {
		t.Fatalf("share get status %q", got)
	}
	if table := c.text("share", "list", "--output", "table"); !strings.Contains(table, "ARN") || !strings.Contains(table, shareArn) {
		t.Fatalf("share list table:\n%s", table)
	}
	if out := c.text("share", "resources", "--share", shareArn); !strings.Contains(out, snArn) || strings.Contains(out, other) {
		t.Fatalf("share resources:\n%s", out)
	}
	if got := str(t, c.ok("share", "update", shareArn, "--name", "net-share-2"), "name"); got != "net-share-2" {
		t.Fatalf("share update: %s", got)
	}
	// A second share, of the other network, that the consumer will reject.
	declined := str(t, c.ok("share", "create", "--name", "declined", "--resource", other, "--principal", consumer), "resourceShareArn")

	// As the consumer: one pending invitation, nothing shared until it
	// accepts.
	t.Setenv(envAccessKeyID, str(t, key, "accessKeyId"))
	t.Setenv(envSecretAccessKey, str(t, key, "secretAccessKey"))
	if table := c.text("share", "invitations", "--output", "table"); !strings.Contains(table, "INVITATION ARN") || !strings.Contains(table, "PENDING") {
		t.Fatalf("invitations table:\n%s", table)
	}
	var invs, toDecline []map[string]any
	for _, inv := range items(t, c.ok("share", "invitations"), "resourceShareInvitations") {
		if inv["status"] != "PENDING" || inv["senderAccountId"] != owner || inv["receiverAccountId"] != consumer {
			t.Fatalf("invitation: %v", inv)
		}
		switch inv["resourceShareArn"] {
		case shareArn:
			invs = append(invs, inv)
		case declined:
			toDecline = append(toDecline, inv)
		}
	}
	if len(invs) != 1 || len(toDecline) != 1 {
		t.Fatalf("invitations: %v and %v", invs, toDecline)
	}
	if got := str(t, c.ok("share", "reject", toDecline[0]["resourceShareInvitationArn"].(string)), "status"); got != "REJECTED" {
		t.Fatalf("reject: %s", got)
	}
	if got := items(t, c.ok("share", "list", "--owner", "other"), "resourceShares"); len(got) != 0 {
		t.Fatalf("shares before accepting: %v", got)
	}
	if msg := c.fails("share", "get", shareArn); !strings.Contains(msg, "UnknownResourceException") {
		t.Fatalf("get before accepting: %s", msg)
	}
	inv := invs[0]["resourceShareInvitationArn"].(string)
	if got := str(t, c.ok("share", "accept", inv), "status"); got != "ACCEPTED" {
		t.Fatalf("accept: %s", got)
	}
	if msg := c.fails("share", "reject", inv); !strings.Contains(msg, "Exception") {
		t.Fatalf("reject after accept: %s", msg)
	}
	got := items(t, c.ok("share", "list", "--owner", "other"), "resourceShares")
	if len(got) != 1 || got[0]["resourceShareArn"] != shareArn || got[0]["owningAccountId"] != owner {
		t.Fatalf("shares with the consumer: %v", got)
	}
	if got := str(t, c.ok("share", "get", shareArn), "name"); got != "net-share-2" {
		t.Fatalf("consumer get: %s", got)
	}
	if out := c.text("share", "resources", "--owner", "other", "--output", "table"); !strings.Contains(out, snArn) || strings.Contains(out, other) {
		t.Fatalf("consumer resources:\n%s", out)
	}
	if out := c.text("sn", "list"); !strings.Contains(out, snArn) || strings.Contains(out, other) {
		t.Fatalf("consumer's directory:\n%s", out)
	}
	if msg := c.fails("share", "delete", shareArn); !strings.Contains(msg, "Exception") {
		t.Fatalf("the consumer deletes the owner's share: %s", msg)
	}

	// The owner removes the consumer, then deletes the share.
	t.Setenv(envAccessKeyID, c.srv.AccessKeyID)
	t.Setenv(envSecretAccessKey, c.srv.SecretAccessKey)
	if out := c.text("share", "principals", "--output", "table"); !strings.Contains(out, consumer) {
		t.Fatalf("share principals:\n%s", out)
	}
	c.ok("share", "disassociate", shareArn, "--principal", consumer)
	c.ok("share", "delete", shareArn)
	t.Setenv(envAccessKeyID, str(t, key, "accessKeyId"))
	t.Setenv(envSecretAccessKey, str(t, key, "secretAccessKey"))
	if out := c.text("sn", "list"); strings.Contains(out, snArn) {
		t.Fatalf("consumer still lists the network after the share went:\n%s", out)
	}
}

// items returns the objects of the array under key.
func items(t *testing.T, m map[string]any, key string) []map[string]any {
	t.Helper()
	raw, err := json.Marshal(m[key])
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v in %v", key, err, m)
	}
	return out
}
