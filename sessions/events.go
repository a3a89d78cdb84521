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

// EventMarker is an optional capability of a Store: it keeps, beside each
// session that ended, the type of its event until the event is published,
// so that an event whose publisher died is found and published again.
// RedisStore has it.
//
// A Transition whose Change has an Event writes the mark in the same
// atomic step as the state; EventDone clears it once the event is in the
// outbox; PendingEvents finds the marks left behind.
type EventMarker interface {
	// EventDone clears id's mark if it is still typ (a no-op otherwise,
	// and for a session that is gone).
	EventDone(ctx context.Context, id, typ string) error
	// PendingEvents calls fn for every session that has a mark, with the
	// mark and the time of the session's last change. It reads the whole
	// key space (SCAN on every master) and is meant for a background pass,
	// not for the request path.
	PendingEvents(ctx context.Context, fn func(id, typ string, changed time.Time)) error
	// ClaimEventPass takes the claim of one reconciliation pass for ttl;
	// false if another process holds it. A claim is never released: it
	// runs out.
	ClaimEventPass(ctx context.Context, ttl time.Duration) (bool, error)
}

var _ EventMarker = (*RedisStore)(nil)

// AsEventMarker returns the EventMarker behind s: s itself, or a store it
// wraps (through an Unwrap() Store method, as for AsExpirer).
func AsEventMarker(s Store) (EventMarker, bool) {
	for s != nil {
		if e, ok := s.(EventMarker); ok {
			return e, true
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return nil, false
		}
		s = u.Unwrap()
	}
	return nil, false
}

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
