package auth

import (
	"sync"
	"time"
)

// ProfileCacheTTL is how long Profile may answer from memory: a busy /profile
// costs a map look-up instead of a database query per request, at the price
// of data up to this old (profiles change only through the database anyway).
const ProfileCacheTTL = time.Second

// profileCacheSize bounds the cache; past it, entries are dropped.
const profileCacheSize = 16384

type cachedUser struct {
	u       User
	expires time.Time
}

type userCache struct {
	mu sync.RWMutex
	m  map[int64]cachedUser
}

func newUserCache() *userCache { return &userCache{m: make(map[int64]cachedUser)} }

func (c *userCache) get(id int64, now time.Time) (User, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return User{}, false
	}
	return e.u, true
}

func (c *userCache) put(u User, now time.Time) {
	u.PasswordHash = "" // Profile never needs it; keep it out of memory that lives on
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= profileCacheSize {
		for id, e := range c.m {
			if !now.Before(e.expires) || len(c.m) >= profileCacheSize {
				delete(c.m, id)
			}
		}
	}
	c.m[u.ID] = cachedUser{u: u, expires: now.Add(ProfileCacheTTL)}
}
