package model

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Security group limits. AWS's default quota is 60 inbound rules per group
// (EC2 "Inbound or outbound rules per security group"); a description is at
// most 255 characters (EC2 IpRange.Description).
const (
	MaxSecurityGroupRules  = 60
	MaxSecurityGroupDescr  = 255
	SecurityGroupProtoTCP  = "tcp"
	SecurityGroupProtoAll  = "all"
	securityGroupProtoAWS1 = "-1" // how EC2 spells "all protocols"
)

// TypeSecurityGroup is the resource type of security groups in errors.
const TypeSecurityGroup = "SECURITY_GROUP"

// SecurityGroup is a Trellis-native security group: inbound rules in a VPC.
// The groups named by a service-network VPC association gate every
// connection from that VPC (docs/security-groups.md). It belongs to its
// VPC's owner account.
type SecurityGroup struct {
	ID          string              `json:"securityGroupId"`
	ARN         string              `json:"arn"`
	Account     string              `json:"account"`
	VpcID       string              `json:"vpcId"`
	Description string              `json:"description,omitempty"`
	Ingress     []SecurityGroupRule `json:"ingress"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
}

// SecurityGroupRule is one inbound rule: connections of Protocol from an
// address in CIDR to a port in [FromPort, ToPort] are admitted. For
// protocol "all" the ports are 0 (every port).
type SecurityGroupRule struct {
	Protocol    string `json:"protocol"`
	FromPort    int    `json:"fromPort,omitempty"`
	ToPort      int    `json:"toPort,omitempty"`
	CIDR        string `json:"cidr"`
	Description string `json:"description,omitempty"`
}

// SecurityGroupRuleInput is a rule as a request carries it: the ports are
// pointers so that an absent port is told from 0.
type SecurityGroupRuleInput struct {
	Protocol    string
	FromPort    *int
	ToPort      *int
	CIDR        string
	Description string
}

// CheckSecurityGroupRules validates the inbound rules of a security group
// and returns them normalised (protocol lowercased, "-1" as "all"). Every
// error names its field, e.g. ingress[0].cidr.
func CheckSecurityGroupRules(v *Validator, field string, in []SecurityGroupRuleInput) []SecurityGroupRule {
	if len(in) > MaxSecurityGroupRules {
		v.Addf(field, "%s must have at most %d rules", field, MaxSecurityGroupRules)
		return nil
	}
	out := make([]SecurityGroupRule, 0, len(in))
	for i, r := range in {
		f := field + "[" + strconv.Itoa(i) + "]"
		var n SecurityGroupRule
		switch p := strings.ToLower(r.Protocol); p {
		case SecurityGroupProtoTCP:
			n.Protocol = p
			from, to := r.FromPort, r.ToPort
			switch {
			case from == nil:
				v.Addf(f+".fromPort", "%s.fromPort is required for protocol tcp", f)
			case *from < 1 || *from > 65535:
				v.Addf(f+".fromPort", "%s.fromPort must be between 1 and 65535", f)
			}
			switch {
			case to == nil:
				v.Addf(f+".toPort", "%s.toPort is required for protocol tcp", f)
			case *to < 1 || *to > 65535:
				v.Addf(f+".toPort", "%s.toPort must be between 1 and 65535", f)
			}
			if from != nil && to != nil {
				if *from > *to {
					v.Addf(f+".toPort", "%s.toPort must not be below fromPort", f)
				}
				n.FromPort, n.ToPort = *from, *to
			}
		case SecurityGroupProtoAll, securityGroupProtoAWS1:
			n.Protocol = SecurityGroupProtoAll
			if r.FromPort != nil || r.ToPort != nil {
				v.Addf(f+".fromPort", "%s: fromPort and toPort must be absent for protocol all (it admits every port)", f)
			}
		case "":
			v.Addf(f+".protocol", "%s.protocol is required: tcp or all", f)
		default:
			v.Addf(f+".protocol", "%s.protocol must be tcp or all (-1)", f)
		}
		p, err := netip.ParsePrefix(r.CIDR)
		switch {
		case r.CIDR == "":
			v.Addf(f+".cidr", "%s.cidr is required: an IPv4 or IPv6 CIDR block", f)
		case err != nil:
			v.Addf(f+".cidr", "%s.cidr must be an IPv4 or IPv6 CIDR block such as 10.0.1.7/32", f)
		case p.Addr().Is4In6():
			// A source address is matched unmapped; a mapped block would never match.
			v.Addf(f+".cidr", "%s.cidr must write an IPv4 block in IPv4 form", f)
		case p.Masked() != p:
			v.Addf(f+".cidr", "%s.cidr has bits set past its prefix length; did you mean %s?", f, p.Masked())
		default:
			n.CIDR = p.String()
		}
		CheckSecurityGroupDescription(v, f+".description", r.Description)
		n.Description = r.Description
		out = append(out, n)
	}
	return out
}

// CheckSecurityGroupDescription validates a description: at most 255
// printable ASCII characters. It may reach logs and the console, so nothing
// that could break a line or a terminal is stored.
func CheckSecurityGroupDescription(v *Validator, field, s string) {
	if len(s) > MaxSecurityGroupDescr {
		v.Addf(field, "%s must be at most %d characters long", field, MaxSecurityGroupDescr)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			v.Addf(field, "%s may contain only printable ASCII characters", field)
			return
		}
	}
}
