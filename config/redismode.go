package config

import (
	"net"
	"strconv"
)

// RedisMode names how sessions reach Redis.
type RedisMode string

// The Redis modes: one of redis_url, redis_cluster.addrs and
// redis_sentinel.addrs decides (validation allows at most one).
const (
	RedisModeNone     RedisMode = ""
	RedisModeSingle   RedisMode = "single"
	RedisModeCluster  RedisMode = "cluster"
	RedisModeSentinel RedisMode = "sentinel"
)

// RedisMode returns the Redis mode the sessions settings select.
func (s Sessions) RedisMode() RedisMode {
	switch {
	case len(s.RedisCluster.Addrs) > 0:
		return RedisModeCluster
	case len(s.RedisSentinel.Addrs) > 0:
		return RedisModeSentinel
	case s.RedisURL != "":
		return RedisModeSingle
	}
	return RedisModeNone
}

// validateRedisModes checks that at most one Redis mode is set and that
// the cluster and sentinel settings are complete.
func (c *Config) validateRedisModes(add func(key, format string, args ...any)) {
	s := c.Sessions
	set := 0
	for _, on := range []bool{s.RedisURL != "", len(s.RedisCluster.Addrs) > 0, len(s.RedisSentinel.Addrs) > 0} {
		if on {
			set++
		}
	}
	if set > 1 {
		add("sessions", "set only one of redis_url, redis_cluster.addrs and redis_sentinel.addrs")
	}
	for i, a := range s.RedisCluster.Addrs {
		if !hostPort(a) {
			add("sessions.redis_cluster.addrs", "entry %d is not host:port", i+1)
		}
	}
	for i, a := range s.RedisSentinel.Addrs {
		if !hostPort(a) {
			add("sessions.redis_sentinel.addrs", "entry %d is not host:port", i+1)
		}
	}
	if len(s.RedisSentinel.Addrs) > 0 && s.RedisSentinel.Master == "" {
		add("sessions.redis_sentinel.master", "is required with redis_sentinel.addrs")
	}
	if s.RedisSentinel.DB < 0 {
		add("sessions.redis_sentinel.db", "must not be negative")
	}
}

func hostPort(a string) bool {
	h, p, err := net.SplitHostPort(a)
	if err != nil || h == "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}
