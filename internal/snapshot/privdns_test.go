package snapshot_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// privDNSState is a network reached by vpc-…1 (association snva, which the
// test sets) with configurations of two accounts: the consumer A and a
// resource owner B who shared its configurations with A's network.
func privDNSState(snva *model.ServiceNetworkVpcAssociation) *snapshot.State {
	const a, b = "111111111111", "222222222222"
	const sn = "sn-00000000000000001"
	st := &snapshot.State{
		ServiceNetworks: []*model.ServiceNetwork{{Meta: model.Meta{ID: sn, Account: a}, Name: "net"}},
		VPCs: []*model.VPC{
			{ID: "vpc-00000000000000001", Account: a, Mode: model.VPCModeHost, IngressAddress: "127.171.0.1"},
			{ID: "vpc-000000000000000ff", Account: b, Mode: model.VPCModeHost, IngressAddress: "127.171.0.2"},
		},
		ResourceGateways: []*model.ResourceGateway{{Meta: model.Meta{ID: "rgw-00000000000000001", Account: b},
			Status: model.StatusActive, VpcID: "vpc-000000000000000ff"}},
		DomainVerifications: []*model.DomainVerification{
			{Meta: model.Meta{ID: "dv-0000000000000000a", Account: a}, DomainName: "example.com", Status: model.VerificationVerified},
			{Meta: model.Meta{ID: "dv-0000000000000000b", Account: a}, DomainName: "example.org", Status: model.VerificationPending},
		},
	}
	snva.Meta.ID, snva.Meta.Account, snva.ServiceNetworkID, snva.VpcID = "snva-00000000000000001", a, sn, "vpc-00000000000000001"
	st.SNVAs = []*model.ServiceNetworkVpcAssociation{snva}
	n := 0
	cfg := func(owner, typ, group, custom, dv string, def *model.ResourceConfigurationDefinition) {
		n++
		id := fmt.Sprintf("rcfg-%017x", n)
		c := &model.ResourceConfiguration{Meta: model.Meta{ID: id, Account: owner, ARN: "arn:aws:vpc-lattice:us-east-1:" + owner + ":resourceconfiguration/" + id},
			Type: typ, Status: model.StatusActive, GroupID: group, CustomDomainName: custom, DomainVerificationID: dv, Definition: def}
		if typ != model.ResourceConfigurationTypeChild {
			c.ResourceGatewayID, c.PortRanges = "rgw-00000000000000001", []string{fmt.Sprint(5000 + n)}
			st.SNRAs = append(st.SNRAs, &model.ServiceNetworkResourceAssociation{Meta: model.Meta{ID: fmt.Sprintf("snra-%017x", n), Account: a},
				ServiceNetworkID: sn, ResourceConfigurationID: id, Status: model.StatusActive, PrivateDNSEnabled: true})
		}
		st.ResourceConfigurations = append(st.ResourceConfigurations, c)
	}
	ip := &model.ResourceConfigurationDefinition{IPResource: &model.IPResource{IPAddress: "127.0.0.5"}}
	single := model.ResourceConfigurationTypeSingle
	cfg(a, single, "", "db.example.com", "dv-0000000000000000a", ip)                                    // 1: verified
	cfg(b, single, "", "login.example-bank.com", "", ip)                                                // 2: another account's, no verification
	cfg(b, single, "", "api.corp.test", "dv-0000000000000000a", ip)                                     // 3: names A's VERIFIED verification: does not count
	cfg(a, single, "", "pending.example.org", "dv-0000000000000000b", ip)                               // 4: PENDING: does not count
	cfg(a, model.ResourceConfigurationTypeGroup, "", "", "dv-0000000000000000a", nil)                   // 5: a GROUP, verified
	cfg(a, model.ResourceConfigurationTypeChild, "rcfg-00000000000000005", "child.example.com", "", ip) // 6: its CHILD, through the group
	cfg(a, single, "", "", "dv-0000000000000000a",
		&model.ResourceConfigurationDefinition{DNSResource: &model.DNSResource{DomainName: "Cache.Example.com"}}) // 7: a DNS resource's own name
	cfg(a, single, "", "other.example.net", "dv-0000000000000000a", ip)     // 8: the verification does not cover it
	cfg(a, single, "", "example.com.evil.test", "dv-0000000000000000a", ip) // 9: nor this
	return st
}

// customNames are the names vpc answers that are not generated ones.
func customNames(v *snapshot.VPC) []string {
	var out []string
	for n := range v.ResourceDNS.All() {
		if !strings.Contains(n, ".vpc-lattice-rsc.") {
			out = append(out, strings.TrimSuffix(n, "."))
		}
	}
	slices.Sort(out)
	return out
}

