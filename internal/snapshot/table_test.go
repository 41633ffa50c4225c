package snapshot_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// A Table edited at random holds what a map edited alike holds, and an
// edit never changes the table it started from (snapshots share them).
func TestTableEditsLikeAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	want := map[string]int{}
	var tbl snapshot.Table[int]
	for round := range 300 {
		before, frozen := tbl, maps.Clone(want)
		e := tbl.Edit()
		for range rng.IntN(40) {
			k := fmt.Sprintf("k%d", rng.IntN(500))
			switch rng.IntN(3) {
			case 0:
				e.Delete(k)
				delete(want, k)
			default:
				v := rng.Int()
				e.Set(k, v)
				want[k] = v
			}
			if e.Get(k) != want[k] {
				t.Fatalf("round %d: the editor's %s = %d, want %d", round, k, e.Get(k), want[k])
			}
		}
		tbl = e.Table()
		same(t, tbl, want)
		same(t, before, frozen)
	}
	// Emptied, it is the zero Table.
	e := tbl.Edit()
	for k := range want {
		e.Delete(k)
	}
	if got := e.Table(); got != (snapshot.Table[int]{}) {
		t.Fatalf("an emptied table is not the zero Table: %d entries", got.Len())
	}
}

// A Table encodes to JSON as a map does, and back.
func TestTableJSON(t *testing.T) {
	want := map[string]int{"a": 1, "b": 2, "c": 3}
	b, err := json.Marshal(snapshot.TableOf(want))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := json.Marshal(want); string(b) != string(m) {
		t.Fatalf("encoded %s, want %s", b, m)
	}
	var back snapshot.Table[int]
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	same(t, back, want)
	if b, _ := json.Marshal(snapshot.Table[int]{}); string(b) != "{}" {
		t.Fatalf("the empty table encodes to %s", b)
	}
}

func same(t *testing.T, tbl snapshot.Table[int], want map[string]int) {
	t.Helper()
	if tbl.Len() != len(want) {
		t.Fatalf("Len %d, want %d", tbl.Len(), len(want))
	}
	got := map[string]int{}
	for k, v := range tbl.All() {
		got[k] = v
	}
	if !maps.Equal(got, want) {
		t.Fatalf("All yields %v, want %v", got, want)
	}
	for k, v := range want {
		if x, ok := tbl.Lookup(k); !ok || x != v || tbl.Get(k) != v || tbl.GetBytes([]byte(k)) != v {
			t.Fatalf("%s: Lookup (%d, %v), Get %d, GetBytes %d, want %d", k, x, ok, tbl.Get(k), tbl.GetBytes([]byte(k)), v)
		}
	}
	if _, ok := tbl.Lookup("absent"); ok || tbl.Get("absent") != 0 {
		t.Fatal("an absent key is found")
	}
}

// BenchmarkTableGet is the request path's lookup of a host among 10,000,
// in a Table and in the plain map it replaced (issue 15: a lookup must
// stay about as fast).
//
//	go test -run x -bench 'TableGet|TableEdit' ./internal/snapshot/
func BenchmarkTableGet(b *testing.B) {
	m := map[string]*snapshot.Service{}
	for i := range 10000 {
		m[fmt.Sprintf("svc%d-0%016x.abc1234.vpc-lattice-svcs.us-east-1.on.aws", i, i+1)] = &snapshot.Service{}
	}
	tbl := snapshot.TableOf(m)
	host := "svc5000-00000000000001389.abc1234.vpc-lattice-svcs.us-east-1.on.aws"
	if m[host] == nil {
		b.Fatal("no such host")
	}
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if m[host] == nil {
				b.Fatal("lost")
			}
		}
	})
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if tbl.Get(host) == nil {
				b.Fatal("lost")
			}
		}
	})
	buf := []byte(host)
	b.Run("table-bytes", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if tbl.GetBytes(buf) == nil {
				b.Fatal("lost")
			}
		}
	})
}

// BenchmarkTableEdit replaces one entry of 10,000: what an incremental
// compile does to each host, DNS, name and target group table, against
// the maps.Clone it replaced.
func BenchmarkTableEdit(b *testing.B) {
	m := map[string]*snapshot.Service{}
	for i := range 10000 {
		m[fmt.Sprintf("svc%d-0%016x.abc1234.vpc-lattice-svcs.us-east-1.on.aws", i, i+1)] = &snapshot.Service{}
	}
	tbl := snapshot.TableOf(m)
	host := "svc5000-00000000000001389.abc1234.vpc-lattice-svcs.us-east-1.on.aws"
	b.Run("map-clone", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			c := maps.Clone(m)
			c[host] = &snapshot.Service{}
		}
	})
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			e := tbl.Edit()
			e.Set(host, &snapshot.Service{})
			_ = e.Table()
		}
	})
}
