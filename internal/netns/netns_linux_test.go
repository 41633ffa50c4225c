//go:build linux

package netns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Every namespace a test makes is named familyPrefix + this run's pid + a
// counter, so concurrent runs do not touch each other's and TestMain can
// sweep the leftovers of runs that died.
const familyPrefix = "trlnstest-"

var (
	runPrefix = fmt.Sprintf("%s%d-", familyPrefix, os.Getpid())
	seq       atomic.Int64
	// skipReason is set when this machine cannot make namespaces.
	skipReason string
)

// init keeps the main goroutine on the main thread for the whole run, so
// no test goroutine lands there. The runtime cannot exit the main thread
// and parks it instead when a goroutine exits locked to it, which would let
// TestFailedRestoreKillsThread pass whether or not the thread was killed.
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		skipReason = "network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN); CI runs as root"
	} else {
		sweep(false)
		probe := runPrefix + "probe"
		if n, err := Create(probe, Config{}); err != nil {
			skipReason = fmt.Sprintf("cannot create a network namespace here: %v", err)
		} else {
			n.Delete()
		}
	}
	code := m.Run()
	if skipReason == "" {
		sweep(true)
	}
	os.Exit(code)
}

// sweep removes this run's namespaces (all) and those of earlier runs
// whose process is gone.
func sweep(mine bool) {
	names, _ := List(familyPrefix)
	for _, name := range names {
		pid, _, _ := strings.Cut(strings.TrimPrefix(name, familyPrefix), "-")
		p, err := strconv.Atoi(pid)
		alive := err == nil && unix.Kill(p, 0) == nil
		if strings.HasPrefix(name, runPrefix) && mine || !alive {
			Remove(name)
		}
	}
}

// newNS creates a namespace for t, removed when t ends however it ends.
func newNS(t testing.TB, cfg Config) *Namespace {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	name := fmt.Sprintf("%s%d", runPrefix, seq.Add(1))
	n, err := Create(name, cfg)
	t.Cleanup(func() { Remove(name) })
	if err != nil {
		t.Fatalf("Create %s: %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

var vpcCIDR = netip.MustParsePrefix("10.0.0.0/16")

// serveName serves "<name> <client address>" over HTTP on l until t ends.
func serveName(t testing.TB, l net.Listener, name string) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.RemoteAddr)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func get(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error), url string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ipList(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Two namespaces with the same CIDR each answer on 10.0.1.7:8080, and a
// dial through each reaches its own.
func TestSameCIDRSideBySide(t *testing.T) {
	t.Parallel()
	a := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR}})
	b := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR}})
	for _, n := range []*Namespace{a, b} {
		l, err := n.Listen("tcp", "10.0.1.7:8080")
		if err != nil {
			t.Fatalf("listen in %s: %v", n.Name(), err)
		}
		serveName(t, l, n.Name())
	}
	for _, n := range []*Namespace{a, b} {
		d := n.DialContext(&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.0.1.9")}})
		got := get(t, d, "http://10.0.1.7:8080/")
		if want := n.Name() + " 10.0.1.9:"; !strings.HasPrefix(got, want) {
			t.Errorf("via %s: got %q, want prefix %q", n.Name(), got, want)
		}
		if got := get(t, n.Dial, "http://10.0.1.7:8080/"); !strings.HasPrefix(got, n.Name()+" 10.0.1.7:") {
			t.Errorf("via %s without a source: got %q", n.Name(), got)
		}
	}
}

// curl run with `ip netns exec` binds a block address it never configured
// and reaches the namespace's server.
func TestCurlInside(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (.ci/run installs it)")
	}
	a := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR}})
	l, err := a.Listen("tcp", "10.0.1.7:8080")
	if err != nil {
		t.Fatal(err)
	}
	serveName(t, l, a.Name())
	out, err := a.Command("curl", "-sS", "--max-time", "30", "--interface", "10.0.1.9", "http://10.0.1.7:8080/").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if want := a.Name() + " 10.0.1.9:"; !strings.HasPrefix(string(out), want) {
		t.Errorf("curl got %q, want prefix %q", out, want)
	}
	// The same through `ip netns exec` spelled out, as a user would.
	out, err = exec.Command("ip", "netns", "exec", a.Name(), "curl", "-sS", "--max-time", "30", "--interface", "10.0.200.1", "http://10.0.1.7:8080/").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), a.Name()+" 10.0.200.1:") {
		t.Errorf("ip netns exec curl: %v %q", err, out)
	}
}

