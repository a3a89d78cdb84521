package broker

// The signing cache: part URLs are signed without a session-store read.
//
// Signing a part needs only facts a session never changes while it is
// open (subject, key, store upload id, plan, backend, profile, expiry,
// strategy). Each replica keeps them in memory, filled when it creates a
// session and when it first reads one, so part-urls and the Uppy part
// route answer from memory — also while Redis is unreachable, which is
// what keeps uploads in flight going through a Redis outage (see
// docs/faults.md). Everything that changes a session (create, report,
// complete, abort) still goes to Redis.
//
// What may change is the state, and it changes one way only: an open
// session ends. The cache learns it three ways:
//
//   - the replica that ends a session (complete, abort, the janitor's
//     expiry, a rejection) turns its entry into a tombstone at once, so it
//     answers 409 from then on and a read still in flight cannot put the
//     open session back (emit calls sessionEnded: every ending is
//     announced there);
//   - it publishes the end on the EndBus, and every other replica
//     tombstones the id when the message arrives (milliseconds);
//   - an entry older than Refresh is re-read from the store in the
//     background, while it keeps answering: the bound for a replica that
//     missed a message (the bus resubscribed, or a partition). A feed that
//     (re)subscribes marks every entry for re-reading.
//
// The expiry needs no message: the entry carries ExpiresAt, and an open
// session past it is expired (409) without any read.
//
// Why a URL signed in that window is safe: a session ends only after its
// store upload id is completed or aborted (or, for the janitor, is being
// aborted), and a part URL names that upload id: the store refuses it
// (NoSuchUpload), so a late URL can write nothing at the session's key.

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/chute-dev/chute/broker/session"
)

// Defaults of SignCacheConfig.
const (
	DefaultSignCacheSize    = 50_000
	DefaultSignCacheRefresh = 10 * time.Second
	// tombstoneTTL is how long an ended session's entry is kept: it must
	// outlast any session read in flight when the session ended (bounded
	// by the session store's timeouts), so that read cannot refill it.
	tombstoneTTL = time.Minute
	// refreshTimeout bounds a background re-read.
	refreshTimeout = 10 * time.Second
	// publishTimeout bounds the announcement of an ended session.
	publishTimeout = 3 * time.Second
	// sweepInterval is how often RunSignCache drops entries past their
	// expiry.
	sweepInterval = time.Minute
)

// SignCacheConfig tunes the signing cache (see above).
type SignCacheConfig struct {
	// Size bounds the entries per replica (default DefaultSignCacheSize;
	// negative turns the cache off: every signature reads the session
	// store). When full, the least recently used entry goes.
	Size int
	// Refresh is the age after which an entry is re-read from the session
	// store in the background (default DefaultSignCacheRefresh).
	Refresh time.Duration
	// Bus, when set, carries session ends between replicas. Without it a
	// replica learns another's end within Refresh.
	Bus EndBus
	// ReadTimeout bounds the session store read of a miss when the
	// caller's context has no deadline (default DefaultSignReadTimeout):
	// the HTTP layer gives signing requests a context without a timer,
	// since a hit does no I/O.
	ReadTimeout time.Duration
}

// DefaultSignReadTimeout is SignCacheConfig.ReadTimeout's default, the
// HTTP layer's default request timeout.
const DefaultSignReadTimeout = 30 * time.Second

// EndBus tells the replicas sharing a session store that a session ended
// (session.EndBus implements it on Redis pub/sub). Delivery is best
// effort: the cache re-reads its entries every Refresh anyway.
type EndBus interface {
	// PublishEnded announces that session id ended in state.
	PublishEnded(ctx context.Context, id, state string) error
	// SubscribeEnded calls ended for every announcement until ctx ends,
	// and reset whenever the feed starts or restarts (announcements may
	// have been missed before). It returns ctx's error.
	SubscribeEnded(ctx context.Context, ended func(id, state string), reset func()) error
}

