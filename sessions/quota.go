package sessions

// Per-subject byte quotas kept in Redis (QuotaStore), so that every
// replica sharing the Redis counts against one budget. Each scope of a
// subject (the global scope, and one per profile) has four keys, all with
// the subject's hash tag, so every script touches one Redis Cluster slot:
//
//	<prefix>:q:{<tag>}:<scope>o  hash: upload id -> bytes it reserves
//	<prefix>:q:{<tag>}:<scope>e  sorted set: upload id, scored by the
//	                             reservation's end (unix ms)
//	<prefix>:q:{<tag>}:<scope>t  the sum of the hash above (bytes open)
//	<prefix>:q:{<tag>}:<scope>d  hash: hour (unix ms / 3600000) -> bytes
//	                             completed in that hour
//
// <scope> is "" for the global scope and "p:<profile>:" for a profile.
// <tag> is the subject itself, unless it is empty, holds a brace or starts
// with "~": then it is "~" and the first 32 hex digits of its SHA-256, so
// that the hash tag always names one slot per subject and no two subjects
// share keys.
//
// Reservations past their end are pruned on every use (a lost release
// frees itself). The rolling day is kept as per-hour buckets: a completed
// upload counts in the bucket of the hour it completed in, for the 25
// buckets from the current hour back (so for 24 to 25 hours), and the
// bucket hash expires when its newest bucket leaves the window.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// QuotaWindowHours is how many hourly buckets the rolling day sums: the
// current hour and the 24 before it.
const QuotaWindowHours = 25

// QuotaLimit is one scope's limits. Scope is "" for the subject's global
// quota, else a profile name. A limit of 0 is no limit.
type QuotaLimit struct {
	Scope string
	// OpenBytes bounds the bytes reserved by open uploads.
	OpenBytes int64
	// DailyBytes bounds the bytes completed in the rolling day plus the
	// bytes reserved by open uploads (so that uploads still open cannot
	// pass the day's budget once they complete).
	DailyBytes int64
}

// QuotaRefusal says which limit a reservation would pass.
type QuotaRefusal struct {
	Scope string
	// Daily is true for the daily limit, false for the open one.
	Daily bool
	// Limit is the limit passed; Used what the subject already holds
	// against it (without the refused reservation).
	Limit, Used int64
	// RetryAfter, for a daily refusal, is when enough completed bytes
	// leave the window for the reservation to fit if nothing else
	// changes; 0 when that never happens by itself.
	RetryAfter time.Duration
}

// QuotaUsage is what a subject holds in one scope.
type QuotaUsage struct {
	OpenBytes  int64 // reserved by open uploads
	DailyBytes int64 // completed in the rolling day
}

// QuotaStore keeps per-subject byte quotas in Redis. It is safe for
// concurrent use by many processes sharing one Redis and key prefix.
type QuotaStore struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewQuotaStore returns a QuotaStore on client; prefix is the key prefix,
// as for NewRedisStore ("" means DefaultKeyPrefix).
func NewQuotaStore(client redis.UniversalClient, prefix string) *QuotaStore {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &QuotaStore{client: client, prefix: prefix, now: time.Now}
}

// quotaTag is the hash tag of subject's quota keys.
func quotaTag(subject string) string {
	if subject == "" || strings.ContainsAny(subject, "{}") || strings.HasPrefix(subject, "~") {
		sum := sha256.Sum256([]byte(subject))
		return "~" + hex.EncodeToString(sum[:16])
	}
	return subject
}

// keys returns the four keys of each scope, in script order.
func (q *QuotaStore) keys(subject string, scopes []string) []string {
	base := q.prefix + ":q:{" + quotaTag(subject) + "}:"
	out := make([]string, 0, 4*len(scopes))
	for _, sc := range scopes {
		p := base
		if sc != "" {
			p += "p:" + sc + ":"
		}
		out = append(out, p+"o", p+"e", p+"t", p+"d")
	}
	return out
}

