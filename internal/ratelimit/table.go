package ratelimit

import (
	"encoding/binary"
	"sync"
)

// DefaultMaxKeys is how many keys a memory limiter remembers unless told
// otherwise: about 12 MB when full, and far more than the clients one instance
// serves within a limit's period.
const DefaultMaxKeys = 100_000

// tableShards spreads keys over independently locked parts, so that
// concurrent requests rarely wait for each other.
const tableShards = 16

// table is the bounded memory behind [MemoryLimiter] and [MemoryFailures]: a
// map from key digests to values, each of which expires at a known time, with
// at most max entries. When full, it evicts the least recently used entry, so
// an attacker who rotates through addresses or e-mails can make it forget idle
// keys but cannot make it grow. Expired entries are removed when they are
// looked up and, a few at a time, whenever an entry is added, so that no
// sweeping goroutine (and no Close) is needed.
type table[V any] struct {
	shards [tableShards]shard[V]
}

type shard[V any] struct {
	mu  sync.Mutex
	m   map[digest]*entry[V]
	lru entry[V] // sentinel of a ring: lru.next is the most recently used
	max int
}

type entry[V any] struct {
	key        digest
	val        V
	expires    int64 // µs; the entry is gone at or after it
	prev, next *entry[V]
}

func newTable[V any](maxKeys int) *table[V] {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	per := max(1, (maxKeys+tableShards-1)/tableShards)
	t := &table[V]{}
	for i := range t.shards {
		s := &t.shards[i]
		s.m = make(map[digest]*entry[V])
		s.lru.next, s.lru.prev = &s.lru, &s.lru
		s.max = per
	}
	return t
}

// shard returns the part of t that holds d. The digest is a cryptographic
// hash, so its bytes spread keys evenly whatever an attacker chooses.
func (t *table[V]) shard(d digest) *shard[V] {
	return &t.shards[binary.LittleEndian.Uint32(d[:4])%tableShards]
}

// len counts the entries, expired or not.
func (t *table[V]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// lookup returns d's live entry, marked as just used, or nil. s.mu is held.
func (s *shard[V]) lookup(d digest, now int64) *entry[V] {
	e := s.m[d]
	if e == nil {
		return nil
	}
	if now >= e.expires {
		s.remove(e)
		return nil
	}
	s.unlink(e)
	s.pushFront(e)
	return e
}

// insert adds an entry for d, which has none, evicting expired and then least
// recently used entries to make room. s.mu is held.
func (s *shard[V]) insert(d digest, now int64) *entry[V] {
	// Removing up to two expired entries per insertion keeps the table from
	// filling with dead ones at a bounded cost per call.
	for range 2 {
		if last := s.lru.prev; last != &s.lru && now >= last.expires {
			s.remove(last)
		}
	}
	if len(s.m) >= s.max {
		s.remove(s.lru.prev)
	}
	e := &entry[V]{key: d}
	s.m[d] = e
	s.pushFront(e)
	return e
}

// remove deletes e. s.mu is held.
func (s *shard[V]) remove(e *entry[V]) {
	s.unlink(e)
	delete(s.m, e.key)
}

// delete removes d's entry if there is one. s.mu is held.
func (s *shard[V]) delete(d digest) {
	if e := s.m[d]; e != nil {
		s.remove(e)
	}
}

func (s *shard[V]) unlink(e *entry[V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *shard[V]) pushFront(e *entry[V]) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

// remove forgets key.
func (t *table[V]) remove(key string) {
	d := digestKey(key)
	s := t.shard(d)
	s.mu.Lock()
	s.delete(d)
	s.mu.Unlock()
}
