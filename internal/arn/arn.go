// Package arn parses and builds Amazon Resource Names and the resource IDs of
// VPC Lattice. It is a leaf package: it imports nothing from Trellis.
package arn

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
)

// ARN is a parsed Amazon Resource Name:
// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Resource  string
}

// ErrMalformed is returned (wrapped) for strings that are not ARNs.
var ErrMalformed = errors.New("malformed ARN")

// Parse splits an ARN into its parts. It checks the syntax only: six
// colon-separated sections, the literal "arn" first, and non-empty partition,
// service and resource.
func Parse(s string) (ARN, error) {
	if len(s) > 2048 {
		return ARN{}, ErrMalformed
	}
	if !strings.HasPrefix(s, "arn:") {
		return ARN{}, ErrMalformed
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 {
		return ARN{}, ErrMalformed
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}
	if a.Partition == "" || a.Service == "" || a.Resource == "" {
		return ARN{}, ErrMalformed
	}
	return a, nil
}

// String formats the ARN.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// Kind is a VPC Lattice resource kind: its ID prefix and the word used for it
// in ARNs.
type Kind struct {
	Prefix       string // ID prefix without the hyphen, e.g. "svc"
	ResourceType string // ARN resource type, e.g. "service"
}

// The VPC Lattice resource kinds (reference §1.1).
var (
	ServiceNetwork                   = Kind{"sn", "servicenetwork"}
	Service                          = Kind{"svc", "service"}
	Listener                         = Kind{"listener", "listener"}
	Rule                             = Kind{"rule", "rule"}
	TargetGroup                      = Kind{"tg", "targetgroup"}
	ServiceNetworkServiceAssociation = Kind{"snsa", "servicenetworkserviceassociation"}
	ServiceNetworkVpcAssociation     = Kind{"snva", "servicenetworkvpcassociation"}
	AccessLogSubscription            = Kind{"als", "accesslogsubscription"}
	ResourceGateway                  = Kind{"rgw", "resourcegateway"}
	ResourceConfiguration            = Kind{"rcfg", "resourceconfiguration"}
	// Reference §1: snra- and dv- IDs are hexadecimal, which NewID makes.
	ServiceNetworkResourceAssociation = Kind{"snra", "servicenetworkresourceassociation"}
	DomainVerification                = Kind{"dv", "domainverification"}
)

var kinds = []Kind{ServiceNetwork, Service, Listener, Rule, TargetGroup,
	ServiceNetworkServiceAssociation, ServiceNetworkVpcAssociation, AccessLogSubscription,
	ResourceGateway, ResourceConfiguration, ServiceNetworkResourceAssociation, DomainVerification}

// IDLen is the number of characters after the prefix's hyphen.
const IDLen = 17

// NewID returns prefix-<17 lowercase hex characters> from a
// cryptographically random source.
func NewID(k Kind) string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("arn: crypto/rand failed: " + err.Error())
	}
	return k.Prefix + "-" + hex.EncodeToString(b[:])[:IDLen]
}

// ValidID reports whether id has the form prefix-[0-9a-z]{17}.
func ValidID(k Kind, id string) bool {
	if len(id) != len(k.Prefix)+1+IDLen || !strings.HasPrefix(id, k.Prefix) || id[len(k.Prefix)] != '-' {
		return false
	}
	for i := len(k.Prefix) + 1; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// Ref names one Lattice resource found in an ARN: its kind, its ID and, for
// listeners and rules, the IDs of its parents.
type Ref struct {
	ARN        ARN
	Kind       Kind
	ID         string
	ServiceID  string // listeners and rules
	ListenerID string // rules
}

// ParseLattice parses a vpc-lattice ARN and identifies the resource in it.
func ParseLattice(s string) (Ref, error) {
	a, err := Parse(s)
	if err != nil {
		return Ref{}, err
	}
	if a.Service != "vpc-lattice" || !validAccount(a.Account) || a.Region == "" {
		return Ref{}, ErrMalformed
	}
	segs := strings.Split(a.Resource, "/")
	ref := Ref{ARN: a}
	switch {
	case len(segs) == 2:
		for _, k := range kinds {
			if k.ResourceType == segs[0] && k != Listener && k != Rule && ValidID(k, segs[1]) {
				ref.Kind, ref.ID = k, segs[1]
				return ref, nil
			}
		}
	case len(segs) == 4 && segs[0] == "service" && segs[2] == "listener" &&
		ValidID(Service, segs[1]) && ValidID(Listener, segs[3]):
		ref.Kind, ref.ID, ref.ServiceID = Listener, segs[3], segs[1]
		return ref, nil
	case len(segs) == 6 && segs[0] == "service" && segs[2] == "listener" && segs[4] == "rule" &&
		ValidID(Service, segs[1]) && ValidID(Listener, segs[3]) && ValidID(Rule, segs[5]):
		ref.Kind, ref.ID, ref.ServiceID, ref.ListenerID = Rule, segs[5], segs[1], segs[3]
		return ref, nil
	}
	return Ref{}, ErrMalformed
}

func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidAccount reports whether s is a 12-digit AWS account ID.
func ValidAccount(s string) bool { return validAccount(s) }

// Lattice builds the ARN of a Lattice resource.
func Lattice(partition, region, account, resource string) string {
	return ARN{Partition: partition, Service: "vpc-lattice", Region: region, Account: account, Resource: resource}.String()
}