// Nothing in B reaches what only A has: no route joins them.
func TestIsolation(t *testing.T) {
	t.Parallel()
	ingressA := netip.MustParsePrefix("169.254.171.5/32")
	a := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR}, Addresses: []netip.Prefix{ingressA}})
	b := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR}})
	for _, addr := range []string{"169.254.171.5:8080", "10.0.1.7:8081", "127.0.0.1:8081"} {
		l, err := a.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen in A on %s: %v", addr, err)
		}
		serveName(t, l, a.Name())
		if got := get(t, a.Dial, "http://"+addr+"/"); !strings.HasPrefix(got, a.Name()) {
			t.Fatalf("A does not reach its own %s: %q", addr, got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := b.Dial(ctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			t.Fatalf("B reached A's %s", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENETUNREACH) && !errors.Is(err, syscall.EHOSTUNREACH) {
			t.Errorf("B dialing A's %s: %v, want refused or unreachable", addr, err)
		}
	}
	// B has no route beyond itself: only lo and its own local routes.
	out, err := exec.Command("ip", "-n", b.Name(), "route", "get", "169.254.171.5").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unreachable") {
		t.Errorf("route get in B: %v %s", err, out)
	}
	if links := ipList(t, "-n", b.Name(), "-o", "link", "show"); strings.Count(links, "\n") != 1 || !strings.Contains(links, " lo:") {
		t.Errorf("B has links besides lo:\n%s", links)
	}
}

// UDP and IPv6: a block's addresses are local in both families.
func TestUDPAndIPv6(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("IPv6 is disabled on this kernel")
	}
	v6 := netip.MustParsePrefix("fd00:7::/64")
	a := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR, v6}})
	b := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR, v6}})
	for _, n := range []*Namespace{a, b} {
		pc, err := n.ListenPacket("udp", "10.0.2.2:5353")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 512)
			for {
				k, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(append([]byte(n.Name()+" "), buf[:k]...), from)
			}
		}()
		l, err := n.Listen("tcp6", "[fd00:7::7]:8080")
		if err != nil {
			t.Fatalf("listen on an IPv6 block address in %s: %v", n.Name(), err)
		}
		serveName(t, l, n.Name())
	}
	for _, n := range []*Namespace{a, b} {
		c, err := n.Dial(context.Background(), "udp", "10.0.2.2:5353")
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		c.Write([]byte("ping"))
		line, err := bufio.NewReader(c).ReadString('g')
		c.Close()
		if err != nil || line != n.Name()+" ping" {
			t.Errorf("udp via %s: %q %v", n.Name(), line, err)
		}
		d := n.DialContext(&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("fd00:7::9")}})
		if got := get(t, d, "http://[fd00:7::7]:8080/"); !strings.HasPrefix(got, n.Name()+" [fd00:7::9]:") {
			t.Errorf("IPv6 via %s: %q", n.Name(), got)
		}
	}
}

// resolv.conf is what a process run with `ip netns exec` reads.
func TestResolvConf(t *testing.T) {
	t.Parallel()
	dns := []netip.Addr{netip.MustParseAddr("169.254.171.2"), netip.MustParseAddr("fd00::53")}
	a := newNS(t, Config{Nameservers: dns})
	out, err := a.Command("cat", "/etc/resolv.conf").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := string(resolvConf(dns))
	if string(out) != want || !strings.Contains(want, "nameserver 169.254.171.2\nnameserver fd00::53\n") {
		t.Errorf("resolv.conf inside:\n%s\nwant:\n%s", out, want)
	}
	// A changed config is seen by the next process.
	if _, err := Create(a.Name(), Config{Nameservers: dns[:1]}); err != nil {
		t.Fatal(err)
	}
	out, _ = a.Command("cat", "/etc/resolv.conf").CombinedOutput()
	if strings.Contains(string(out), "fd00::53") || !strings.Contains(string(out), "nameserver 169.254.171.2\n") {
		t.Errorf("after re-apply:\n%s", out)
	}
}