// quotaLib is shared by the scripts: prune(o, e, t, now) drops the
// reservations past their end; daily(d, hour) drops the buckets out of the
// window and returns the sum of the others and the buckets, oldest first.
var quotaLib = `
local function prune(o, e, t, now)
  local gone = redis.call('ZRANGEBYSCORE', e, '-inf', now)
  for _, m in ipairs(gone) do
    local b = redis.call('HGET', o, m)
    if b then
      redis.call('DECRBY', t, b)
      redis.call('HDEL', o, m)
    end
    redis.call('ZREM', e, m)
  end
end
local function daily(d, hour)
  local all = redis.call('HGETALL', d)
  local sum, buckets = 0, {}
  for i = 1, #all, 2 do
    local h = tonumber(all[i])
    if h <= hour - ` + strconv.Itoa(QuotaWindowHours) + ` then
      redis.call('HDEL', d, all[i])
    else
      local v = tonumber(all[i+1])
      sum = sum + v
      table.insert(buckets, {h, v})
    end
  end
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  return sum, buckets
end
`

// reserveScript checks every scope, then records the reservation in all.
// KEYS: four per scope (o, e, t, d). ARGV: now (ms), hour, id, bytes,
// until (ms), then per scope: open limit, daily limit (0: none).
// It returns {0} when recorded, else {scope index (1-based), 1 for open
// or 2 for daily, limit, used, retry after (ms, 0: unknown)}.
var reserveScript = redis.NewScript(quotaLib + `
local now, hour, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local bytes = tonumber(ARGV[4])
local n = #KEYS / 4
for i = 1, n do
  local o, e, t, d = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1], KEYS[4*i]
  prune(o, e, t, now)
  local open = tonumber(redis.call('GET', t) or '0') - tonumber(redis.call('HGET', o, id) or '0')
  local openLimit, dailyLimit = tonumber(ARGV[4+2*i]), tonumber(ARGV[5+2*i])
  if openLimit > 0 and open + bytes > openLimit then
    return {i, 1, openLimit, open, 0}
  end
  if dailyLimit > 0 then
    local done, buckets = daily(d, hour)
    local used = done + open
    if used + bytes > dailyLimit then
      local need, freed, retry = used + bytes - dailyLimit, 0, 0
      for _, b in ipairs(buckets) do
        freed = freed + b[2]
        if freed >= need then
          retry = (b[1] + ` + strconv.Itoa(QuotaWindowHours) + `) * 3600000 - now
          break
        end
      end
      return {i, 2, dailyLimit, used, retry}
    end
  end
end
for i = 1, n do
  local o, e, t = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1]
  local old = redis.call('HGET', o, id)
  if old then
    redis.call('DECRBY', t, old)
  end
  redis.call('HSET', o, id, ARGV[4])
  redis.call('INCRBY', t, ARGV[4])
  redis.call('ZADD', e, ARGV[5], id)
  local last = redis.call('ZRANGE', e, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', o, last[2])
  redis.call('PEXPIREAT', e, last[2])
  redis.call('PEXPIREAT', t, last[2])
end
return {0}
`)

// settleScript ends id's reservation in every scope and, when count is 1,
// counts bytes into the hour's bucket of the scopes where id held one.
// KEYS: four per scope. ARGV: now (ms), hour, id, bytes, count (0 or 1),
// bucket expiry (ms). It returns how many scopes held id.
var settleScript = redis.NewScript(quotaLib + `
local now, id = tonumber(ARGV[1]), ARGV[3]
local held = 0
for i = 1, #KEYS / 4 do
  local o, e, t, d = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1], KEYS[4*i]
  local b = redis.call('HGET', o, id)
  if b then
    held = held + 1
    redis.call('HDEL', o, id)
    redis.call('ZREM', e, id)
    redis.call('DECRBY', t, b)
    if ARGV[5] == '1' then
      redis.call('HINCRBY', d, ARGV[2], ARGV[4])
      redis.call('PEXPIREAT', d, ARGV[6])
    end
  end
  prune(o, e, t, now)
end
return held
`)

