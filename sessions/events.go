package sessions

// Pending event marks (see Change.Event and the package doc, "Events"):
//
//	<prefix>:{<id>}:s  field event_pending: the type of the event the
//	                   session ended with, until it is known published
//	<prefix>:events:reconcile  the claim of one reconciliation pass:
//	                   SET NX PX, so that one replica at a time scans

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ EventMarker = (*RedisStore)(nil)

// eventDoneScript clears the mark if it is still the given type.
// KEYS: session. ARGV: event type.
var eventDoneScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'event_pending') == ARGV[1] then
  return redis.call('HDEL', KEYS[1], 'event_pending')
end
return 0
`)

// EventDone implements EventMarker with a compare-and-delete of the field.
func (r *RedisStore) EventDone(ctx context.Context, id, typ string) error {
	if id == "" || typ == "" {
		return errors.New("sessions: EventDone needs an id and a type")
	}
	sk, _, _ := r.keys(id)
	return unavailable(eventDoneScript.Run(ctx, r.client, []string{sk}, typ).Err())
}

func (r *RedisStore) eventPassKey() string { return r.prefix + ":events:reconcile" }

// ClaimEventPass implements EventMarker with SET NX PX.
func (r *RedisStore) ClaimEventPass(ctx context.Context, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("sessions: claim ttl %v is under a millisecond", ttl)
	}
	ok, err := r.client.SetArgs(ctx, r.eventPassKey(), "1", redis.SetArgs{Mode: "NX", TTL: ttl.Truncate(time.Millisecond)}).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return ok == "OK", nil
}

// PendingEvents implements EventMarker: SCAN MATCH <prefix>:{*}:s on every
// master, then HMGET of each hash's mark and updated_at.
func (r *RedisStore) PendingEvents(ctx context.Context, fn func(id, typ string, changed time.Time)) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, r.prefix+":{*}:s", 1000).Iterator()
		for iter.Next(ctx) {
			v, err := c.HMGet(ctx, iter.Val(), fieldID, fieldEvent, fieldUpdatedAt).Result()
			if err != nil {
				return err
			}
			str := func(i int) string { s, _ := v[i].(string); return s }
			if str(0) == "" || str(1) == "" {
				continue // no mark, or gone since the SCAN saw it
			}
			ms, _ := strconv.ParseInt(str(2), 10, 64)
			fn(str(0), str(1), time.UnixMilli(ms))
		}
		return iter.Err()
	}
	var err error
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex // masters are scanned in parallel; fn is called by one at a time
		inner := fn
		fn = func(id, typ string, changed time.Time) { mu.Lock(); defer mu.Unlock(); inner(id, typ, changed) }
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, r.client)
	}
	return unavailable(err)
}
