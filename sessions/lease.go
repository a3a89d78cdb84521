package sessions

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ LockExtender = (*RedisStore)(nil)

// extendScript moves the lock's expiry if it still holds the token.
// KEYS: lock. ARGV: token, ttl (ms).
var extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// ExtendLock implements LockExtender (compare-and-expire).
func (r *RedisStore) ExtendLock(ctx context.Context, id, token string, ttl time.Duration) (bool, error) {
	if id == "" || token == "" {
		return false, errors.New("sessions: ExtendLock needs an id and a token")
	}
	if ttl < time.Millisecond {
		return false, errors.New("sessions: lock ttl under a millisecond")
	}
	_, _, lk := r.keys(id)
	n, err := extendScript.Run(ctx, r.client, []string{lk}, token, ttl.Milliseconds()).Int64()
	if err != nil {
		return false, unavailable(err)
	}
	return n == 1, nil
}
