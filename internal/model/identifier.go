package model

import (
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
)

// Identifiers. Every `…Identifier` member of the Lattice API takes the ID or
// the ARN of one kind of resource; the API model's patterns are, for a
// service, `svc-[0-9a-z]{17}` or
// `arn:[a-z0-9\-]+:vpc-lattice:[a-zA-Z0-9\-]+:\d{12}:service/svc-[0-9a-z]{17}`
// (reference §1.1). These functions accept exactly that: real IDs are
// lowercase hexadecimal, but the model allows any lowercase letter.
//
// An invalid identifier is reported on its own, before any other member of
// the request is looked at (Validator.Identifier): a request naming nothing
// that can exist is answered for what it names, not for its other members.

// kindWords names each kind in messages, with its article.
var kindWords = map[arn.Kind]string{
	arn.ServiceNetwork: "a service network", arn.Service: "a service", arn.Listener: "a listener", arn.Rule: "a rule",
	arn.TargetGroup: "a target group", arn.ServiceNetworkServiceAssociation: "a service network service association",
	arn.ServiceNetworkVpcAssociation: "a service network VPC association", arn.AccessLogSubscription: "an access log subscription",
}

// idSyntax describes the ID syntax of kind for messages.
func idSyntax(kind arn.Kind) string {
	return kind.Prefix + "- followed by 17 lowercase letters or digits"
}

// ParseIdentifier parses an ID-or-ARN identifier of kind. A malformed one is
// a ValidationException naming field that says what is accepted.
func ParseIdentifier(kind arn.Kind, field, ident string) (arn.Ref, error) {
	if ident == "" {
		return arn.Ref{}, Invalid(field, "%s is required", field)
	}
	if strings.HasPrefix(ident, "arn:") {
		if ref, err := ParseLatticeARN(ident); err == nil && ref.Kind == kind {
			return ref, nil
		}
	} else if arn.ValidID(kind, ident) {
		return arn.Ref{Kind: kind, ID: ident}, nil
	}
	return arn.Ref{}, Invalid(field, "%s must be the ID or ARN of %s (an ID is %s)", field, kindWords[kind], idSyntax(kind))
}

// ParseLatticeARN parses the ARN of a Lattice resource as the API model's
// ARN patterns have it: the partition is [a-z0-9-]+ and the region
// [a-zA-Z0-9-]+ (arn.ParseLattice checks the rest).
func ParseLatticeARN(s string) (arn.Ref, error) {
	ref, err := arn.ParseLattice(s)
	if err != nil {
		return arn.Ref{}, err
	}
	if !charsIn(ref.ARN.Partition, false) || !charsIn(ref.ARN.Region, true) {
		return arn.Ref{}, arn.ErrMalformed
	}
	return ref, nil
}

func charsIn(s string, upper bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && (!upper || c < 'A' || c > 'Z') {
			return false
		}
	}
	return s != ""
}

// ParsePolicyOwner parses the identifier of a service network or a service,
// the kinds that carry auth and resource policies and access log
// subscriptions: their ID or ARN, or only their ARN when arnOnly (the
// resourceArn of the resource policy operations).
func ParsePolicyOwner(field, ident string, arnOnly bool) (arn.Ref, error) {
	if ident == "" {
		return arn.Ref{}, Invalid(field, "%s is required", field)
	}
	if strings.HasPrefix(ident, "arn:") {
		ref, err := ParseLatticeARN(ident)
		if err == nil && (ref.Kind == arn.ServiceNetwork || ref.Kind == arn.Service) {
			return ref, nil
		}
	} else if !arnOnly {
		for _, k := range []arn.Kind{arn.ServiceNetwork, arn.Service} {
			if arn.ValidID(k, ident) {
				return arn.Ref{Kind: k, ID: ident}, nil
			}
		}
	}
	if arnOnly {
		return arn.Ref{}, Invalid(field, "%s must be the ARN of a service network or a service", field)
	}
	return arn.Ref{}, Invalid(field, "%s must be the ID or ARN of a service network or a service (an ID is %s or %s)",
		field, idSyntax(arn.ServiceNetwork), idSyntax(arn.Service))
}

// identifierKinds are the members that name one kind of Lattice resource.
var identifierKinds = map[string]arn.Kind{
	"serviceNetworkIdentifier":                    arn.ServiceNetwork,
	"serviceIdentifier":                           arn.Service,
	"listenerIdentifier":                          arn.Listener,
	"ruleIdentifier":                              arn.Rule,
	"targetGroupIdentifier":                       arn.TargetGroup,
	"serviceNetworkServiceAssociationIdentifier":  arn.ServiceNetworkServiceAssociation,
	"serviceNetworkVpcAssociationIdentifier":      arn.ServiceNetworkVpcAssociation,
	"accessLogSubscriptionIdentifier":             arn.AccessLogSubscription,
	"resourceGatewayIdentifier":                   arn.ResourceGateway,
	"resourceConfigurationIdentifier":             arn.ResourceConfiguration,
	"resourceConfigurationGroupIdentifier":        arn.ResourceConfiguration,
	"serviceNetworkResourceAssociationIdentifier": arn.ServiceNetworkResourceAssociation,
	"domainVerificationIdentifier":                arn.DomainVerification,
}

// CheckIdentifierMember checks the syntax of the identifier member named
// member (its wire name, which has one meaning in every operation that
// carries it): an error for a malformed value, nil for a valid one or for a
// member that is not an identifier. "resourceArn" is checked as the ARN of
// any Lattice resource (what the tagging operations take); operations that
// take fewer kinds check more themselves.
func CheckIdentifierMember(member, value string) error {
	if value == "" {
		switch member {
		case "resourceIdentifier", "resourceArn", "vpcIdentifier":
			return Invalid(member, "%s is required", member)
		}
	}
	if kind, ok := identifierKinds[member]; ok {
		_, err := ParseIdentifier(kind, member, value)
		return err
	}
	switch member {
	case "resourceIdentifier":
		_, err := ParsePolicyOwner(member, value, false)
		return err
	case "resourceArn":
		if _, err := ParseLatticeARN(value); err != nil || len(value) > 1224 {
			return Invalid(member, "%s must be the ARN of a VPC Lattice resource", member)
		}
	case "vpcIdentifier":
		if !ValidVpcID(value) {
			return Invalid(member, "%s must be a VPC ID: vpc- followed by 8 or 17 lowercase letters and digits", member)
		}
	}
	return nil
}
