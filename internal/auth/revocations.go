package auth

import (
	"context"
	"strings"
	"sync"
	"time"
)

// revocationSet is the in-memory copy of the revocations, so that checking a
// bearer token costs two map look-ups rather than a database round trip.
// Entries are dropped once their tokens have expired, since the expiry check
// rejects those tokens then.
type revocationSet struct {
	mu       sync.RWMutex
	tokens   map[string]time.Time // jti → token expiry
	sessions map[string]time.Time // sid → expiry of the session's last access token
}

func newRevocationSet() *revocationSet {
	return &revocationSet{tokens: make(map[string]time.Time), sessions: make(map[string]time.Time)}
}

// add records a revocation as stored: a jti, or "sid:" and a session id.
func (r *revocationSet) add(id string, exp time.Time) {
	r.mu.Lock()
	if sid, ok := strings.CutPrefix(id, sessionPrefix); ok {
		r.sessions[sid] = exp
	} else {
		r.tokens[id] = exp
	}
	r.mu.Unlock()
}

// revoked reports whether the token jti, or its session sid, is revoked.
func (r *revocationSet) revoked(jti, sid string) bool {
	r.mu.RLock()
	_, tok := r.tokens[jti]
	_, sess := r.sessions[sid]
	r.mu.RUnlock()
	return tok || (sess && sid != "")
}

func (r *revocationSet) prune(now time.Time) {
	r.mu.Lock()
	for _, m := range []map[string]time.Time{r.tokens, r.sessions} {
		for id, exp := range m {
			if !exp.After(now) {
				delete(m, id)
			}
		}
	}
	r.mu.Unlock()
}

// SyncInterval is how often Run reads new revocations from the store: the delay
// before a logout on one instance is honoured by the others.
const SyncInterval = 500 * time.Millisecond

// syncOverlap re-reads a window before the last sync so that a revocation that
// committed late, or was stamped by an instance whose clock is behind, is not missed.
const syncOverlap = 30 * time.Second

// LoadRevocations fills the revocation set from the store. Call it once before
// serving so that a restart honours every earlier logout.
func (s *Service) LoadRevocations(ctx context.Context) (time.Time, error) {
	return s.syncRevocations(ctx, time.Time{})
}

func (s *Service) syncRevocations(ctx context.Context, since time.Time) (time.Time, error) {
	now := s.Now().UTC()
	list, err := s.Store.RevocationsSince(ctx, since, now)
	if err != nil {
		return since, err
	}
	for _, r := range list {
		s.revoked.add(r.JTI, r.ExpiresAt)
	}
	return now, nil
}

// Run keeps the revocation set current with what other instances write to the
// store, and purges expired revocations, until ctx ends.
func (s *Service) Run(ctx context.Context, lastSync time.Time) {
	tick := time.NewTicker(SyncInterval)
	defer tick.Stop()
	lastPurge := s.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		synced, err := s.syncRevocations(ctx, lastSync.Add(-syncOverlap))
		if err != nil {
			s.Logger.WarnContext(ctx, "revocation sync failed", "err", err)
			continue
		}
		lastSync = synced
		if now := s.Now(); now.Sub(lastPurge) > time.Minute {
			s.revoked.prune(now)
			if err := s.Store.PurgeRevocations(ctx, now.UTC()); err != nil {
				s.Logger.WarnContext(ctx, "revocation purge failed", "err", err)
			}
			if err := s.Store.PurgeSessions(ctx, now.UTC()); err != nil {
				s.Logger.WarnContext(ctx, "session purge failed", "err", err)
			}
			lastPurge = now
		}
	}
}