type signEntry struct {
	// sess holds the facts, Parts nil; its State is an open state, or the
	// state it ended in for a tombstone. nil: a tombstone for a session
	// this replica never held (read the store to answer).
	sess    *session.Session
	checked time.Time // when the store last confirmed it (or created it)
	until   time.Time // dropped then: the session's expiry, or the tombstone's end
	busy    bool      // a background re-read is running
	elem    *list.Element
}

func (e *signEntry) tombstone() bool { return e.sess == nil || !open(e.sess.State) }

// signCache holds signEntries by session id, least recently used last.
type signCache struct {
	mu      sync.Mutex
	m       map[string]*signEntry
	lru     list.List // of session ids
	size    int
	refresh time.Duration
	resetAt time.Time // entries checked before are re-read
	bus     EndBus
}

func newSignCache(cfg SignCacheConfig) *signCache {
	if cfg.Size < 0 {
		return nil
	}
	c := &signCache{m: map[string]*signEntry{}, size: cfg.Size, refresh: cfg.Refresh, bus: cfg.Bus}
	if c.size == 0 {
		c.size = DefaultSignCacheSize
	}
	if c.refresh <= 0 {
		c.refresh = DefaultSignCacheRefresh
	}
	return c
}

// get returns id's session, whether it has an entry (a tombstone too),
// and whether the caller should start a re-read (the entry is marked
// busy). The session is shared, not a copy: entries are replaced, never
// changed in place (put, end and refreshed install new copies), so it
// must be treated as read-only.
func (c *signCache) get(id string, now time.Time) (sess *session.Session, found, stale bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		return nil, false, false
	}
	if !now.Before(e.until) {
		c.removeLocked(id, e)
		return nil, false, false
	}
	c.lru.MoveToFront(e.elem)
	if e.sess == nil {
		return nil, true, false
	}
	if !e.tombstone() && !e.busy && (now.Sub(e.checked) >= c.refresh || e.checked.Before(c.resetAt)) {
		e.busy = true
		stale = true
	}
	return e.sess, true, stale
}

// put adds the open session sess, unless id has an entry (a tombstone
// must not be overwritten by a read that started before the end).
func (c *signCache) put(sess *session.Session, now time.Time) {
	if !open(sess.State) || !now.Before(sess.ExpiresAt) {
		return
	}
	cp := *sess
	cp.Parts = nil
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[sess.ID]; ok {
		return
	}
	c.insertLocked(sess.ID, &signEntry{sess: &cp, checked: now, until: sess.ExpiresAt})
}

// end turns id's entry into a tombstone for state (sess, when not nil,
// is the session that ended).
func (c *signCache) end(id string, state session.State, sess *session.Session, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		e = &signEntry{}
		c.insertLocked(id, e)
	}
	switch {
	case sess != nil:
		cp := *sess
		cp.Parts = nil
		e.sess = &cp
	case e.sess != nil:
		cp := *e.sess
		e.sess = &cp
	}
	if e.sess != nil {
		e.sess.State = state
	}
	e.checked, e.until, e.busy = now, now.Add(tombstoneTTL), false
}

// drop forgets id's entry unless it is a tombstone: the next signature
// reads the store.
func (c *signCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && !e.tombstone() {
		c.removeLocked(id, e)
	}
}

// refreshed records the outcome of a background re-read of id: fresh is
// the session as the store has it now (nil: unknown to the store), err a
// failed read (the entry is kept and re-read after another Refresh).
func (c *signCache) refreshed(id string, fresh *session.Session, err error, now time.Time) {
	c.mu.Lock()
	e, ok := c.m[id]
	if !ok || e.tombstone() {
		c.mu.Unlock()
		return
	}
	e.busy = false
	switch {
	case err != nil:
		e.checked = now
	case fresh == nil:
		c.removeLocked(id, e)
	case open(fresh.State) && now.Before(fresh.ExpiresAt):
		cp := *fresh
		cp.Parts = nil
		e.sess, e.checked, e.until = &cp, now, fresh.ExpiresAt
	default:
		c.mu.Unlock()
		c.end(id, fresh.State, fresh, now)
		return
	}
	c.mu.Unlock()
}

