//go:build linux

package vpcnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/netns"
	"github.com/trellis-net/trellis/internal/snapshot"
)

func token(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)[:7]
}

func exists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

// TestRunnerFollowsTheSnapshot: the runner makes a namespace per netns VPC
// (block local, ingress address on lo, resolv.conf naming it) and keeps
// its Net across syncs; on its first sync it removes its own prefix's
// namespaces that no VPC names, never another prefix's or a non-VPC name;
// a VPC that leaves loses its namespace; a new runner (a restart) adopts a
// namespace with a socket open inside, which keeps working.
func TestRunnerFollowsTheSnapshot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	prefix, other := "trellis-"+token(t)+"-", "trellis-"+token(t)+"-"
	stale, foreign, notVPC := prefix+"vpc-0000000000000dead", other+"vpc-0000000000000beef", prefix+"scratch"
	const vpc = "vpc-00000000000000a01"
	name := prefix + vpc
	t.Cleanup(func() {
		for _, n := range []string{stale, foreign, notVPC, name} {
			_ = netns.Remove(n)
		}
	})
	for _, n := range []string{stale, foreign, notVPC} {
		ns, err := netns.Create(n, netns.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ns.Close()
	}

	ingress := netip.MustParseAddr("169.254.171.9")
	withVPC := &snapshot.Snapshot{VPCs: map[string]*snapshot.VPC{
		vpc:                     {ID: vpc, Mode: model.VPCModeNetns, Ingress: ingress, NetnsName: name, CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}},
		"vpc-00000000000000b01": {ID: "vpc-00000000000000b01", Mode: model.VPCModeHost, Ingress: netip.MustParseAddr("127.171.0.1")},
	}}
	holder := new(snapshot.Holder)
	holder.Store(withVPC)
	r := &Runner{Holder: holder, Prefix: prefix}
	changed := r.Subscribe()
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("subscribers not told after Sync")
	}
	if exists(stale) || !exists(foreign) || !exists(notVPC) || !exists(name) {
		t.Fatalf("after the first sync: stale %v, foreign %v, non-VPC %v, wanted %v", exists(stale), exists(foreign), exists(notVPC), exists(name))
	}
	if r.Lookup("vpc-00000000000000b01") != nil || r.Lookup("vpc-00000000000000c01") != nil {
		t.Fatal("a host-mode or unknown VPC has a Net")
	}
	n := r.Lookup(vpc)
	if n == nil {
		t.Fatal("no Net for the netns VPC")
	}
	conf, err := os.ReadFile("/etc/netns/" + name + "/resolv.conf")
	if err != nil || !slices.Contains(splitLines(string(conf)), "nameserver 169.254.171.9") {
		t.Fatalf("resolv.conf: %q %v", conf, err)
	}
	// The ingress address and any block address are local inside.
	ln, err := n.Listen(context.Background(), "tcp", "169.254.171.9:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	dial := func(n Net) string {
		c, err := n.Dial(context.Background(), new(net.Dialer), "tcp", ln.Addr().String())
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		b := make([]byte, 2)
		_, _ = c.Read(b)
		return string(b)
	}
	if got := dial(n); got != "ok" {
		t.Fatalf("dial inside: %s", got)
	}
	// So is every address of the resource range (a resource
	// configuration's socket in the VPC), without configuring it.
	rln, err := n.Listen(context.Background(), "tcp", "129.224.77.5:0")
	if err != nil {
		t.Fatalf("listen on a resource address inside: %v", err)
	}
	rc, err := n.Dial(context.Background(), new(net.Dialer), "tcp", rln.Addr().String())
	if err != nil {
		t.Fatalf("dial a resource address inside: %v", err)
	}
	rc.Close()
	rln.Close()
	if err := r.Sync(); err != nil || r.Lookup(vpc) != n {
		t.Fatalf("a second sync changed the Net: %v", err)
	}

	// A restart: a new runner adopts the namespace; the listener inside
	// keeps answering through the new Net.
	r.Close()
	r2 := &Runner{Holder: holder, Prefix: prefix}
	if err := r2.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := dial(r2.Lookup(vpc)); got != "ok" {
		t.Fatalf("after a restart: %s", got)
	}

	// The VPC leaves: its namespace goes, and nothing else.
	holder.Store(&snapshot.Snapshot{VPCs: map[string]*snapshot.VPC{}})
	if err := r2.Sync(); err != nil {
		t.Fatal(err)
	}
	if exists(name) || r2.Lookup(vpc) != nil || !exists(foreign) || !exists(notVPC) {
		t.Fatalf("after the VPC left: wanted %v, foreign %v, non-VPC %v", exists(name), exists(foreign), exists(notVPC))
	}
	if _, err := os.Stat("/etc/netns/" + name); !os.IsNotExist(err) {
		t.Fatalf("/etc/netns/%s stays: %v", name, err)
	}
	r2.Close()
}

func splitLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
