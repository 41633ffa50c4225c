package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// signingKey is a derived SigV4 signing key, kept with the SHA-256 states
// left after hashing key^ipad and key^opad, so that each HMAC costs two
// fewer compression blocks than crypto/hmac and allocates nothing.
type signingKey struct {
	in    cacheKey // what it was derived from (set when cached)
	key   [32]byte
	inner []byte // marshaled sha256 state after absorbing key XOR ipad
	outer []byte // ... after absorbing key XOR opad
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// deriveSigningKey computes
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func deriveSigningKey(secret, date, region, service string) *signingKey {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, scopeTerminator)
	sk := &signingKey{}
	copy(sk.key[:], k)

	var ipad, opad [sha256.BlockSize]byte
	copy(ipad[:], k)
	copy(opad[:], k)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	h := sha256.New()
	h.Write(ipad[:])
	var err error
	if sk.inner, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		panic("sigv4: sha256 state cannot be marshaled: " + err.Error())
	}
	h.Reset()
	h.Write(opad[:])
	if sk.outer, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		panic("sigv4: sha256 state cannot be marshaled: " + err.Error())
	}
	return sk
}

// mac appends HMAC-SHA256(key, msg) to s.mac[:0] and returns it.
func (s *scratch) macSum(k *signingKey, msg []byte) []byte {
	if err := s.hu.UnmarshalBinary(k.inner); err != nil {
		panic("sigv4: sha256 state cannot be restored: " + err.Error())
	}
	s.h.Write(msg)
	inner := s.h.Sum(s.mac[:0])
	if err := s.hu.UnmarshalBinary(k.outer); err != nil {
		panic("sigv4: sha256 state cannot be restored: " + err.Error())
	}
	s.h.Write(inner)
	return s.h.Sum(inner[len(inner):len(inner)])
}

// appendStringToSign writes the string to sign of the canonical request in
// s.canon into s.sts:
//
//	ALGORITHM \n AMZ-DATE \n SCOPE \n hex(SHA-256(canonical request))
//
// SigV4 and SigV4A differ only in the algorithm name and the scope (SigV4A's
// has no region).
func (s *scratch) appendStringToSign(algorithm, amzDate, scope string) {
	sum := sha256.Sum256(s.canon)
	b := s.sts[:0]
	b = append(b, algorithm...)
	b = append(b, '\n')
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = appendHex(b, sum[:])
	s.sts = b
}

// hexPairs[b] is the lowercase hex of byte b, as a little-endian uint16.
var hexPairs = func() (t [256]uint16) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = uint16(digits[i>>4]) | uint16(digits[i&15])<<8
	}
	return t
}()

// appendHex appends the lowercase hex of src, like hex.AppendEncode but
// with one table lookup and one 2-byte store per byte.
func appendHex(dst, src []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(src))[:n+2*len(src)]
	out := dst[n:]
	for i, b := range src {
		binary.LittleEndian.PutUint16(out[2*i:], hexPairs[b])
	}
	return dst
}

// signature computes the hex SigV4 signature of the canonical request in
// s.canon into s.sig, leaving the string to sign in s.sts.
func (s *scratch) signature(k *signingKey, algorithm, amzDate, scope string) {
	s.appendStringToSign(algorithm, amzDate, scope)
	s.sig = appendHex(s.sig[:0], s.macSum(k, s.sts))
}

// shardedCache is a bounded map from derived-key inputs to derived keys,
// used for SigV4A public keys (SigV4 signing keys, looked up on every
// request, live in the lock-free keyCache below). Keys change rarely, so the
// cache is tiny and read-mostly; it is sharded to keep readers on different
// cores off one lock word. The shard is chosen by hashing a
// string component of the key (the secret).
type shardedCache[K comparable, V any] struct {
	seed   maphash.Seed
	shards [keyCacheShards]cacheShard[K, V]
}