// TestPrivateDNSPreferences: a client VPC answers a resource's custom name
// only as its VPC association's privateDnsEnabled and privateDnsPreference
// admit it (the default: VERIFIED_DOMAINS_ONLY); a verified domain is a
// VERIFIED verification of the configuration's owner (a CHILD's through
// its GROUP) covering the name; generated names are always answered.
func TestPrivateDNSPreferences(t *testing.T) {
	f := false
	tr := true
	verified := []string{"cache.example.com", "child.example.com", "db.example.com"}
	all := []string{"api.corp.test", "cache.example.com", "child.example.com", "db.example.com", "example.com.evil.test",
		"login.example-bank.com", "other.example.net", "pending.example.org"}
	for _, tc := range []struct {
		name   string
		snva   model.ServiceNetworkVpcAssociation
		want   []string
		reason string // of login.example-bank.com when it is withheld
	}{
		{"default", model.ServiceNetworkVpcAssociation{}, verified, "preference VERIFIED_DOMAINS_ONLY (the default) on the VPC association snva-00000000000000001: no verified domain covers it (resource configuration rcfg-00000000000000002 names no domain verification)"},
		{"privateDnsEnabled true, no preference", model.ServiceNetworkVpcAssociation{PrivateDNSEnabled: &tr,
			DNSOptions: &model.DNSOptions{PrivateDNSSpecifiedDomains: []string{"login.example-bank.com"}}}, verified, "(the default)"},
		{"VERIFIED_DOMAINS_ONLY", model.ServiceNetworkVpcAssociation{DNSOptions: &model.DNSOptions{PrivateDNSPreference: "VERIFIED_DOMAINS_ONLY"}},
			verified, "preference VERIFIED_DOMAINS_ONLY on"},
		{"ALL_DOMAINS", model.ServiceNetworkVpcAssociation{DNSOptions: &model.DNSOptions{PrivateDNSPreference: "ALL_DOMAINS"}}, all, ""},
		{"VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS", model.ServiceNetworkVpcAssociation{DNSOptions: &model.DNSOptions{
			PrivateDNSPreference: "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS", PrivateDNSSpecifiedDomains: []string{"Login.Example-Bank.com", "*.corp.test"}}},
			[]string{"api.corp.test", "cache.example.com", "child.example.com", "db.example.com", "login.example-bank.com"}, ""},
		{"VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS, none matching", model.ServiceNetworkVpcAssociation{DNSOptions: &model.DNSOptions{
			PrivateDNSPreference: "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS", PrivateDNSSpecifiedDomains: []string{"*.login.example-bank.com"}}},
			verified, "and no privateDnsSpecifiedDomains entry matches it"},
		{"SPECIFIED_DOMAINS_ONLY", model.ServiceNetworkVpcAssociation{DNSOptions: &model.DNSOptions{
			PrivateDNSPreference: "SPECIFIED_DOMAINS_ONLY", PrivateDNSSpecifiedDomains: []string{"*.example.com", "pending.example.org", "corp.test"}}},
			[]string{"cache.example.com", "child.example.com", "db.example.com", "pending.example.org"},
			"preference SPECIFIED_DOMAINS_ONLY on the VPC association snva-00000000000000001: no privateDnsSpecifiedDomains entry matches it"},
		{"private DNS disabled", model.ServiceNetworkVpcAssociation{PrivateDNSEnabled: &f, DNSOptions: &model.DNSOptions{PrivateDNSPreference: "ALL_DOMAINS"}},
			nil, "private DNS disabled on the VPC association snva-00000000000000001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snva := tc.snva
			st := privDNSState(&snva)
			snap := snapshot.Compile(st, snapshot.Options{Region: "us-east-1", Now: time.Now(), DNSToken: "abc1234"})
			v := snap.VPCs["vpc-00000000000000001"]
			if got := customNames(v); !slices.Equal(got, tc.want) {
				t.Errorf("custom names answered\n got %q\nwant %q", got, tc.want)
			}
			// Every association's generated name, always (a GROUP's
			// answers nothing; its CHILD's does).
			gen := 0
			for n := range v.ResourceDNS.All() {
				if strings.Contains(n, ".vpc-lattice-rsc.") {
					gen++
				}
			}
			if gen != 8 {
				t.Errorf("%d generated names answered, want 8", gen)
			}
			w, withheld := v.WithheldResourceNames["login.example-bank.com."]
			if withheld != (tc.reason != "") || !strings.Contains(w.Reason, tc.reason) ||
				withheld && w.ConfigurationID != "rcfg-00000000000000002" {
				t.Errorf("login.example-bank.com withheld %v %+v, want reason %q", withheld, w, tc.reason)
			}
			for _, n := range all {
				answered, want := v.ResourceDNS.Get(n+".") != nil, slices.Contains(tc.want, n)
				if _, withheld := v.WithheldResourceNames[n+"."]; answered != want || withheld == want {
					t.Errorf("%s: answered %v, withheld %v; want answered %v", n, answered, withheld, want)
				}
			}
			// Only verified custom names are Trellis's: NXDOMAIN where
			// not answered; the others are forwarded there.
			for _, n := range all {
				if got := snap.ResourceNames.Get(n+".") != ""; got != slices.Contains(verified, n) {
					t.Errorf("ResourceNames has %s: %v", n, got)
				}
			}
		})
	}
}

// TestPrivateDNSReasons: a withheld custom name says why no verified
// domain covers it.
func TestPrivateDNSReasons(t *testing.T) {
	snva := model.ServiceNetworkVpcAssociation{}
	snap := snapshot.Compile(privDNSState(&snva), snapshot.Options{Region: "us-east-1", Now: time.Now(), DNSToken: "abc1234"})
	v := snap.VPCs["vpc-00000000000000001"]
	for name, want := range map[string]string{
		"api.corp.test":         "its domain verification dv-0000000000000000a is another account's",
		"pending.example.org":   "its domain verification dv-0000000000000000b (example.org) is PENDING, not VERIFIED",
		"other.example.net":     "its domain verification dv-0000000000000000a is for example.com, which does not cover it",
		"example.com.evil.test": "is for example.com, which does not cover it",
	} {
		if w := v.WithheldResourceNames[name+"."]; !strings.Contains(w.Reason, want) {
			t.Errorf("%s: reason %q, want %q", name, w.Reason, want)
		}
	}
}
