package cli

import (
	"regexp"
	"strings"
	"testing"
)

func TestCLIInstancesAndLoadBalancers(t *testing.T) {
	c := startCLI(t)
	const vpc = "vpc-0000000000000000a"
	if msg := c.fails("instance", "put", "i-0123456789abcdef0", "--vpc", vpc, "--private-ip", "10.0.1.500"); !strings.Contains(msg, "privateIpAddress") {
		t.Fatalf("a bad address: %s", msg)
	}
	i := c.ok("instance", "put", "i-0123456789abcdef0", "--vpc", vpc, "--private-ip", "10.0.1.5")
	if str(t, i, "state") != "running" || str(t, i, "privateIpAddress") != "10.0.1.5" {
		t.Fatalf("put: %v", i)
	}
	if i = c.ok("instances", "put", "i-0123456789abcdef0", "--vpc", vpc, "--private-ip", "10.0.1.5", "--state", "stopped"); str(t, i, "state") != "stopped" {
		t.Fatalf("stop: %v", i)
	}
	c.ok("instance", "put", "i-0123abcd", "--input-json", `{"vpcId":"`+vpc+`","privateIpAddress":"10.0.1.6"}`)
	if got := str(t, c.ok("instance", "get", "i-0123abcd"), "privateIpAddress"); got != "10.0.1.6" {
		t.Fatalf("get: %s", got)
	}
	if table := c.text("instance", "list", "--vpc", vpc, "--output", "table"); !strings.Contains(table, "i-0123abcd") || !strings.Contains(table, "INSTANCE ID") ||
		!strings.Contains(table, "stopped") {
		t.Fatalf("list table:\n%s", table)
	}
	if msg := c.fails("instance", "put", "i-0123abcd", "--vpc", vpc, "--private-ip", "10.0.1.6", "--state", "asleep"); !strings.Contains(msg, "state") {
		t.Fatalf("bad state: %s", msg)
	}
	if msg := c.fails("instance", "put", "i-0123abcd", "--vpc", vpc); !strings.Contains(msg, "--private-ip") {
		t.Fatalf("missing --private-ip: %s", msg)
	}
	c.text("instance", "delete", "i-0123abcd")
	if msg := c.fails("instance", "get", "i-0123abcd"); !strings.Contains(msg, "ResourceNotFoundException") {
		t.Fatalf("get after delete: %s", msg)
	}

	lb := c.ok("load-balancer", "put", "web", "--vpc", vpc, "--listener", "HTTP:80=10.0.1.9:8080,10.0.1.10:8080",
		"--listener", "https:443=[2001:db8::9]:8443")
	arn := str(t, lb, "loadBalancerArn")
	if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/app/web/[0-9a-f]{16}$`).MatchString(arn) ||
		str(t, lb, "listeners.0.addresses.1") != "10.0.1.10:8080" || str(t, lb, "listeners.1.protocol") != "HTTPS" ||
		str(t, lb, "listeners.1.addresses.0") != "[2001:db8::9]:8443" {
		t.Fatalf("put: %v", lb)
	}
	lb = c.ok("lb", "put", "web", "--input-json", `{"vpcId":"`+vpc+`","listeners":[{"port":81,"protocol":"HTTP","addresses":["10.0.1.9:81"]}]}`)
	if str(t, lb, "loadBalancerArn") != arn || str(t, lb, "listeners.0.addresses.0") != "10.0.1.9:81" {
		t.Fatalf("replace: %v", lb)
	}
	if table := c.text("load-balancer", "list", "--output", "table"); !strings.Contains(table, arn) {
		t.Fatalf("list table:\n%s", table)
	}
	if msg := c.fails("load-balancer", "put", "web", "--vpc", vpc, "--listener", "HTTP:80=10.0.1.9"); !strings.Contains(msg, "listeners[0].addresses[0]") {
		t.Fatalf("bad address: %s", msg)
	}
	for _, bad := range []string{"HTTP80=10.0.0.1:80", "HTTP:http=10.0.0.1:80", "HTTP:80"} {
		if msg := c.fails("load-balancer", "put", "web", "--vpc", vpc, "--listener", bad); !strings.Contains(msg, "--listener") {
			t.Fatalf("--listener %s: %s", bad, msg)
		}
	}
	c.text("load-balancer", "delete", "web")
	if msg := c.fails("load-balancer", "get", "web"); !strings.Contains(msg, "ResourceNotFoundException") {
		t.Fatalf("get after delete: %s", msg)
	}
}
