package snapshot_test

import (
	"net/netip"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// sgState is a VPC owned by account A, associated with a network, whose
// association names groups; groups are given per test.
func sgState(names []string, groups ...*model.SecurityGroup) *snapshot.State {
	a := &model.ServiceNetworkVpcAssociation{VpcID: "vpc-0000000a", ServiceNetworkID: "sn-1", SecurityGroupIDs: names}
	a.Account = "111111111111"
	sn := &model.ServiceNetwork{}
	sn.ID, sn.Account = "sn-1", "111111111111"
	return &snapshot.State{
		VPCs:            []*model.VPC{{ID: "vpc-0000000a", Account: "111111111111", Mode: "host", IngressAddress: "127.171.0.1"}},
		ServiceNetworks: []*model.ServiceNetwork{sn},
		SNVAs:           []*model.ServiceNetworkVpcAssociation{a},
		SecurityGroups:  groups,
	}
}

func sg(id, vpc, account string, rules ...model.SecurityGroupRule) *model.SecurityGroup {
	return &model.SecurityGroup{ID: id, VpcID: vpc, Account: account, Ingress: rules}
}

func tcp(from, to int, cidr string) model.SecurityGroupRule {
	return model.SecurityGroupRule{Protocol: "tcp", FromPort: from, ToPort: to, CIDR: cidr}
}

func TestCompileSecurityGroups(t *testing.T) {
	t.Parallel()
	const A, B = "111111111111", "222222222222"
	a2, a3 := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	v6 := netip.MustParseAddr("2001:db8::7")
	type probe struct {
		src  netip.Addr
		port uint16
		want bool
	}
	cases := []struct {
		name   string
		st     *snapshot.State
		str    string
		probes []probe
	}{
		{"no groups named admits all", sgState(nil), "admit all (no security groups)",
			[]probe{{a2, 80, true}, {a3, 1, true}, {v6, 443, true}}},
		{"one tcp rule", sgState([]string{"sg-0000000a"}, sg("sg-0000000a", "vpc-0000000a", A, tcp(80, 80, "127.0.0.2/32"))),
			"groups=sg-0000000a 127.0.0.2/32:80-80",
			[]probe{{a2, 80, true}, {a2, 81, false}, {a2, 79, false}, {a3, 80, false},
				{netip.MustParseAddr("::ffff:127.0.0.2"), 80, true}}},
		{"port range and all", sgState([]string{"sg-0000000a", "sg-0000000b"},
			sg("sg-0000000a", "vpc-0000000a", A, tcp(8000, 8999, "127.0.0.0/24")),
			sg("sg-0000000b", "vpc-0000000a", A, model.SecurityGroupRule{Protocol: "all", CIDR: "2001:db8::/32"})),
			"groups=sg-0000000a,sg-0000000b 127.0.0.0/24:8000-8999 2001:db8::/32:0-65535",
			[]probe{{a3, 8000, true}, {a3, 8999, true}, {a3, 9000, false}, {a3, 7999, false},
				{v6, 1, true}, {v6, 65535, true}, {netip.MustParseAddr("2001:db9::1"), 80, false}}},
		{"only unknown groups admit nothing", sgState([]string{"sg-0000000c"}),
			"groups=sg-0000000c unknown=sg-0000000c", []probe{{a2, 80, false}, {v6, 80, false}}},
		{"a known and an unknown group: the known one's rules", sgState([]string{"sg-0000000c", "sg-0000000a"},
			sg("sg-0000000a", "vpc-0000000a", A, tcp(80, 80, "127.0.0.2/32"))),
			"groups=sg-0000000c,sg-0000000a unknown=sg-0000000c 127.0.0.2/32:80-80",
			[]probe{{a2, 80, true}, {a3, 80, false}}},
		{"a group of another VPC counts for nothing", sgState([]string{"sg-0000000a"},
			sg("sg-0000000a", "vpc-0000000b", A, tcp(1, 65535, "0.0.0.0/0"))),
			"groups=sg-0000000a unknown=sg-0000000a", []probe{{a2, 80, false}}},
		{"a group of another account counts for nothing", sgState([]string{"sg-0000000a"},
			sg("sg-0000000a", "vpc-0000000a", B, tcp(1, 65535, "0.0.0.0/0"))),
			"groups=sg-0000000a unknown=sg-0000000a", []probe{{a2, 80, false}}},
		{"a group with no rules admits nothing", sgState([]string{"sg-0000000a"}, sg("sg-0000000a", "vpc-0000000a", A)),
			"groups=sg-0000000a", []probe{{a2, 80, false}}},
		{"stored rules the API would refuse are left out", sgState([]string{"sg-0000000a"}, sg("sg-0000000a", "vpc-0000000a", A,
			tcp(90, 80, "127.0.0.2/32"), tcp(0, 80, "127.0.0.2/32"), model.SecurityGroupRule{Protocol: "udp", CIDR: "127.0.0.2/32"},
			tcp(80, 80, "not-a-cidr"), tcp(80, 80, "::ffff:127.0.0.0/104"))),
			"groups=sg-0000000a", []probe{{a2, 80, false}}},
		{"duplicate rules are compiled once, sorted", sgState([]string{"sg-0000000a", "sg-0000000b"},
			sg("sg-0000000a", "vpc-0000000a", A, tcp(80, 80, "127.0.0.3/32"), tcp(80, 80, "127.0.0.2/32")),
			sg("sg-0000000b", "vpc-0000000a", A, tcp(80, 80, "127.0.0.2/32"))),
			"groups=sg-0000000a,sg-0000000b 127.0.0.2/32:80-80 127.0.0.3/32:80-80", []probe{{a3, 80, true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			snap := snapshot.Compile(tc.st, snapshot.Options{Region: "us-east-1"})
			r := snap.VPCs["vpc-0000000a"].SecurityGroups
			if got := r.String(); got != tc.str {
				t.Fatalf("compiled %q, want %q", got, tc.str)
			}
			for _, p := range tc.probes {
				if got := r.Admits(p.src, p.port); got != p.want {
					t.Errorf("Admits(%s, %d) = %v, want %v", p.src, p.port, got, p.want)
				}
			}
		})
	}
}

// An association that another account made on the VPC (before the API
// refused it) routes nothing and gates nothing: its groups are not the
// owner's.
func TestCompileSecurityGroupsIgnoresForeignAssociation(t *testing.T) {
	t.Parallel()
	st := sgState([]string{"sg-0000000a"})
	st.SNVAs[0].Account = "222222222222"
	snap := snapshot.Compile(st, snapshot.Options{Region: "us-east-1"})
	if r := snap.VPCs["vpc-0000000a"].SecurityGroups; r != nil {
		t.Fatalf("a foreign association's groups gate the VPC: %s", r)
	}
}

func TestSGRulesAdmitsAllocatesNothing(t *testing.T) {
	st := sgState([]string{"sg-0000000a"}, sg("sg-0000000a", "vpc-0000000a", "111111111111",
		tcp(80, 80, "10.0.0.0/8"), tcp(80, 80, "2001:db8::/32"), tcp(80, 80, "127.0.0.2/32")))
	r := snapshot.Compile(st, snapshot.Options{}).VPCs["vpc-0000000a"].SecurityGroups
	src := netip.MustParseAddr("127.0.0.2")
	if n := testing.AllocsPerRun(100, func() { _ = r.Admits(src, 80) }); n != 0 {
		t.Fatalf("Admits allocates %v times", n)
	}
}

func BenchmarkSGRulesAdmits(b *testing.B) {
	var rules []model.SecurityGroupRule
	for i := 0; i < 60; i++ {
		rules = append(rules, tcp(1000+i, 1000+i, "10.0.0.0/8"))
	}
	rules = append(rules, tcp(80, 80, "127.0.0.2/32"))
	st := sgState([]string{"sg-0000000a"}, sg("sg-0000000a", "vpc-0000000a", "111111111111", rules...))
	r := snapshot.Compile(st, snapshot.Options{}).VPCs["vpc-0000000a"].SecurityGroups
	src := netip.MustParseAddr("127.0.0.2")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Admits(src, 80)
	}
}

// FuzzSGRulesAdmits checks the compiled matcher against the plain reading
// of the rules (some rule's CIDR contains the unmapped source and its port
// range contains the port), for rules the API accepts.
func FuzzSGRulesAdmits(f *testing.F) {
	f.Add("127.0.0.2/32", uint16(80), uint16(80), "2001:db8::/32", false, []byte{127, 0, 0, 2}, uint16(80))
	f.Add("10.0.0.0/8", uint16(1), uint16(65535), "::/0", true, []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(443))
	f.Add("0.0.0.0/0", uint16(8000), uint16(8999), "fe80::/10", false, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3}, uint16(8080))
	f.Fuzz(func(t *testing.T, cidr1 string, from, to uint16, cidr2 string, all2 bool, src []byte, port uint16) {
		var in []model.SecurityGroupRuleInput
		f1, t1 := int(from), int(to)
		in = append(in, model.SecurityGroupRuleInput{Protocol: "tcp", FromPort: &f1, ToPort: &t1, CIDR: cidr1})
		if all2 {
			in = append(in, model.SecurityGroupRuleInput{Protocol: "all", CIDR: cidr2})
		} else {
			in = append(in, model.SecurityGroupRuleInput{Protocol: "tcp", FromPort: &f1, ToPort: &f1, CIDR: cidr2})
		}
		var v model.Validator
		rules := model.CheckSecurityGroupRules(&v, "ingress", in)
		if v.Err() != nil {
			return
		}
		addr, ok := netip.AddrFromSlice(src)
		if !ok {
			return
		}
		r := snapshot.Compile(sgState([]string{"sg-0000000a"}, sg("sg-0000000a", "vpc-0000000a", "111111111111", rules...)),
			snapshot.Options{}).VPCs["vpc-0000000a"].SecurityGroups
		want := false
		for _, x := range rules {
			p := netip.MustParsePrefix(x.CIDR)
			inRange := x.Protocol == "all" || (int(port) >= x.FromPort && int(port) <= x.ToPort)
			if inRange && p.Contains(addr.Unmap()) {
				want = true
			}
		}
		if got := r.Admits(addr, port); got != want {
			t.Fatalf("Admits(%s, %d) = %v, want %v for %+v", addr, port, got, want, rules)
		}
	})
}
