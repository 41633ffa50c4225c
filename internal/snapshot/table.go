package snapshot

import (
	"encoding/json"
	"hash/maphash"
	"iter"
)

// tableShards is the number of shards of a Table: at 10,000 entries an
// edit copies one shard of about 40 entries and the 256 shard pointers
// (2 KiB), instead of the whole map (issue 15: cloning the 10,000-entry
// host, DNS, name and target group tables was most of an incremental
// compile, and their garbage a good part of the GC's work).
const tableShards = 256

// tableSeed picks the shards. It is made once per process: shard
// placement is not part of a snapshot's meaning (iteration order is
// unspecified, as a map's), but two tables of one process with the same
// entries are laid out alike (reflect.DeepEqual holds).
var tableSeed = maphash.MakeSeed()

func shardOf(key string) int {
	return int(maphash.String(tableSeed, key) & (tableShards - 1))
}

// Table is an immutable map from a string to V, shared structurally
// between snapshots: a two-level map (256 shards of Go maps) in which an
// edit (Table.Edit) copies only the shards it touches, so that an
// incremental compile's cost does not grow with the table's size. A
// lookup costs one hash more than a map's (BenchmarkTableGet). The zero
// Table is empty. A Table is never changed once built: share it freely.
type Table[V any] struct {
	shards *[tableShards]map[string]V // nil when empty; a shard with no entries is nil
	n      int
}

// Get returns the value of key, or V's zero value.
func (t Table[V]) Get(key string) V {
	if t.shards == nil {
		var zero V
		return zero
	}
	return t.shards[shardOf(key)][key]
}

// GetBytes is Get of string(key), without allocating the string (the
// request path lowercases a Host header into a buffer, then looks it up).
func (t Table[V]) GetBytes(key []byte) V {
	if t.shards == nil {
		var zero V
		return zero
	}
	// A map index by string(b) does not allocate (the compiler's
	// special case).
	return t.shards[maphash.Bytes(tableSeed, key)&(tableShards-1)][string(key)]
}

// Lookup returns the value of key and whether the table holds it.
func (t Table[V]) Lookup(key string) (V, bool) {
	if t.shards == nil {
		var zero V
		return zero, false
	}
	v, ok := t.shards[shardOf(key)][key]
	return v, ok
}

// Len returns the number of entries.
func (t Table[V]) Len() int { return t.n }

// All yields every entry, in no particular order.
func (t Table[V]) All() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		if t.shards == nil {
			return
		}
		for _, s := range t.shards {
			for k, v := range s {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// Values yields every value, in no particular order.
func (t Table[V]) Values() iter.Seq[V] {
	return func(yield func(V) bool) {
		for _, v := range t.All() {
			if !yield(v) {
				return
			}
		}
	}
}

// MarshalJSON encodes the table as a JSON object, as a map would be (for
// debugging dumps and tools; the snapshot is not stored).
func (t Table[V]) MarshalJSON() ([]byte, error) {
	m := make(map[string]V, t.n)
	for k, v := range t.All() {
		m[k] = v
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes a JSON object into the table.
func (t *Table[V]) UnmarshalJSON(b []byte) error {
	var m map[string]V
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*t = TableOf(m)
	return nil
}

// TableOf builds a Table holding m's entries (m is not kept).
func TableOf[V any](m map[string]V) Table[V] {
	e := newTable[V](len(m))
	for k, v := range m {
		e.Set(k, v)
	}
	return e.Table()
}

// Edit starts an edit of t: a TableEditor whose Table is t with the
// changes made through it, t itself unchanged.
func (t Table[V]) Edit() *TableEditor[V] {
	return &TableEditor[V]{base: t.shards, n: t.n}
}

// newTable starts a Table of about n entries: its shards are made with
// room for their share, so that a full compile does not grow each map
// step by step.
func newTable[V any](n int) *TableEditor[V] {
	return &TableEditor[V]{shardCap: n/tableShards + n/(4*tableShards)}
}

// TableEditor makes a new Table from an old one, copying a shard the
// first time it changes it. Not safe for concurrent use.
type TableEditor[V any] struct {
	base     *[tableShards]map[string]V // the old table's shards
	shards   *[tableShards]map[string]V // the new table's, once one changed
	owned    [tableShards / 64]uint64   // the shards of shards this edit made
	n        int
	shardCap int // room of a new shard (newTable)
}

// Get returns the value of key as the edit stands.
func (e *TableEditor[V]) Get(key string) V {
	s := e.shards
	if s == nil {
		s = e.base
	}
	if s == nil {
		var zero V
		return zero
	}
	return s[shardOf(key)][key]
}

// shard returns shard i of the new table, copied first if it is the old
// table's.
func (e *TableEditor[V]) shard(i int) map[string]V {
	if e.shards == nil {
		e.shards = new([tableShards]map[string]V)
		if e.base != nil {
			*e.shards = *e.base
		}
	}
	if e.owned[i/64]&(1<<(i%64)) == 0 {
		old := e.shards[i]
		m := make(map[string]V, max(len(old)+1, e.shardCap))
		for k, v := range old {
			m[k] = v
		}
		e.shards[i] = m
		e.owned[i/64] |= 1 << (i % 64)
	}
	return e.shards[i]
}

// Set sets the value of key.
func (e *TableEditor[V]) Set(key string, v V) {
	m := e.shard(shardOf(key))
	if _, ok := m[key]; !ok {
		e.n++
	}
	m[key] = v
}

// Delete removes key.
func (e *TableEditor[V]) Delete(key string) {
	i := shardOf(key)
	s := e.shards
	if s == nil {
		s = e.base
	}
	if s == nil {
		return
	}
	if _, ok := s[i][key]; !ok {
		return // nothing to copy
	}
	m := e.shard(i)
	delete(m, key)
	e.n--
	if len(m) == 0 {
		// An empty shard is nil, so that two tables with the same entries
		// are alike (reflect.DeepEqual in the tests).
		e.shards[i] = nil
		e.owned[i/64] &^= 1 << (i % 64)
	}
}

// Table returns the edited table. The editor must not be used after.
func (e *TableEditor[V]) Table() Table[V] {
	if e.shards == nil {
		return Table[V]{shards: e.base, n: e.n}
	}
	if e.n == 0 {
		return Table[V]{}
	}
	return Table[V]{shards: e.shards, n: e.n}
}