// Create on an existing namespace adopts it: a listener inside keeps
// working, and the config converges (blocks and addresses removed or
// added) without touching the kernel's own loopback addresses.
func TestAdopt(t *testing.T) {
	t.Parallel()
	ingress := netip.MustParsePrefix("169.254.171.9/32")
	a := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR}, Addresses: []netip.Prefix{ingress}})
	l, err := a.Listen("tcp", "10.0.1.7:8080")
	if err != nil {
		t.Fatal(err)
	}
	serveName(t, l, "first")

	other := netip.MustParsePrefix("172.16.0.0/12")
	again, err := Create(a.Name(), Config{CIDRBlocks: []netip.Prefix{vpcCIDR, other}, Addresses: []netip.Prefix{ingress}})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := get(t, again.Dial, "http://10.0.1.7:8080/"); !strings.HasPrefix(got, "first ") {
		t.Errorf("after adopt: %q", got)
	}
	if l2, err := again.Listen("tcp", "172.16.3.4:80"); err != nil {
		t.Errorf("new block not local: %v", err)
	} else {
		l2.Close()
	}
	opened, err := Open(a.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	if got := get(t, opened.Dial, "http://10.0.1.7:8080/"); !strings.HasPrefix(got, "first ") {
		t.Errorf("through Open: %q", got)
	}
	if l2, err := opened.Listen("tcp", "169.254.171.9:0"); err != nil {
		t.Errorf("ingress address not on lo: %v", err)
	} else {
		l2.Close()
	}

	// Drop the extra block and the ingress address.
	if n, err := Create(a.Name(), Config{CIDRBlocks: []netip.Prefix{vpcCIDR}}); err != nil {
		t.Fatal(err)
	} else {
		n.Close()
	}
	if l2, err := a.Listen("tcp", "172.16.3.4:80"); err == nil {
		l2.Close()
		t.Error("a removed block is still local")
	}
	addrs := ipList(t, "-n", a.Name(), "addr", "show", "dev", "lo")
	if strings.Contains(addrs, "169.254.171.9") || !strings.Contains(addrs, "127.0.0.1/8") {
		t.Errorf("lo after removing the address:\n%s", addrs)
	}
	routes := ipList(t, "-n", a.Name(), "route", "show", "table", "local")
	if !strings.Contains(routes, "local 10.0.0.0/16 dev lo proto 171 scope host") || strings.Contains(routes, "172.16.0.0") {
		t.Errorf("local table:\n%s", routes)
	}
	if got := get(t, a.Dial, "http://10.0.1.7:8080/"); !strings.HasPrefix(got, "first ") {
		t.Errorf("after converging: %q", got)
	}
}

// Delete removes the name, the mount and /etc/netns/NAME.
func TestDelete(t *testing.T) {
	t.Parallel()
	a := newNS(t, Config{CIDRBlocks: []netip.Prefix{vpcCIDR}, Nameservers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}})
	name := a.Name()
	if !strings.Contains(ipList(t, "netns", "list"), name) {
		t.Fatalf("ip netns list does not show %s", name)
	}
	if names, err := List(runPrefix); err != nil || !containsStr(names, name) {
		t.Fatalf("List: %v %v", names, err)
	}
	if err := a.Delete(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ipList(t, "netns", "list"), name) {
		t.Errorf("ip netns list still shows %s", name)
	}
	for _, p := range []string{filepath.Join(runDir, name), filepath.Join(etcDir, name)} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	if _, err := Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Delete: %v", err)
	}
	if err := Remove(name); err != nil {
		t.Errorf("Remove of a deleted namespace: %v", err)
	}
}

