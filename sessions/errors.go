package sessions

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// unavailable wraps a Redis client error with ErrUnavailable. nil stays nil;
// redis.Nil (a missing key) is not a failure and is returned as it is.
func unavailable(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
