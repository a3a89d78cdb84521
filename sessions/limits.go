package sessions

// Per-subject limits kept in Redis, so that every replica sharing the
// Redis enforces the same budget:
//
//	<prefix>:rl:{<subject>}    the rate limiter's state: the theoretical
//	                           arrival time (GCRA), unix ms, PX-expiring
//	<prefix>:open:{<subject>}  sorted set of the subject's open session
//	                           ids, scored by their expiry (unix ms); members
//	                           past their expiry are pruned on every use

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ OpenLimiter = (*RedisStore)(nil)

// reserveOpenScript prunes expired members, then adds the id if the set
// holds fewer than max members (or already holds the id).
// KEYS: open set. ARGV: now (unix ms), id, expiry (unix ms), max.
var reserveOpenScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
    return 0
  end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
`)

func (r *RedisStore) openKey(subject string) string {
	return r.prefix + ":open:{" + subject + "}"
}

// ReserveOpen implements OpenLimiter in one Lua script; the set expires
// with its last member.
func (r *RedisStore) ReserveOpen(ctx context.Context, subject, id string, expiresAt time.Time, max int) (bool, error) {
	if id == "" {
		return false, errors.New("sessions: empty session id")
	}
	n, err := reserveOpenScript.Run(ctx, r.client, []string{r.openKey(subject)},
		strconv.FormatInt(time.Now().UnixMilli(), 10), id,
		strconv.FormatInt(expiresAt.UnixMilli(), 10), strconv.Itoa(max)).Int64()
	if err != nil {
		return false, unavailable(err)
	}
	return n == 1, nil
}

// ReleaseOpen implements OpenLimiter.
func (r *RedisStore) ReleaseOpen(ctx context.Context, subject, id string) error {
	return unavailable(r.client.ZRem(ctx, r.openKey(subject), id).Err())
}

// RateLimiter is a per-subject request rate limit held in Redis (the
// generic cell rate algorithm, one Lua script per request), shared by
// every replica that uses the same Redis and key prefix.
//
// The limiter protects the service and must not take it down: a Redis
// that does not answer within RateLimitWait makes Allow fail (the HTTP
// layer then lets the request through), and for RateLimitPause after a
// failure Allow fails at once without asking Redis. So a stopped or
// blackholed Redis adds at most RateLimitWait to a request, about once a
// RateLimitPause, instead of the client's I/O timeout to every request —
// the requests that need no Redis (signing part URLs) keep their pace.
type RateLimiter struct {
	client   redis.UniversalClient
	prefix   string
	interval float64 // ms between requests at the sustained rate
	burst    int
	now      func() time.Time
	wait     time.Duration
	pause    time.Duration
	downTill atomic.Int64 // unix ns: until then Allow fails without asking Redis
}

// How long the RateLimiter waits for Redis, and how long it stops asking
// after a failure.
const (
	RateLimitWait  = 250 * time.Millisecond
	RateLimitPause = time.Second
)

// NewRateLimiter allows each subject rate requests per second on average
// and bursts of up to burst requests (at least 1). prefix is the key
// prefix, as for NewRedisStore ("" means DefaultKeyPrefix). rate must be
// positive.
func NewRateLimiter(client redis.UniversalClient, prefix string, rate float64, burst int) *RateLimiter {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &RateLimiter{client: client, prefix: prefix, interval: 1000 / rate, burst: max(burst, 1), now: time.Now,
		wait: RateLimitWait, pause: RateLimitPause}
}

// gcraScript is one GCRA step. KEYS: state. ARGV: now (unix ms), interval
// (ms), burst. It returns 1 when allowed, else -(ms to wait).
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new = tat + interval
local allowAt = new - burst * interval
if now < allowAt then
  return -math.ceil(allowAt - now)
end
redis.call('SET', KEYS[1], tostring(new), 'PX', math.ceil(new - now))
return 1
`)

// Allow takes one request from subject's budget. When the budget is spent
// it returns false and how long to wait before the next request fits. It
// fails (ErrUnavailable) when Redis does not answer within RateLimitWait,
// and at once for RateLimitPause after such a failure.
func (l *RateLimiter) Allow(ctx context.Context, subject string) (bool, time.Duration, error) {
	if time.Now().UnixNano() < l.downTill.Load() {
		return false, 0, fmt.Errorf("%w: rate limiter paused after a failure", ErrUnavailable)
	}
	key := l.prefix + ":rl:{" + subject + "}"
	args := []any{strconv.FormatInt(l.now().UnixMilli(), 10), strconv.FormatFloat(l.interval, 'f', 3, 64), strconv.Itoa(l.burst)}
	type answer struct {
		n   int64
		err error
	}
	// The script runs apart so that a Redis that hangs holds it, not the
	// request: it ends at the client's own timeout.
	done := make(chan answer, 1)
	go func() {
		n, err := gcraScript.Run(context.WithoutCancel(ctx), l.client, []string{key}, args...).Int64()
		done <- answer{n, err}
	}()
	timer := time.NewTimer(l.wait)
	defer timer.Stop()
	var a answer
	select {
	case a = <-done:
	case <-timer.C:
		a.err = fmt.Errorf("no answer within %v", l.wait)
	case <-ctx.Done():
		a.err = ctx.Err()
	}
	if a.err != nil {
		l.downTill.Store(time.Now().Add(l.pause).UnixNano())
		return false, 0, unavailable(a.err)
	}
	if a.n > 0 {
		return true, 0, nil
	}
	wait := time.Duration(-a.n) * time.Millisecond
	return false, time.Duration(math.Max(float64(wait), float64(time.Millisecond))), nil
}
