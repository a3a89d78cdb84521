package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ Stager = (*RedisStore)(nil)

// stagedKey is the index: a sorted set of ids scored by form expiry. Like
// the expiry index it is one key of its own (its own Cluster slot).
func (r *RedisStore) stagedKey() string { return r.prefix + ":staged" }

// Stage implements Stager with ZADD.
func (r *RedisStore) Stage(ctx context.Context, id string, until time.Time) error {
	if id == "" {
		return errors.New("sessions: empty session id")
	}
	return unavailable(r.client.ZAdd(ctx, r.stagedKey(), redis.Z{Score: float64(until.UnixMilli()), Member: id}).Err())
}

// Staged implements Stager with ZRANGE WITHSCORES.
func (r *RedisStore) Staged(ctx context.Context, limit int) ([]StagedUpload, error) {
	if limit <= 0 {
		return nil, nil
	}
	zs, err := r.client.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: r.stagedKey(), Start: 0, Stop: int64(limit - 1)}).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]StagedUpload, 0, len(zs))
	for _, z := range zs {
		id, _ := z.Member.(string)
		out = append(out, StagedUpload{ID: id, Until: time.UnixMilli(int64(z.Score)).UTC()})
	}
	return out, nil
}

// Unstage implements Stager with ZREM.
func (r *RedisStore) Unstage(ctx context.Context, id string) error {
	return unavailable(r.client.ZRem(ctx, r.stagedKey(), id).Err())
}

func (r *RedisStore) stagedPassKey() string { return r.prefix + ":staged:pass" }

// ClaimStagedPass implements Stager with SET NX PX.
func (r *RedisStore) ClaimStagedPass(ctx context.Context, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("sessions: claim ttl %v is under a millisecond", ttl)
	}
	ok, err := r.client.SetArgs(ctx, r.stagedPassKey(), "1", redis.SetArgs{Mode: "NX", TTL: ttl.Truncate(time.Millisecond)}).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return ok == "OK", nil
}
