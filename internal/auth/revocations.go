package auth

import (
	"context"
	"sync"
	"time"
)

// revocationSet is the in-memory copy of the revoked token ids, so that checking
// a bearer token costs a map look-up rather than a database round trip. Entries
// are dropped once their token has expired, since the expiry check rejects it then.
type revocationSet struct {
	mu  sync.RWMutex
	ids map[string]time.Time // jti → token expiry
}

func newRevocationSet() *revocationSet {
	return &revocationSet{ids: make(map[string]time.Time)}
}

func (r *revocationSet) add(jti string, exp time.Time) {
	r.mu.Lock()
	r.ids[jti] = exp
	r.mu.Unlock()
}

func (r *revocationSet) has(jti string) bool {
	r.mu.RLock()
	_, ok := r.ids[jti]
	r.mu.RUnlock()
	return ok
}

func (r *revocationSet) prune(now time.Time) {
	r.mu.Lock()
	for jti, exp := range r.ids {
		if !exp.After(now) {
			delete(r.ids, jti)
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
