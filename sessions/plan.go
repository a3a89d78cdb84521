package sessions

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"
)

var _ PlanSetter = (*RedisStore)(nil)

// setPlanScript writes the plan fields of a completing session.
// KEYS: session, parts. ARGV: size, part size, part count, now (unix ms),
// state completing.
var setPlanScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then
  return {0}
end
if st ~= ARGV[5] then
  return {1, st}
end
redis.call('HSET', KEYS[1], 'size', ARGV[1], 'part_size', ARGV[2], 'part_count', ARGV[3], 'updated_at', ARGV[4])
return {2, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
`)

// SetPlan records the plan of a completing session in one Lua script; see
// PlanSetter. It writes the size, part_size and part_count fields of the
// session hash and leaves its expiry as it is.
func (r *RedisStore) SetPlan(ctx context.Context, id string, size, partSize int64, partCount int) (*Session, error) {
	if size < 0 || partSize < 0 || partCount < 0 {
		return nil, errors.New("sessions: negative plan")
	}
	if id == "" {
		return nil, ErrNotFound
	}
	sk, pk, _ := r.keys(id)
	return r.runSession(ctx, setPlanScript, []string{sk, pk},
		strconv.FormatInt(size, 10), strconv.FormatInt(partSize, 10), strconv.Itoa(partCount),
		nowMillis(), string(StateCompleting))
}
