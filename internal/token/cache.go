package token

import (
	"sync"
	"time"
)

// cache remembers tokens that verified, so that a token seen before costs a map
// look-up instead of a signature verification. It is bounded, and an entry is
// only used while its token is unexpired. Revocation is not its concern: the
// caller checks that on every request. A new Issuer (a key change) starts with
// an empty cache, so a retired key's tokens are verified afresh, and refused.
type cache struct {
	shards [cacheShards]cacheShard
	max    int // entries per shard
}

const (
	cacheShards = 16
	// DefaultCacheSize bounds the verified-token cache (entries of about 1 KiB).
	DefaultCacheSize = 16384
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*Claims
}

// newCache returns a cache of size entries; nil (no caching) for size < 0.
func newCache(size int) *cache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	c := &cache{max: max(size/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*Claims)
	}
	return c
}

func (c *cache) shard(raw string) *cacheShard {
	// The signature's last bytes are as random as any hash of the token.
	return &c.shards[int(raw[len(raw)-1])%cacheShards]
}

// get returns the claims of a token verified before, if it is still valid at
// now (within the leeway, as Verify allows).
func (c *cache) get(raw string, now time.Time) (*Claims, bool) {
	if c == nil || raw == "" {
		return nil, false
	}
	s := c.shard(raw)
	s.mu.RLock()
	cl, ok := s.m[raw]
	s.mu.RUnlock()
	if !ok || !now.Before(cl.ExpiresAt.Add(Leeway)) || now.Add(Leeway).Before(cl.NotBefore.Time) {
		return nil, false
	}
	return cl, true
}

func (c *cache) put(raw string, cl *Claims, now time.Time) {
	if c == nil {
		return
	}
	s := c.shard(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.max {
		for k, v := range s.m {
			if !now.Before(v.ExpiresAt.Add(Leeway)) {
				delete(s.m, k)
			}
		}
		// Still full of live tokens: drop some (map order is random) rather
		// than grow; they are verified again when next seen.
		for k := range s.m {
			if len(s.m) < c.max {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[raw] = cl
}
