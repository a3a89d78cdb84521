package sessions

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is wrapped around every failure of the backing store
// itself (refused connection, timeout, closed client, an error reply), as
// opposed to an answer about a session (ErrNotFound, ErrExists,
// ErrConflict). Callers test it with errors.Is; the original error stays
// reachable through errors.Is and errors.As too (context.DeadlineExceeded,
// *net.OpError, redis.Error).
var ErrUnavailable = errors.New("sessions: store unavailable")

// unavailable wraps a Redis client error with ErrUnavailable. nil stays nil;
// redis.Nil (a missing key) is not a failure and is returned as it is.
func unavailable(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
