package cluster

import (
	"fmt"
	"strings"
)

// Roles are what a node runs (serve --roles).
type Roles struct {
	// API serves the control-plane API and its native endpoints, and
	// stands in the elections of once-only work (canaries, the sweeper).
	API bool
	// Dataplane runs the ingress, the proxy, DNS, the VPC namespaces, the
	// function host and the access logs.
	Dataplane bool
	// Health runs the health checker and publishes its statuses.
	Health bool
}

// Role names, as --roles takes them.
const (
	RoleAPI       = "api"
	RoleDataplane = "dataplane"
	RoleHealth    = "health"
)

// AllRoles is the default: everything, as one node on the embedded store.
var AllRoles = Roles{API: true, Dataplane: true, Health: true}

// ParseRoles reads a comma-separated list of roles (api, dataplane,
// health), each at most once; an unknown or repeated role, or none, is an
// error naming the --roles flag.
func ParseRoles(s string) (Roles, error) {
	var r Roles
	n := 0
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var p *bool
		switch f {
		case RoleAPI:
			p = &r.API
		case RoleDataplane:
			p = &r.Dataplane
		case RoleHealth:
			p = &r.Health
		case "":
			continue
		default:
			return Roles{}, fmt.Errorf("--roles: unknown role %q: want a comma-separated list of api, dataplane, health", printable(f))
		}
		if *p {
			return Roles{}, fmt.Errorf("--roles: role %q given twice", f)
		}
		*p = true
		n++
	}
	if n == 0 {
		return Roles{}, fmt.Errorf("--roles: want one or more of api, dataplane, health")
	}
	return r, nil
}

// All reports whether r is every role.
func (r Roles) All() bool { return r == AllRoles }

// String is the --roles form of r ("api,dataplane,health").
func (r Roles) String() string {
	var s []string
	if r.API {
		s = append(s, RoleAPI)
	}
	if r.Dataplane {
		s = append(s, RoleDataplane)
	}
	if r.Health {
		s = append(s, RoleHealth)
	}
	return strings.Join(s, ",")
}

// printable quotes at most 40 bytes of s for an error message, so that a
// long or binary argument does not flood the terminal (%q escapes the rest).
func printable(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