// usageScript reads one scope. KEYS: o, e, t, d. ARGV: now, hour.
var usageScript = redis.NewScript(quotaLib + `
prune(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]))
local done = daily(KEYS[4], tonumber(ARGV[2]))
return {tonumber(redis.call('GET', KEYS[3]) or '0'), done}
`)

func (q *QuotaStore) clock() (nowMS, hour int64) {
	nowMS = q.now().UnixMilli()
	return nowMS, nowMS / time.Hour.Milliseconds()
}

// Reserve records bytes as reserved by upload id of subject until until,
// in the scope of every limit, unless that would pass one of them: then
// it records nothing and returns the first limit passed. Reserving an id
// again replaces its earlier reservation.
func (q *QuotaStore) Reserve(ctx context.Context, subject, id string, bytes int64, until time.Time, limits []QuotaLimit) (*QuotaRefusal, error) {
	if id == "" {
		return nil, errors.New("sessions: empty upload id")
	}
	if len(limits) == 0 {
		return nil, nil
	}
	scopes := make([]string, len(limits))
	nowMS, hour := q.clock()
	args := []any{nowMS, hour, id, max(bytes, 0), until.UnixMilli()}
	for i, l := range limits {
		scopes[i] = l.Scope
		args = append(args, max(l.OpenBytes, 0), max(l.DailyBytes, 0))
	}
	res, err := reserveScript.Run(ctx, q.client, q.keys(subject, scopes), args...).Int64Slice()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(res) == 1 && res[0] == 0 {
		return nil, nil
	}
	if len(res) != 5 || res[0] < 1 || int(res[0]) > len(limits) {
		return nil, errors.New("sessions: unexpected answer of the quota script")
	}
	return &QuotaRefusal{
		Scope: limits[res[0]-1].Scope, Daily: res[1] == 2, Limit: res[2], Used: res[3],
		RetryAfter: time.Duration(res[4]) * time.Millisecond,
	}, nil
}

// Settle ends id's reservation in every scope and counts bytes as
// completed now in the scopes where id held one (a repeated settle counts
// nothing). It reports whether any scope held id.
func (q *QuotaStore) Settle(ctx context.Context, subject, id string, bytes int64, scopes []string) (bool, error) {
	return q.settle(ctx, subject, id, bytes, scopes, true)
}

// Release ends id's reservation in every scope, counting nothing.
func (q *QuotaStore) Release(ctx context.Context, subject, id string, scopes []string) error {
	_, err := q.settle(ctx, subject, id, 0, scopes, false)
	return err
}

func (q *QuotaStore) settle(ctx context.Context, subject, id string, bytes int64, scopes []string, count bool) (bool, error) {
	if len(scopes) == 0 {
		return false, nil
	}
	nowMS, hour := q.clock()
	c := "0"
	if count {
		c = "1"
	}
	expiry := (hour + QuotaWindowHours) * time.Hour.Milliseconds()
	n, err := settleScript.Run(ctx, q.client, q.keys(subject, scopes), nowMS, hour, id, max(bytes, 0), c, expiry).Int64()
	if err != nil {
		return false, unavailable(err)
	}
	return n > 0, nil
}

// Usage returns what subject holds in scope now.
func (q *QuotaStore) Usage(ctx context.Context, subject, scope string) (QuotaUsage, error) {
	nowMS, hour := q.clock()
	res, err := usageScript.Run(ctx, q.client, q.keys(subject, []string{scope}), nowMS, hour).Int64Slice()
	if err != nil {
		return QuotaUsage{}, unavailable(err)
	}
	if len(res) != 2 {
		return QuotaUsage{}, errors.New("sessions: unexpected answer of the quota script")
	}
	return QuotaUsage{OpenBytes: res[0], DailyBytes: res[1]}, nil
}
