package sessions

// Expiry bookkeeping for the janitor (see the package doc, "Expiry index"):
//
//	<prefix>:expiry    sorted set of the ids of sessions that are not yet
//	                   terminal, scored by their ExpiresAt (unix ms)
//	<prefix>:{<id>}:j  the janitor's claim on one session: SET NX PX

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRetention is how long a RedisStore keeps a session's keys past its
// ExpiresAt unless WithRetention says otherwise.
const DefaultRetention = 24 * time.Hour

var _ Expirer = (*RedisStore)(nil)

// WithRetention sets how long the session's keys outlive its ExpiresAt
// (default DefaultRetention), so that the janitor can still read what an
// expired session left in the object store. 0 removes them at ExpiresAt.
func WithRetention(d time.Duration) RedisOption {
	return func(s *RedisStore) { s.retention = max(d, 0) }
}

// Retention returns how long the store keeps a session past its ExpiresAt.
func (r *RedisStore) Retention() time.Duration { return r.retention }

func (r *RedisStore) expiryKey() string { return r.prefix + ":expiry" }

func (r *RedisStore) claimKey(id string) string { return r.prefix + ":{" + id + "}:j" }

// keyExpiry is the unix ms at which the keys of a session expiring at
// expires (unix ms) go.
func (r *RedisStore) keyExpiry(expiresMs int64) string {
	return strconv.FormatInt(expiresMs+r.retention.Milliseconds(), 10)
}

// terminal reports whether st ends a session.
func terminal(st State) bool { return st.Terminal() }

// indexAfter updates the expiry index after a successful change of sess.
func (r *RedisStore) indexAfter(ctx context.Context, sess *Session) error {
	var err error
	if terminal(sess.State) {
		err = r.client.ZRem(ctx, r.expiryKey(), sess.ID).Err()
	} else {
		err = r.client.ZAdd(ctx, r.expiryKey(), redis.Z{Score: float64(sess.ExpiresAt.UnixMilli()), Member: sess.ID}).Err()
	}
	if err != nil {
		return unavailable(fmt.Errorf("sessions: expiry index of %s: %w", sess.ID, err))
	}
	return nil
}

// DueForExpiry implements Expirer with ZRANGE BYSCORE.
func (r *RedisStore) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	ids, err := r.client.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: r.expiryKey(), Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10),
		ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	return ids, nil
}

// ScheduleExpiry implements Expirer with ZADD.
func (r *RedisStore) ScheduleExpiry(ctx context.Context, id string, expiresAt time.Time) error {
	if id == "" {
		return errors.New("sessions: empty session id")
	}
	return unavailable(r.client.ZAdd(ctx, r.expiryKey(), redis.Z{Score: float64(expiresAt.UnixMilli()), Member: id}).Err())
}

// ClaimExpiry implements Expirer with SET NX PX on <prefix>:{id}:j.
func (r *RedisStore) ClaimExpiry(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if id == "" {
		return false, errors.New("sessions: empty session id")
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("sessions: claim ttl %v is under a millisecond", ttl)
	}
	ok, err := r.client.SetArgs(ctx, r.claimKey(id), "1", redis.SetArgs{Mode: "NX", TTL: ttl.Truncate(time.Millisecond)}).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return ok == "OK", nil
}

// ForgetExpiry implements Expirer with ZREM.
func (r *RedisStore) ForgetExpiry(ctx context.Context, id string) error {
	return unavailable(r.client.ZRem(ctx, r.expiryKey(), id).Err())
}

// KnownUpload is what ScanUploads reports of one session.
type KnownUpload struct {
	ID, Backend, Key, UploadID string
	State                      State
}

// ScanUploads calls fn for every session hash in Redis (SCAN MATCH
// <prefix>:{*}:s on every master, then HMGET of each), for maintenance
// commands such as `chute gc`: it costs time in proportion to every key of
// the Redis, and a session created during the scan may be missed.
func (r *RedisStore) ScanUploads(ctx context.Context, fn func(KnownUpload)) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, r.prefix+":{*}:s", 1000).Iterator()
		for iter.Next(ctx) {
			v, err := c.HMGet(ctx, iter.Val(), fieldID, fieldBackend, fieldKey, fieldUploadID, fieldState).Result()
			if err != nil {
				return err
			}
			str := func(i int) string { s, _ := v[i].(string); return s }
			if str(0) == "" {
				continue // gone since the SCAN saw it
			}
			fn(KnownUpload{ID: str(0), Backend: str(1), Key: str(2), UploadID: str(3), State: State(str(4))})
		}
		return iter.Err()
	}
	var err error
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex // the masters are scanned in parallel; fn is called by one at a time
		inner := fn
		fn = func(k KnownUpload) { mu.Lock(); defer mu.Unlock(); inner(k) }
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, r.client)
	}
	return unavailable(err)
}