// reset marks every entry for a re-read.
func (c *signCache) reset(now time.Time) {
	c.mu.Lock()
	c.resetAt = now
	c.mu.Unlock()
}

// sweep drops every entry past its end.
func (c *signCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if !now.Before(e.until) {
			c.removeLocked(id, e)
		}
	}
}

func (c *signCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *signCache) insertLocked(id string, e *signEntry) {
	for len(c.m) >= c.size {
		back := c.lru.Back()
		old := back.Value.(string)
		c.removeLocked(old, c.m[old])
	}
	e.elem = c.lru.PushFront(id)
	c.m[id] = e
}

func (c *signCache) removeLocked(id string, e *signEntry) {
	c.lru.Remove(e.elem)
	delete(c.m, id)
}

// signing returns the caller's session for signing part URLs: from the
// cache when it holds id, else read from the session store (and cached
// when open). The session's Parts are nil.
func (s *Service) signing(ctx context.Context, subject, id string) (*session.Session, error) {
	if s.signs == nil {
		return s.readSigning(ctx, subject, id)
	}
	now := s.now()
	sess, found, stale := s.signs.get(id, now)
	if sess != nil {
		if stale {
			go s.refreshSigning(id)
		}
		if sess.Subject != subject {
			return nil, Errorf(CodeNotFound, "upload not found")
		}
		return sess, nil
	}
	sess, err := s.readSigning(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	if !found && sess.Strategy == session.StrategyMultipart {
		s.signs.put(sess, now)
	}
	return sess, nil
}

// readSigning reads the session for signing from the session store,
// bounded by SignCacheConfig.ReadTimeout when ctx has no deadline.
func (s *Service) readSigning(ctx context.Context, subject, id string) (*session.Session, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.signReadTimeout)
		defer cancel()
	}
	return s.loadHead(ctx, subject, id)
}

// rememberSigning caches a session this replica just created.
func (s *Service) rememberSigning(sess *session.Session) {
	if s.signs != nil && sess.Strategy == session.StrategyMultipart {
		s.signs.put(sess, s.now())
	}
}

// forgetSigning drops the cached facts of an open session that changed
// (its plan was learned at complete); the next signature reads the store.
func (s *Service) forgetSigning(id string) {
	if s.signs != nil {
		s.signs.drop(id)
	}
}

// sessionEnded is called once a session has ended (it is in a terminal
// state in the store): the cache stops signing for it, here at once and
// on the other replicas when the bus delivers the announcement.
func (s *Service) sessionEnded(ctx context.Context, sess *session.Session) {
	if s.signs == nil || sess == nil {
		return
	}
	s.signs.end(sess.ID, sess.State, sess, s.now())
	if s.signs.bus == nil {
		return
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := s.signs.bus.PublishEnded(pctx, sess.ID, string(sess.State)); err != nil {
		s.log.Warn("announce session end", "id", sess.ID, "err", err)
	}
}

// refreshSigning re-reads id for the cache in the background.
func (s *Service) refreshSigning(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	var fresh *session.Session
	var err error
	if r, ok := s.sessions.(sessionReader); ok {
		fresh, err = r.GetSession(ctx, id)
	} else {
		fresh, err = s.sessions.Get(ctx, id)
	}
	if errors.Is(err, session.ErrNotFound) {
		fresh, err = nil, nil
	}
	s.signs.refreshed(id, fresh, err, s.now())
}

// RunSignCache follows the EndBus (when one is configured) and drops
// expired entries of the signing cache, until ctx ends. Run it on every
// replica; without it the cache still works, learning other replicas'
// ends only by its re-reads.
func (s *Service) RunSignCache(ctx context.Context) error {
	if s.signs == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	go func() {
		t := time.NewTicker(sweepInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.signs.sweep(s.now())
			}
		}
	}()
	if s.signs.bus == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.signs.bus.SubscribeEnded(ctx,
		func(id, state string) {
			if validID(id) {
				s.signs.end(id, session.State(state), nil, s.now())
			}
		},
		func() { s.signs.reset(s.now()) })
}
