package snapshot

import (
	"fmt"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
)

// Private DNS preferences of a VPC association (reference: DnsOptions
// privateDnsPreference).
const (
	PrivateDNSVerifiedOnly         = "VERIFIED_DOMAINS_ONLY"
	PrivateDNSAll                  = "ALL_DOMAINS"
	PrivateDNSVerifiedAndSpecified = "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS"
	PrivateDNSSpecifiedOnly        = "SPECIFIED_DOMAINS_ONLY"
	// DefaultPrivateDNSPreference applies when a VPC association has no
	// dnsOptions or no privateDnsPreference (admitName).
	DefaultPrivateDNSPreference = PrivateDNSVerifiedOnly
)

// Withheld is a resource configuration's custom name that a VPC reaches
// but does not answer, because its VPC association's private DNS settings
// do not admit it; Reason says why (`trellis dns lookup`).
type Withheld struct {
	ConfigurationID string
	Reason          string
}

// verification says whether a VERIFIED domain verification of the
// configuration's owner covers name: the one named by verifier (the
// configuration itself, or a CHILD's GROUP), whose domain is name or a
// parent of it. It returns "" when one does, else why not. A configuration
// shared through RAM belongs to another account, so only a domain its owner
// proved it controls lets it claim a name in a consumer's VPC (Lattice's
// defence against a cross-account DNS hijack).
func verification(dvs map[string]*model.DomainVerification, cfg, verifier *model.ResourceConfiguration, name string) string {
	id := verifier.DomainVerificationID
	if id == "" {
		return fmt.Sprintf("resource configuration %s names no domain verification", verifier.ID)
	}
	dv := dvs[id]
	switch {
	case dv == nil:
		return fmt.Sprintf("its domain verification %s does not exist", id)
	case dv.Account != cfg.Account || dv.Account != verifier.Account:
		return fmt.Sprintf("its domain verification %s is another account's", id)
	case dv.Status != model.VerificationVerified:
		return fmt.Sprintf("its domain verification %s (%s) is %s, not VERIFIED", id, strings.ToLower(dv.DomainName), dv.Status)
	case !underDomain(strings.TrimPrefix(name, "*."), strings.ToLower(dv.DomainName)):
		return fmt.Sprintf("its domain verification %s is for %s, which does not cover it", id, strings.ToLower(dv.DomainName))
	}
	return ""
}

// underDomain reports whether name (lowercased, not fully qualified) is
// domain or below it.
func underDomain(name, domain string) bool {
	if domain == "" {
		return false
	}
	return name == domain || strings.HasSuffix(name, "."+domain)
}

// specifiedMatch reports whether name matches one of a VPC association's
// privateDnsSpecifiedDomains: an entry matches the name exactly, or as
// `*.suffix` any name strictly under suffix (not suffix itself, as a DNS
// wildcard, RFC 4592). Case-insensitive.
func specifiedMatch(specified []string, name string) bool {
	for _, s := range specified {
		s = strings.ToLower(strings.TrimSuffix(s, "."))
		if suffix, ok := strings.CutPrefix(s, "*."); ok {
			if strings.HasSuffix(name, "."+suffix) {
				return true
			}
		} else if name == s {
			return true
		}
	}
	return false
}

// admitName decides whether the client VPC of association a answers a
// resource's custom name (lowercased, not fully qualified); unverified is
// "" when a verified domain covers it, else why not (verification). It
// returns "" when the name is admitted, else why it is withheld.
//
// The association's privateDnsEnabled, absent, is true (as the API stores
// it). Its preference, absent (or dnsOptions absent), is
// VERIFIED_DOMAINS_ONLY: the reference does not give the default, and
// Trellis takes the safe one, so that a configuration shared from another
// account answers only names its owner proved it controls.
func admitName(a *model.ServiceNetworkVpcAssociation, name, unverified string) string {
	if a == nil {
		return "the VPC has no VPC association"
	}
	if a.PrivateDNSEnabled != nil && !*a.PrivateDNSEnabled {
		return fmt.Sprintf("private DNS disabled on the VPC association %s", a.ID)
	}
	pref, dflt := DefaultPrivateDNSPreference, " (the default)"
	var specified []string
	if o := a.DNSOptions; o != nil {
		if o.PrivateDNSPreference != "" {
			pref, dflt = o.PrivateDNSPreference, ""
		}
		specified = o.PrivateDNSSpecifiedDomains
	}
	switch pref {
	case PrivateDNSAll:
		return ""
	case PrivateDNSVerifiedAndSpecified:
		if unverified == "" || specifiedMatch(specified, name) {
			return ""
		}
		return fmt.Sprintf("preference %s on the VPC association %s: no verified domain covers it (%s) and no privateDnsSpecifiedDomains entry matches it",
			pref, a.ID, unverified)
	case PrivateDNSSpecifiedOnly:
		if specifiedMatch(specified, name) {
			return ""
		}
		return fmt.Sprintf("preference %s on the VPC association %s: no privateDnsSpecifiedDomains entry matches it", pref, a.ID)
	case PrivateDNSVerifiedOnly:
		if unverified == "" {
			return ""
		}
		return fmt.Sprintf("preference %s%s on the VPC association %s: no verified domain covers it (%s)", pref, dflt, a.ID, unverified)
	}
	// A preference the API refuses (stored before it did): admit nothing
	// but the generated names.
	return fmt.Sprintf("preference %q on the VPC association %s is not one Trellis knows", pref, a.ID)
}