const (
	keyCacheShards   = 16
	keyCacheShardMax = 256 // entries per shard
)

type cacheShard[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
	_  [64]byte // keep shards on separate cache lines
}

func (c *shardedCache[K, V]) shard(h string) *cacheShard[K, V] {
	return &c.shards[maphash.String(c.seed, h)%keyCacheShards]
}

func (c *shardedCache[K, V]) lookup(h string, k K) (V, bool) {
	sh := c.shard(h)
	sh.mu.RLock()
	v, ok := sh.m[k]
	sh.mu.RUnlock()
	return v, ok
}

// store adds k; the caller must not pass strings that alias a request.
func (c *shardedCache[K, V]) store(h string, k K, v V) {
	sh := c.shard(h)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[K]V)
	}
	if len(sh.m) >= keyCacheShardMax {
		for old := range sh.m { // evict an arbitrary entry
			delete(sh.m, old)
			break
		}
	}
	sh.m[k] = v
	sh.mu.Unlock()
}

// keyCache caches derived SigV4 signing keys by (secret, date, region,
// service). It is read on every request, so a lookup takes no lock: the cache
// is a fixed table of atomic pointers in which each key has two candidate
// slots chosen by a seeded hash (two-choice hashing); a lookup loads both and
// compares the inputs stored in the entry. A miss derives the key and stores
// it in an empty candidate slot, or else over an entry of the first one, so
// the cache never holds more than keyCacheSlots keys. Readers on different
// cores only ever read the shared slots, so they do not contend on a lock
// word as they would with a sync.RWMutex.
type keyCache struct {
	seed  maphash.Seed
	slots [keyCacheSlots]atomic.Pointer[signingKey]
}

// keyCacheSlots is the table size (a power of two): 32 KiB of pointers.
const keyCacheSlots = 4096

type cacheKey struct{ secret, date, region, service string }

// signingKeys is shared by all Verifiers: a derived key depends only on its
// inputs, so sharing is safe.
var signingKeys = newKeyCache()

func newKeyCache() *keyCache { return &keyCache{seed: maphash.MakeSeed()} }

// slotsOf returns the two candidate slots of k.
func (c *keyCache) slotsOf(k cacheKey) (*atomic.Pointer[signingKey], *atomic.Pointer[signingKey]) {
	h := maphash.Comparable(c.seed, k)
	return &c.slots[h&(keyCacheSlots-1)], &c.slots[(h>>32)&(keyCacheSlots-1)]
}

func (c *keyCache) get(secret, date, region, service string) *signingKey {
	k := cacheKey{secret, date, region, service}
	s1, s2 := c.slotsOf(k)
	if sk := s1.Load(); sk != nil && sk.in == k {
		return sk
	}
	if sk := s2.Load(); sk != nil && sk.in == k {
		return sk
	}
	sk := deriveSigningKey(secret, date, region, service)
	// The strings may alias a request header; do not pin it in the cache.
	sk.in = cacheKey{strings.Clone(secret), strings.Clone(date), strings.Clone(region), strings.Clone(service)}
	if !s1.CompareAndSwap(nil, sk) && !s2.CompareAndSwap(nil, sk) {
		s1.Store(sk)
	}
	return sk
}

// ctEqual compares in constant time (for equal lengths), eight bytes at a
// time.
func ctEqual(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v uint64
	i := 0
	for ; i+8 <= len(a); i += 8 {
		v |= binary.LittleEndian.Uint64(a[i:]) ^ load64(b[i:])
	}
	for ; i < len(a); i++ {
		v |= uint64(a[i] ^ b[i])
	}
	v |= v >> 32
	v |= v >> 16
	v |= v >> 8
	return subtle.ConstantTimeByteEq(uint8(v), 0) == 1
}

// load64 reads the first eight bytes of s as a little-endian word (one
// load: the compiler combines the byte loads).
func load64(s string) uint64 {
	w := s[:8]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

func ctEqualString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}
