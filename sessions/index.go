package sessions

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// IndexCounts reads the expiry index (see the package doc) at now: open
// is the number of sessions not yet ended whose expiry is after now (the
// uploads in flight), due the number whose expiry has passed and that the
// janitor has not handled yet (its backlog; the stale entry of a session
// that ended without its ZREM counts until the janitor drops it). The
// counts are of the whole key prefix, whichever replica asks: two ZCOUNTs
// in one pipeline, O(log n) each.
func (r *RedisStore) IndexCounts(ctx context.Context, now time.Time) (open, due int64, err error) {
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	var openCmd, dueCmd *redis.IntCmd
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		openCmd = p.ZCount(ctx, r.expiryKey(), "("+ms, "+inf")
		dueCmd = p.ZCount(ctx, r.expiryKey(), "-inf", ms)
		return nil
	})
	if err != nil {
		return 0, 0, unavailable(err)
	}
	return openCmd.Val(), dueCmd.Val(), nil
}
