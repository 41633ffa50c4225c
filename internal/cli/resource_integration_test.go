package cli

import (
	"strings"
	"testing"
)

// TestCLIResources drives resource gateways, resource configurations,
// service-network resource associations and domain verification through
// the CLI against a real server, names standing for IDs throughout.
func TestCLIResources(t *testing.T) {
	c := startCLI(t)
	const vpc, sg = "vpc-0000000000000000a", "sg-0000000000000000a"
	c.ok("vpc", "put", vpc)
	c.ok("security-group", "put", sg, "--vpc", vpc, "--ingress", "tcp:5432:10.0.0.0/8")

	// A gateway; a refusal shows the server's message naming the field.
	if msg := c.fails("resource-gateway", "create", "--name", "gw-x", "--vpc", "vpc-0000000000000000f"); !strings.Contains(msg, "ValidationException") || !strings.Contains(msg, "declare it first") {
		t.Fatalf("undeclared VPC: %s", msg)
	}
	gw := c.ok("resource-gateway", "create", "--name", "db-gw", "--vpc", vpc, "--subnet", "subnet-0123456789abcdef0",
		"--subnet", "subnet-01234567", "--ip-address-type", "ipv4", "--ipv4-addresses-per-eni", "8", "--tag", "team=db")
	gwID := str(t, gw, "id")
	if !strings.HasPrefix(gwID, "rgw-") || sub(t, gw, "subnetIds") != `["subnet-0123456789abcdef0","subnet-01234567"]` ||
		str(t, gw, "ipAddressType") != "IPV4" || sub(t, gw, "ipv4AddressesPerEni") != "8" {
		t.Fatalf("gateway create: %v", gw)
	}
	if got := str(t, c.ok("resource-gateway", "get", "db-gw"), "id"); got != gwID {
		t.Fatalf("get by name: %s", got)
	}
	upd := c.ok("rgw", "update", "db-gw", "--security-group", sg)
	if sub(t, upd, "securityGroupIds") != `["`+sg+`"]` {
		t.Fatalf("update: %v", upd)
	}
	if table := c.text("resource-gateway", "list", "--output", "table"); !strings.Contains(table, "db-gw") || !strings.Contains(table, vpc) || !strings.Contains(table, sg) {
		t.Fatalf("gateway list:\n%s", table)
	}

	// A SINGLE configuration by DNS name, through the gateway's name.
	single := c.ok("resource-configuration", "create", "--name", "db-main", "--type", "single", "--resource-gateway", "db-gw",
		"--port-range", "5432", "--port-range", "6000-6010", "--dns-name", "db.internal.example", "--ip-address-type", "IPV4")
	singleID := str(t, single, "id")
	if str(t, single, "resourceGatewayId") != gwID || str(t, single, "resourceConfigurationDefinition.dnsResource.domainName") != "db.internal.example" ||
		sub(t, single, "portRanges") != `["5432","6000-6010"]` || str(t, single, "type") != "SINGLE" {
		t.Fatalf("single: %v", single)
	}
	// Only one definition; --ip-address-type only with --dns-name: refused before any request.
	if msg := c.fails("rcfg", "create", "--name", "x", "--type", "SINGLE", "--ip", "10.0.0.1", "--dns-name", "a.example"); !strings.Contains(msg, "only one of") {
		t.Fatalf("two definitions: %s", msg)
	}
	if msg := c.fails("rcfg", "create", "--name", "x", "--type", "SINGLE", "--ip", "10.0.0.1", "--ip-address-type", "IPV4"); !strings.Contains(msg, "--ip-address-type goes with --dns-name") {
		t.Fatalf("ip-address-type without dns-name: %s", msg)
	}
	// A refusal of the server, naming the member.
	if msg := c.fails("rcfg", "create", "--name", "bad", "--type", "SINGLE", "--resource-gateway", "db-gw", "--port-range", "70000", "--ip", "10.0.0.1"); !strings.Contains(msg, "ValidationException") || !strings.Contains(msg, "portRanges") {
		t.Fatalf("bad port range: %s", msg)
	}
	updated := c.ok("rcfg", "update", "db-main", "--ip", "10.0.0.9", "--allow-association-to-shareable-service-network=false")
	if str(t, updated, "resourceConfigurationDefinition.ipResource.ipAddress") != "10.0.0.9" ||
		sub(t, updated, "allowAssociationToShareableServiceNetwork") != "false" {
		t.Fatalf("update: %v", updated)
	}

	// A GROUP and its CHILD (named by the group's name).
	group := c.ok("rcfg", "create", "--name", "db-group", "--type", "GROUP", "--resource-gateway", gwID, "--port-range", "5432")
	groupID := str(t, group, "id")
	child := c.ok("rcfg", "create", "--name", "db-1", "--type", "CHILD", "--group", "db-group", "--ip", "10.0.0.5")
	childID := str(t, child, "id")
	if str(t, child, "resourceConfigurationGroupId") != groupID {
		t.Fatalf("child: %v", child)
	}
	kids := items(t, c.ok("rcfg", "list", "--group", "db-group"), "items")
	if len(kids) != 1 || kids[0]["id"] != childID {
		t.Fatalf("list --group: %v", kids)
	}
	if n := len(items(t, c.ok("rcfg", "list", "--resource-gateway", "db-gw"), "items")); n != 3 {
		t.Fatalf("list --resource-gateway: %d items, want the SINGLE, the GROUP and its CHILD (on its group's gateway)", n)
	}
	if table := c.text("rcfg", "list", "--output", "table"); !strings.Contains(table, "db-1") || !strings.Contains(table, "CHILD") || !strings.Contains(table, groupID) {
		t.Fatalf("configuration list:\n%s", table)
	}

	// Associate the GROUP with a network (private DNS); list with children.
	c.ok("sn", "create", "--name", "prod", "--sharing-enabled=false")
	a := c.ok("snra", "create", "--service-network", "prod", "--resource-configuration", "db-group", "--private-dns-enabled")
	aID := str(t, a, "id")
	if msg := c.fails("snra", "create", "--service-network", "prod", "--resource-configuration", "db-group"); !strings.Contains(msg, "ConflictException") {
		t.Fatalf("second association: %s", msg)
	}
	if got := str(t, c.ok("snra", "get", aID), "resourceConfigurationId"); got != groupID {
		t.Fatalf("get: %s", got)
	}
	plain := items(t, c.ok("snra", "list", "--service-network", "prod"), "items")
	withKids := items(t, c.ok("snra", "list", "--service-network", "prod", "--include-children"), "items")
	if len(plain) != 1 || len(withKids) != 2 || withKids[1]["resourceConfigurationId"] != childID || withKids[1]["isManagedAssociation"] != true {
		t.Fatalf("list: %v\nwith children: %v", plain, withKids)
	}
	if table := c.text("snra", "list", "--resource-configuration", "db-group", "--include-children", "--output", "table"); !strings.Contains(table, "db-1") || !strings.Contains(table, "MANAGED") {
		t.Fatalf("association table:\n%s", table)
	}
	if msg := c.fails("rcfg", "delete", "db-group"); !strings.Contains(msg, "ConflictException") {
		t.Fatalf("delete an associated group: %s", msg)
	}
	c.text("snra", "delete", aID)
	c.text("rcfg", "delete", "db-1")
	c.text("rcfg", "delete", "db-group")
	if msg := c.fails("rgw", "delete", "db-gw"); !strings.Contains(msg, "ConflictException") {
		t.Fatalf("delete a used gateway: %s", msg)
	}
	c.text("rcfg", "delete", singleID)
	c.text("rgw", "delete", "db-gw")
	if msg := c.fails("rgw", "get", gwID); !strings.Contains(msg, "ResourceNotFoundException") {
		t.Fatalf("get after delete: %s", msg)
	}
}

