package arn

import (
	"strings"
	"testing"
)

func TestParseLattice(t *testing.T) {
	cases := []struct {
		name, in string
		kind     Kind
		id       string
		svc, lst string
		wantErr  bool
	}{
		{name: "service network", in: "arn:aws:vpc-lattice:us-east-1:123456789012:servicenetwork/sn-0123456789abcdef0", kind: ServiceNetwork, id: "sn-0123456789abcdef0"},
		{name: "service", in: "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0123456789abcdef0", kind: Service, id: "svc-0123456789abcdef0"},
		{name: "listener", in: "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0123456789abcdef0/listener/listener-0123456789abcdef0", kind: Listener, id: "listener-0123456789abcdef0", svc: "svc-0123456789abcdef0"},
		{name: "rule", in: "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0123456789abcdef0/listener/listener-0123456789abcdef0/rule/rule-0123456789abcdef0", kind: Rule, id: "rule-0123456789abcdef0", svc: "svc-0123456789abcdef0", lst: "listener-0123456789abcdef0"},
		{name: "target group", in: "arn:aws:vpc-lattice:eu-west-1:123456789012:targetgroup/tg-0123456789abcdef0", kind: TargetGroup, id: "tg-0123456789abcdef0"},
		{name: "snva", in: "arn:aws:vpc-lattice:us-east-1:123456789012:servicenetworkvpcassociation/snva-0123456789abcdef0", kind: ServiceNetworkVpcAssociation, id: "snva-0123456789abcdef0"},
		{name: "wrong service", in: "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123", wantErr: true},
		{name: "short id", in: "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0123", wantErr: true},
		{name: "uppercase id", in: "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0123456789ABCDEF0", wantErr: true},
		{name: "bad account", in: "arn:aws:vpc-lattice:us-east-1:1234:service/svc-0123456789abcdef0", wantErr: true},
		{name: "listener as top level", in: "arn:aws:vpc-lattice:us-east-1:123456789012:listener/listener-0123456789abcdef0", wantErr: true},
		{name: "not an arn", in: "svc-0123456789abcdef0", wantErr: true},
		{name: "too few parts", in: "arn:aws:vpc-lattice:us-east-1", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := ParseLattice(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseLattice(%q) = %+v, want error", tc.in, ref)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLattice(%q): %v", tc.in, err)
			}
			if ref.Kind != tc.kind || ref.ID != tc.id || ref.ServiceID != tc.svc || ref.ListenerID != tc.lst {
				t.Fatalf("ParseLattice(%q) = %+v", tc.in, ref)
			}
			if got := ref.ARN.String(); got != tc.in {
				t.Fatalf("round trip: %q != %q", got, tc.in)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range kinds {
		for i := 0; i < 100; i++ {
			id := NewID(k)
			if !ValidID(k, id) {
				t.Fatalf("NewID(%v) = %q is not valid", k, id)
			}
			if strings.ToLower(id) != id {
				t.Fatalf("%q is not lowercase", id)
			}
			if seen[id] {
				t.Fatalf("duplicate id %q", id)
			}
			seen[id] = true
		}
	}
	if ValidID(Service, "sn-0123456789abcdef0") {
		t.Fatal("a service network ID passed as a service ID")
	}
}

func FuzzParseLattice(f *testing.F) {
	f.Add("arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0123456789abcdef0")
	f.Add("arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0123456789abcdef0/listener/listener-0123456789abcdef0/rule/rule-0123456789abcdef0")
	f.Add("arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg-0123456789abcdef0")
	f.Add("arn::::::")
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseLattice(s)
		if err != nil {
			return
		}
		if ref.ARN.String() != s {
			t.Fatalf("round trip changed %q to %q", s, ref.ARN.String())
		}
		if !ValidID(ref.Kind, ref.ID) {
			t.Fatalf("accepted invalid id %q for %v", ref.ID, ref.Kind)
		}
	})
}
