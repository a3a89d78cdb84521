package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/config"
)

// Redis timeouts: every command is bounded, so a Redis that is down or
// blackholed gives storage_unavailable within seconds, never a hung
// request.
const (
	redisDialTimeout = 3 * time.Second
	redisIOTimeout   = 3 * time.Second
	// redisPoolTimeout bounds the wait for a free connection when the
	// pool is exhausted.
	redisPoolTimeout = 4 * time.Second
	// redisPoolSize is the connection pool per Redis node when the
	// configuration does not set one: more than go-redis's 10 per core.
	redisPoolSize = 64
)

// newRedis returns the session store's Redis for the sessions settings:
// a single Redis (redis_url), a Redis Cluster (redis_cluster) or a master
// found through Sentinel (redis_sentinel).
func newRedis(s config.Sessions) (redis.UniversalClient, error) {
	switch s.RedisMode() {
	case config.RedisModeCluster:
		c := s.RedisCluster
		opts := &redis.ClusterOptions{
			Addrs: c.Addrs, Username: c.Username, Password: c.Password,
			DialTimeout: redisDialTimeout, ReadTimeout: redisIOTimeout, WriteTimeout: redisIOTimeout,
			PoolTimeout: redisPoolTimeout, PoolSize: redisPoolSize,
		}
		if c.TLS {
			opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return redis.NewClusterClient(opts), nil
	case config.RedisModeSentinel:
		c := s.RedisSentinel
		opts := &redis.FailoverOptions{
			MasterName: c.Master, SentinelAddrs: c.Addrs, SentinelPassword: c.SentinelPassword,
			Username: c.Username, Password: c.Password, DB: c.DB,
			DialTimeout: redisDialTimeout, ReadTimeout: redisIOTimeout, WriteTimeout: redisIOTimeout,
			PoolTimeout: redisPoolTimeout, PoolSize: redisPoolSize,
			// Every dial of the master asks the sentinels first, and each
			// of those lookups is a command with its own retries: with
			// go-redis's default of 5 dial attempts the two multiply, and
			// a command took ~40 s to fail with every sentinel down. The
			// command retries (MaxRetries) are enough.
			DialerRetries: 1,
		}
		if c.TLS {
			opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return redis.NewFailoverClient(opts), nil
	case config.RedisModeSingle:
		ropts, err := redis.ParseURL(s.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("sessions.redis_url: %s", redactedURLError(err))
		}
		ropts.DialTimeout = redisDialTimeout
		ropts.ReadTimeout = redisIOTimeout
		ropts.WriteTimeout = redisIOTimeout
		ropts.PoolTimeout = redisPoolTimeout
		if ropts.PoolSize == 0 { // not set in the URL (pool_size=)
			ropts.PoolSize = redisPoolSize
		}
		return redis.NewClient(ropts), nil
	}
	return nil, errors.New("sessions.redis_url is empty: `chute serve` needs a Redis (set sessions.redis_url, sessions.redis_cluster or sessions.redis_sentinel; use `chute dev` for the embedded one)")
}