// TestCLIDomainVerification starts a verification (printing the TXT record),
// has the owner's verify refused without a resolver, and the administrator's
// mark it VERIFIED; a configuration then names it by its domain.
func TestCLIDomainVerification(t *testing.T) {
	c := startCLI(t)
	const other = "444455556666"
	c.ok("account", "put", other, "--name", "other")
	key := c.ok("access-key", "create", "--account", other)
	admin := [2]string{c.srv.AccessKeyID, c.srv.SecretAccessKey}

	// The owner (not the administrator) starts one.
	t.Setenv(envAccessKeyID, str(t, key, "accessKeyId"))
	t.Setenv(envSecretAccessKey, str(t, key, "secretAccessKey"))
	res := c.exec("domain-verification", "start", "Example.COM", "--tag", "k=v")
	if res.err != nil {
		t.Fatalf("start: %v\n%s", res.err, res.stderr)
	}
	dv := c.ok("dv", "get", "example.com")
	id, txtName, txtValue := str(t, dv, "id"), str(t, dv, "txtMethodConfig.name"), str(t, dv, "txtMethodConfig.value")
	if str(t, dv, "status") != "PENDING" || str(t, dv, "domainName") != "example.com" || txtName != "_trellis-verification.example.com" {
		t.Fatalf("get: %v", dv)
	}
	if want := txtName + `. TXT "` + txtValue + `"`; !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, id) {
		t.Fatalf("start does not print the record %q:\n%s", want, res.stderr)
	}
	if table := c.text("dv", "list", "--output", "table"); !strings.Contains(table, txtValue) || !strings.Contains(table, "PENDING") {
		t.Fatalf("list table:\n%s", table)
	}
	// The owner's verify asks DNS: no resolver configured, the server says so.
	if msg := c.fails("domain-verification", "verify", "example.com"); !strings.Contains(msg, "ValidationException") {
		t.Fatalf("owner's verify without a resolver: %s", msg)
	}
	if msg := c.fails("dv", "verify", "nothing.example"); !strings.Contains(msg, `no domain verification named "nothing.example"`) {
		t.Fatalf("unknown domain: %s", msg)
	}

	// The administrator marks it VERIFIED by ID (it is another account's).
	t.Setenv(envAccessKeyID, admin[0])
	t.Setenv(envSecretAccessKey, admin[1])
	v := c.ok("domain-verification", "verify", id)
	if str(t, v, "status") != "VERIFIED" || str(t, v, "lastVerifiedTime") == "" {
		t.Fatalf("admin's verify: %v", v)
	}

	// The owner's configuration names it by its domain; delete is then refused.
	t.Setenv(envAccessKeyID, str(t, key, "accessKeyId"))
	t.Setenv(envSecretAccessKey, str(t, key, "secretAccessKey"))
	if got := str(t, c.ok("dv", "get", id), "status"); got != "VERIFIED" {
		t.Fatalf("owner's get after verify: %s", got)
	}
	c.ok("vpc", "put", "vpc-0000000000000000b")
	c.ok("rgw", "create", "--name", "gw-b", "--vpc", "vpc-0000000000000000b")
	rc := c.ok("rcfg", "create", "--name", "api", "--type", "SINGLE", "--resource-gateway", "gw-b", "--port-range", "443",
		"--dns-name", "api.internal.example", "--custom-domain-name", "api.example.com", "--domain-verification", "example.com")
	if str(t, rc, "domainVerificationId") != id {
		t.Fatalf("configuration: %v", rc)
	}
	if n := len(items(t, c.ok("rcfg", "list", "--domain-verification", "example.com"), "items")); n != 1 {
		t.Fatalf("list --domain-verification: %d", n)
	}
	if msg := c.fails("dv", "delete", "example.com"); !strings.Contains(msg, "ConflictException") {
		t.Fatalf("delete while named: %s", msg)
	}
	c.text("rcfg", "delete", "api")
	c.text("dv", "delete", "example.com")
	if n := len(items(t, c.ok("dv", "list"), "items")); n != 0 {
		t.Fatalf("list after delete: %d", n)
	}
}