// A mount point left empty by a create that died is replaced.
func TestLeftoverMountPoint(t *testing.T) {
	t.Parallel()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	name := fmt.Sprintf("%s%d", runPrefix, seq.Add(1))
	t.Cleanup(func() { Remove(name) })
	if err := os.WriteFile(filepath.Join(runDir, name), nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of an empty file: %v", err)
	}
	n, err := Create(name, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if out := ipList(t, "-n", name, "link", "show", "lo"); !strings.Contains(out, "UP") {
		t.Errorf("lo not up: %s", out)
	}
}

// Do runs fn inside the namespace and leaves the caller's thread where it
// was.
func TestDoLeavesThreadsHome(t *testing.T) {
	t.Parallel()
	a := newNS(t, Config{})
	var want, inside unix.Stat_t
	if err := unix.Fstat(a.fd, &want); err != nil {
		t.Fatal(err)
	}
	host := selfNS(t)
	for i := 0; i < 50; i++ {
		if err := a.Do(func() error { return unix.Stat(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), &inside) }); err != nil {
			t.Fatal(err)
		}
		if inside.Ino != want.Ino {
			t.Fatalf("Do ran in namespace %d, want %d", inside.Ino, want.Ino)
		}
		if got := selfNS(t); got != host {
			t.Fatalf("caller's thread moved to %d from %d", got, host)
		}
	}
	sentinel := errors.New("from fn")
	if err := a.Do(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Do error: %v", err)
	}
}

// selfNS is the namespace inode of the current thread, read while locked.
func selfNS(t *testing.T) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// When a thread cannot return to the host namespace, Do reports it and the
// thread dies with its goroutine: afterwards no thread of the process that
// runs goroutines is left inside the namespace. Not parallel: it swaps setns for all.
func TestFailedRestoreKillsThread(t *testing.T) {
	a := newNS(t, Config{})
	var nsStat unix.Stat_t
	if err := unix.Fstat(a.fd, &nsStat); err != nil {
		t.Fatal(err)
	}
	host, err := hostNS()
	if err != nil {
		t.Fatal(err)
	}
	setns = func(fd, nstype int) error {
		if fd == host {
			return unix.EPERM
		}
		return unix.Setns(fd, nstype)
	}
	err = a.Do(func() error { return nil })
	setns = unix.Setns
	if err == nil || !strings.Contains(err.Error(), "restore thread namespace") {
		t.Fatalf("Do with a failing restore: %v", err)
	}
	// Thread exit is asynchronous; poll.
	deadline := time.Now().Add(20 * time.Second)
	for {
		inside := threadsIn(t, nsStat.Ino)
		if inside == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d thread(s) of the process still in the namespace", inside)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// And ordinary use goes on.
	if err := a.Do(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := threadsIn(t, nsStat.Ino); n != 0 {
		t.Fatalf("%d thread(s) left in the namespace after a normal Do", n)
	}
}

// threadsIn counts the process's threads whose network namespace is ino.
func threadsIn(t *testing.T, ino uint64) int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		var st unix.Stat_t
		if unix.Stat("/proc/self/task/"+task.Name()+"/ns/net", &st) == nil && st.Ino == ino {
			t.Logf("thread %s in the namespace", task.Name())
			n++
		}
	}
	return n
}

func TestRefusesNamesAndOtherNetworks(t *testing.T) {
	t.Parallel()
	a := newNS(t, Config{})
	if _, err := a.Dial(context.Background(), "tcp", "localhost:80"); err == nil || !strings.Contains(err.Error(), "IP literal") {
		t.Errorf("dial by name: %v", err)
	}
	if _, err := a.Listen("unix", "/tmp/x.sock"); err == nil {
		t.Error("unix listen accepted")
	}
	if _, err := Create("bad/name", Config{}); err == nil {
		t.Error("bad name accepted")
	}
	if _, err := Create(a.Name(), Config{CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/16")}}); err == nil {
		t.Error("unmasked block accepted")
	}
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// BenchmarkDial compares a dial made inside a namespace with a plain one,
// both to a listener on a local address, closed with RST (linger 0) so
// TIME_WAIT does not pile up.
func BenchmarkDial(b *testing.B) {
	accept := func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}
	run := func(b *testing.B, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			c, err := dial(ctx, "tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}
	b.Run("plain", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		go accept(l)
		var d net.Dialer
		run(b, d.DialContext, l.Addr().String())
	})
	b.Run("netns", func(b *testing.B) {
		n := newNS(b, Config{CIDRBlocks: []netip.Prefix{vpcCIDR}})
		l, err := n.Listen("tcp", "10.0.1.7:0")
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		go accept(l)
		run(b, n.Dial, l.Addr().String())
	})
	b.Run("do-empty", func(b *testing.B) {
		n := newNS(b, Config{})
		for b.Loop() {
			n.Do(func() error { return nil })
		}
	})
}
