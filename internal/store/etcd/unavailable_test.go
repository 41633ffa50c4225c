package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

// TestUnavailableClassification: the errors of a cluster out of reach wrap
// store.ErrUnavailable; a request refused as it is, or the caller's own
// cancellation, does not.
func TestUnavailableClassification(t *testing.T) {
	live := context.Background()
	for _, err := range []error{
		rpctypes.ErrNoLeader, rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrStopped,
		rpctypes.ErrGRPCNoLeader, status.Error(codes.Unavailable, "connection refused"),
		context.DeadlineExceeded, fmt.Errorf("etcd get: %w", context.DeadlineExceeded),
		status.Error(codes.DeadlineExceeded, "deadline"),
	} {
		if got := unavailable(live, err); !errors.Is(got, store.ErrUnavailable) || !errors.Is(got, err) {
			t.Errorf("%v: %v, want it wrapped with ErrUnavailable", err, got)
		}
	}
	for _, err := range []error{
		rpctypes.ErrTooManyOps, rpctypes.ErrRequestTooLarge, rpctypes.ErrCompacted, rpctypes.ErrPermissionDenied,
		rpctypes.ErrNoSpace, errConflict, errBadCounter, status.Error(codes.InvalidArgument, "bad"), errors.New("other"),
	} {
		if got := unavailable(live, err); errors.Is(got, store.ErrUnavailable) {
			t.Errorf("%v: %v, not a cluster out of reach", err, got)
		}
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if got := unavailable(done, context.DeadlineExceeded); errors.Is(got, store.ErrUnavailable) {
		t.Errorf("the caller's own ctx ended: %v", got)
	}
}

// TestStoreAway: with its only member stopped, every call answers
// ErrUnavailable within about CommitTimeout (not etcd's own timeouts), a
// write changes nothing, and after the member is back the store works and
// holds exactly what was acknowledged.
func TestStoreAway(t *testing.T) {
	c := etcdtest.Start(t)
	s, err := Open(ctx, Config{Endpoints: c.Endpoints(), Prefix: "/away/", CommitTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rev, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("a", []byte("1")) })
	if err != nil {
		t.Fatal(err)
	}
	c.Members[0].Stop()

	bounded := func(what string, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		took := time.Since(start)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with etcd stopped: %v, want ErrUnavailable", what, err)
		}
		if took > 3*time.Second {
			t.Errorf("%s with etcd stopped took %v, want about CommitTimeout (1s)", what, took)
		}
	}
	bounded("Update", func() error {
		_, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("b", []byte("2")) })
		return err
	})
	bounded("View", func() error { return s.View(ctx, func(store.ReadTx) error { return nil }) })
	bounded("Revision", func() error { _, err := s.Revision(ctx); return err })
	// The caller's own deadline is the caller's error, not the store's.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = s.Revision(short)
	cancel()
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Revision with the caller's ctx ended: %v", err)
	}
	// Open of the stopped cluster names its endpoints.
	if _, err := Open(ctx, Config{Endpoints: c.Endpoints(), DialTimeout: 500 * time.Millisecond}); !errors.Is(err, store.ErrUnavailable) ||
		!strings.Contains(err.Error(), c.Endpoints()[0]) {
		t.Errorf("Open of a stopped cluster: %v", err)
	}
	// Dial does not contact it.
	d, err := Dial(Config{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer d.Close()

	c.Members[0].Restart(t)
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("Ping after the restart: %v", err)
	}
	var got []string
	err = s.View(ctx, func(tx store.ReadTx) error {
		if tx.Revision() != rev {
			t.Errorf("revision %d after the outage, want %d (nothing committed)", tx.Revision(), rev)
		}
		return tx.Scan("", "", func(k string, _ []byte) (bool, error) { got = append(got, k); return true, nil })
	})
	if err != nil || strings.Join(got, ",") != "a" {
		t.Fatalf("after the restart: keys %v, %v; want only a", got, err)
	}
	if _, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("c", []byte("3")) }); err != nil {
		t.Fatalf("Update after the restart: %v", err)
	}
}

// TestOutcomeUnknown: a commit that etcd applied but whose every answer is
// lost until CommitTimeout is never acknowledged: the error wraps
// ErrUnavailable and says that the write may have been applied (it was).
func TestOutcomeUnknown(t *testing.T) {
	defer func() { loseAnswer = nil }()
	loseAnswer = func(int) bool { return true }
	c := etcdtest.Start(t)
	s, err := Open(ctx, Config{Endpoints: c.Endpoints(), Prefix: "/unknown/", CommitTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte("v")) })
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "may or may not have been applied") {
		t.Fatalf("Update whose answers are lost: %v", err)
	}
	loseAnswer = nil
	if rev, err := s.Revision(ctx); err != nil || rev != 1 {
		t.Fatalf("revision %d, %v: the first attempt was applied", rev, err)
	}
}
