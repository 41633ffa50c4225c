//go:build linux

package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/netns"
)

// postgresBin is the bin directory of the newest PostgreSQL that Debian's
// packages installed (/usr/lib/postgresql/VERSION/bin), or "" with the
// reason it cannot be used.
func postgresBin() (string, string) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		ok := true
		for _, b := range []string{"initdb", "postgres", "psql"} {
			if _, err := os.Stat(filepath.Join(dirs[i], b)); err != nil {
				ok = false
			}
		}
		if ok {
			return dirs[i], ""
		}
	}
	return "", "no PostgreSQL server and client under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
}

// needPostgres skips the test with the reason when it cannot run, unless
// TRELLIS_POSTGRES_E2E=required (CI), which fails it instead.
func needPostgres(t *testing.T) (bin string, pg *user.User) {
	t.Helper()
	miss := func(reason string) {
		if os.Getenv("TRELLIS_POSTGRES_E2E") == "required" {
			t.Fatalf("TRELLIS_POSTGRES_E2E=required: %s", reason)
		}
		t.Skip(reason)
	}
	if os.Geteuid() != 0 {
		miss("the PostgreSQL test needs root (network-namespace VPCs; PostgreSQL run as the postgres user)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		miss("ip (iproute2) not installed")
	}
	bin, why := postgresBin()
	if bin == "" {
		miss(why)
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		miss("no postgres user: " + err.Error())
	}
	return bin, pg
}

// startPostgres initdb's a throwaway cluster in a directory of its own
// (owned by the postgres user; removed at the end) and runs the server as
// that user on 127.0.0.1:port, its unix socket in that directory, trust
// authentication for the superuser "trellis". The server is stopped by its
// PID at the end of the test, failed or not.
func startPostgres(t *testing.T, bin string, pg *user.User, port int) {
	t.Helper()
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	dir, err := os.MkdirTemp("", "trellis-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + bin + ":/usr/bin:/bin", "LC_ALL=C"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres("initdb", "-D", data, "-U", "trellis", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv := asPostgres("postgres", "-D", data, "-k", dir, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "log_connections=on")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		// SIGINT: PostgreSQL's fast shutdown (ends sessions, no wait).
		_ = srv.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "postgres.log")); err == nil {
				t.Logf("postgres log:\n%s", b)
			}
		}
	})
	eventually(t, 30*time.Second, "postgres to accept connections", func() bool {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			t.Fatalf("postgres exited:\n%s", b)
		default:
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// TestPostgresThroughResourceGateway is the resource data plane's "done
// when": a real PostgreSQL (Debian's) behind a resource gateway, reached
// as a user reaches a database. A SINGLE ipResource configuration on the
// server's port, in a service network; a netns client VPC associated with
// the network runs psql inside its namespace against the association's
// generated DNS name — resolved by the VPC's own resolver to the
// configuration's address in 129.224.0.0/17 — and gets SELECT 41+1 = 42;
// the custom domain (privateDnsEnabled) works too; the connection is
// logged as a VpcLatticeResourceAccessLogs record. Another account's
// service listens on the same port, which every VPC's ingress then opens:
// that used to keep the resource's port out of every VPC (regression).
func TestPostgresThroughResourceGateway(t *testing.T) {
	bin, pg := needPostgres(t)
	pgPort := freeLoopbackPort(t)
	startPostgres(t, bin, pg, pgPort)

	dnsPort := freeDNSPort(t)
	var names []string
	sweepNetns(t, func() []string { return names })
	w := newWorld(t, apptest.Options{DNS: app.DNSConfig{Port: dnsPort, Upstreams: []string{testUpstream(t)}}})
	acct := w.s.Account

	// Another account's service listens on the database's port.
	const other = "111122223333"
	if st, typ, body := nativeCall(t, w.s, "PUT", "/trellis/v1/accounts/"+other, nil); st != 201 {
		t.Fatalf("account: %d %s %s", st, typ, body)
	}
	st, typ, body := nativeCall(t, w.s, "POST", "/trellis/v1/accounts/"+other+"/accesskeys", nil)
	if st != 201 {
		t.Fatalf("key: %d %s %s", st, typ, body)
	}
	var key struct{ AccessKeyID, SecretAccessKey string }
	if err := json.Unmarshal(body, &key); err != nil {
		t.Fatal(err)
	}
	oc := vpclattice.New(vpclattice.Options{Region: w.s.Region, BaseEndpoint: aws.String(w.s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""), RetryMaxAttempts: 1})
	osvc := need(oc.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("their-web")})).ok(t)
	need(oc.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: osvc.Id, Name: aws.String("same-port"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(int32(pgPort)), DefaultAction: &types.RuleActionMemberFixedResponse{
			Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}})).ok(t)

	// The client: a netns VPC associated with the network.
	client := randomVpcID(t)
	st, typ, body = nativeCall(t, w.s, "PUT", "/trellis/v1/vpcs/"+client, map[string]any{"mode": "netns", "cidrBlocks": []string{"10.0.0.0/16"}})
	if st != 201 {
		t.Fatalf("PUT netns vpc: %d %s %s", st, typ, body)
	}
	var cv netnsVPC
	if err := json.Unmarshal(body, &cv); err != nil {
		t.Fatal(err)
	}
	names = append(names, cv.NetnsName)
	t.Cleanup(func() { _ = netns.Remove(cv.NetnsName) })
	w.clientVPC(client, w.sn.Id)

	// The gateway in a host-mode VPC (the database listens on the host's
	// loopback), a SINGLE configuration on the database's port, the
	// network's RESOURCE access log, the association with private DNS.
	const gwVPC = "vpc-000000000000000d1"
	if st := w.native("PUT", "/trellis/v1/vpcs/"+gwVPC, nil); st != 201 {
		t.Fatalf("PUT gateway vpc: %d", st)
	}
	gw := need(w.c.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("pg-gw"),
		VpcIdentifier: aws.String(gwVPC), SubnetIds: []string{"subnet-0123456789abcdef0"}})).ok(t)
	// The custom domain is verified (the administrator's verify), so the
	// client VPC's association, with the default preference
	// VERIFIED_DOMAINS_ONLY, answers it.
	dv := need(w.c.StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("orders.internal")})).ok(t)
	if st := w.native("POST", "/trellis/v1/domainverifications/"+aws.ToString(dv.Id)+"/verify", nil); st != 200 {
		t.Fatalf("verify: %d", st)
	}
	cfg := need(w.c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("orders-pg"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: gw.Id, PortRanges: []string{strconv.Itoa(pgPort)},
		Protocol: types.ProtocolTypeTcp, CustomDomainName: aws.String("pg.orders.internal"), DomainVerificationIdentifier: dv.Id,
		ResourceConfigurationDefinition: &types.ResourceConfigurationDefinitionMemberIpResource{Value: types.IpResource{IpAddress: aws.String("127.0.0.1")}}})).ok(t)
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.sn.Arn,
		ServiceNetworkLogType: types.ServiceNetworkLogTypeResource,
		DestinationArn:        aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/pg")})).ok(t)
	assoc := need(w.c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ResourceConfigurationIdentifier: cfg.Id, PrivateDnsEnabled: aws.Bool(true)})).ok(t)
	got := need(w.c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{
		ServiceNetworkResourceAssociationIdentifier: assoc.Id})).ok(t)
	if got.DnsEntry == nil || !strings.HasPrefix(aws.ToString(got.DnsEntry.DomainName), *assoc.Id+"."+*cfg.Id+".") {
		t.Fatalf("dnsEntry: %+v", got.DnsEntry)
	}
	gen := aws.ToString(got.DnsEntry.DomainName)

	// The other account's listener port is open at the client VPC's
	// ingress (the clash is real).
	eventually(t, 10*time.Second, "the other account's listener socket in the client VPC", func() bool {
		ns, err := netns.Open(cv.NetnsName)
		if err != nil {
			return false
		}
		defer ns.Close()
		c, err := ns.Dial(context.Background(), "tcp", net.JoinHostPort(cv.IngressAddress, strconv.Itoa(pgPort)))
		if err != nil {
			return false
		}
		c.Close()
		return true
	})

	// psql, inside the client's namespace (its resolv.conf names the VPC's
	// resolver), by the generated name, then by the custom domain.
	psql := func(host string) (string, error) {
		cmd := exec.Command("ip", "netns", "exec", cv.NetnsName, filepath.Join(bin, "psql"), "-h", host, "-p", strconv.Itoa(pgPort),
			"-U", "trellis", "-d", "postgres", "-X", "-A", "-t", "-c", "SELECT 41+1")
		cmd.Env = []string{"PGCONNECT_TIMEOUT=5", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent"}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := psql(gen)
		if err == nil && out == "42" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("psql through the resource gateway: %q %v", out, err)
		}
	}
	if out, err := psql("pg.orders.internal"); err != nil || out != "42" {
		t.Fatalf("psql by the custom domain: %q %v", out, err)
	}
	// The name resolves, in the VPC, to the configuration's own address.
	addrs, err := inNS(cv.NetnsName, "getent", "ahostsv4", gen)
	if err != nil {
		t.Fatalf("getent in the client namespace: %v %s", err, addrs)
	}
	rsrc, perr := netip.ParseAddr(strings.Fields(addrs)[0])
	if perr != nil || !model.NetnsResourcePrefix.Contains(rsrc) {
		t.Fatalf("%s resolves to %q in the client VPC, want an address of %v", gen, addrs, model.NetnsResourcePrefix)
	}

	// One VpcLatticeResourceAccessLogs record per connection (each psql
	// connects once; the first tries may have been refused before the
	// socket was open, and a refused try reaches nothing to log).
	glob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Fpg", *w.sn.Id+".log")
	var recs []map[string]any
	eventually(t, 5*time.Second, "the resource access log records", func() bool {
		recs = readJSONLines(t, glob)
		return len(recs) >= 2
	})
	dest := net.JoinHostPort(rsrc.String(), strconv.Itoa(pgPort))
	t.Logf("%s -> %s; %d records, first %v", gen, rsrc, len(recs), recs[0])
	for _, r := range recs {
		src, _ := r["sourceIpPort"].(string)
		if r["serviceNetworkArn"] != *w.sn.Arn || r["serviceNetworkResourceAssociationId"] != *assoc.Id ||
			r["resourceConfigurationArn"] != *cfg.Arn || r["protocol"] != "tcp" ||
			r["sourceVpcArn"] != "arn:aws:ec2:us-east-1:"+acct+":vpc/"+client || r["destinationIpPort"] != dest ||
			r["resourceIpPort"] != fmt.Sprintf("127.0.0.1:%d", pgPort) || src == "" || src == "-" {
			t.Fatalf("record %v; want destinationIpPort %s", r, dest)
		}
	}
}
