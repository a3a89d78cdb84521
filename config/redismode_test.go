package config

import (
	"strings"
	"testing"
)

func TestRedisModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Sessions)
		mode RedisMode
		want string // a problem, "" for none
	}{
		{"single", func(s *Sessions) { s.RedisURL = "redis://127.0.0.1:6379/0" }, RedisModeSingle, ""},
		{"cluster", func(s *Sessions) { s.RedisCluster.Addrs = []string{"127.0.0.1:7000", "[::1]:7001"} }, RedisModeCluster, ""},
		{"sentinel", func(s *Sessions) {
			s.RedisSentinel.Addrs = []string{"10.0.0.1:26379"}
			s.RedisSentinel.Master = "mymaster"
		}, RedisModeSentinel, ""},
		{"two modes", func(s *Sessions) {
			s.RedisURL = "redis://127.0.0.1:6379/0"
			s.RedisCluster.Addrs = []string{"127.0.0.1:7000"}
		}, RedisModeCluster, "sessions: set only one of redis_url, redis_cluster.addrs and redis_sentinel.addrs"},
		{"cluster addr", func(s *Sessions) { s.RedisCluster.Addrs = []string{"127.0.0.1"} }, RedisModeCluster, "sessions.redis_cluster.addrs: entry 1 is not host:port"},
		{"cluster port", func(s *Sessions) { s.RedisCluster.Addrs = []string{"h:1", "h:99999"} }, RedisModeCluster, "sessions.redis_cluster.addrs: entry 2 is not host:port"},
		{"sentinel master", func(s *Sessions) { s.RedisSentinel.Addrs = []string{"h:26379"} }, RedisModeSentinel, "sessions.redis_sentinel.master: is required"},
		{"sentinel addr", func(s *Sessions) {
			s.RedisSentinel.Addrs = []string{":26379"}
			s.RedisSentinel.Master = "m"
		}, RedisModeSentinel, "sessions.redis_sentinel.addrs: entry 1 is not host:port"},
		{"sentinel db", func(s *Sessions) {
			s.RedisSentinel.Addrs = []string{"h:26379"}
			s.RedisSentinel.Master = "m"
			s.RedisSentinel.DB = -1
		}, RedisModeSentinel, "sessions.redis_sentinel.db: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			c.Sessions.RedisURL = ""
			tc.mod(&c.Sessions)
			if got := c.Sessions.RedisMode(); got != tc.mode {
				t.Errorf("mode = %q, want %q", got, tc.mode)
			}
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRedisPasswordsRedacted(t *testing.T) {
	c := Default()
	c.Sessions.RedisCluster = RedisCluster{Addrs: []string{"h:7000"}, Username: "u", Password: "cluster-pw"}
	c.Sessions.RedisSentinel = RedisSentinel{Password: "master-pw", SentinelPassword: "sentinel-pw"}
	r := c.Redacted()
	for _, p := range []string{r.Sessions.RedisCluster.Password, r.Sessions.RedisSentinel.Password, r.Sessions.RedisSentinel.SentinelPassword} {
		if p != Redaction {
			t.Errorf("password %q not redacted", p)
		}
	}
	if c.Sessions.RedisCluster.Password != "cluster-pw" || r.Sessions.RedisCluster.Username != "u" {
		t.Error("redaction changed the original or the username")
	}
	r.Sessions.RedisCluster.Addrs[0] = "x:1"
	if c.Sessions.RedisCluster.Addrs[0] != "h:7000" {
		t.Error("redacted copy shares addrs with the original")
	}
}

func TestRedisClusterFromEnv(t *testing.T) {
	c := Default()
	if probs := c.applyEnv([]string{"CHUTE_SESSIONS_REDIS_CLUSTER_ADDRS=127.0.0.1:7000,127.0.0.1:7001", "CHUTE_SESSIONS_REDIS_CLUSTER_PASSWORD=pw"}); len(probs) > 0 {
		t.Fatal(probs)
	}
	if len(c.Sessions.RedisCluster.Addrs) != 2 || c.Sessions.RedisCluster.Password != "pw" {
		t.Fatalf("%+v", c.Sessions.RedisCluster)
	}
}
