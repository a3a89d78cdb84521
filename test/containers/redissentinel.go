package containers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the sentinels of StartRedisSentinel give
// the master they watch.
const SentinelMaster = "mymaster"

// RedisSentinel is a master, one replica and three sentinels (quorum 2),
// all local redis-server processes (the sentinels run `redis-server FILE
// --sentinel`: the same binary as Debian's redis-sentinel, which is a
// symlink to it).
type RedisSentinel struct {
	// Addrs are the sentinels' 127.0.0.1:port.
	Addrs []string
	// MasterAddr and ReplicaAddr are the first master and its replica.
	MasterAddr, ReplicaAddr string

	master, replica *proc
	sentinels       []*proc
}

// proc is one redis-server process and its output.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(RedisServerPath, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p
}

// kill sends SIGKILL to the process (by PID) and waits until it exited.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// requireRedisServer fails the test (CHUTE_REQUIRE_DOCKER=1, CI) or skips
// it when redis-server is missing.
func requireRedisServer(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(RedisServerPath); err != nil {
		if os.Getenv("CHUTE_REQUIRE_DOCKER") == "1" {
			t.Fatalf("redis-server is required (CHUTE_REQUIRE_DOCKER=1) but %s is missing; run ./scripts/test.sh", RedisServerPath)
		}
		t.Skipf("%s is missing; run ./scripts/test.sh, which installs it", RedisServerPath)
	}
}

// StartRedisSentinel starts a master, a replica of it and three sentinels
// that watch it as SentinelMaster with quorum 2 (down after 1 s), on free
// loopback ports, and waits until the replica is in sync and every
// sentinel knows the replica and the two other sentinels (so that a
// failover can be agreed). The processes are killed by PID when the test
// ends; their output is logged if it failed.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	requireRedisServer(t)
	ports := freePorts(t, 5)
	dir := t.TempDir()
	s := &RedisSentinel{
		MasterAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		ReplicaAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
	}
	t.Cleanup(func() {
		for _, p := range s.all() {
			p.kill()
			if t.Failed() {
				t.Logf("%s output:\n%s", p.name, p.out.String())
			}
		}
	})
	data := func(name string) []string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return []string{"--bind", "127.0.0.1", "--dir", d, "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--logfile", "", "--repl-diskless-sync-delay", "0"}
	}
	s.master = startProc(t, "master", append([]string{"--port", strconv.Itoa(ports[0])}, data("master")...)...)
	s.replica = startProc(t, "replica", append([]string{"--port", strconv.Itoa(ports[1]),
		"--replicaof", "127.0.0.1", strconv.Itoa(ports[0])}, data("replica")...)...)
	for i, port := range ports[2:] {
		// Sentinel rewrites its config file (ids, known peers): one each.
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
		body := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel resolve-hostnames no
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, port, dir, SentinelMaster, ports[0], SentinelMaster, SentinelMaster, SentinelMaster)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s.sentinels = append(s.sentinels, startProc(t, fmt.Sprintf("sentinel %d", i+1), conf, "--sentinel", "--logfile", ""))
		s.Addrs = append(s.Addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	replica := redis.NewClient(&redis.Options{Addr: s.ReplicaAddr})
	defer replica.Close()
	if err := waitFor(ctx, func() error {
		info, err := replica.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("replica not in sync yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("replica %s: %v", s.ReplicaAddr, err)
	}
	for _, a := range s.Addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a})
		err := waitFor(ctx, func() error {
			m, err := sc.Master(ctx, SentinelMaster).Result()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("knows %s replica(s) and %s other sentinel(s)", m["num-slaves"], m["num-other-sentinels"])
			}
			return nil
		})
		_ = sc.Close()
		if err != nil {
			t.Fatalf("sentinel %s: %v", a, err)
		}
	}
	return s
}

func (s *RedisSentinel) all() []*proc {
	var ps []*proc
	for _, p := range append([]*proc{s.master, s.replica}, s.sentinels...) {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// Sync waits until the replica has every write the master acknowledged so
// far: a write of the test's own, then WAIT 1 (the replication stream is
// in order, so the replica then holds every earlier write, Chute's too).
func (s *RedisSentinel) Sync(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := redis.NewClient(&redis.Options{Addr: s.MasterAddr})
	defer m.Close()
	if err := m.Set(ctx, "test:fence", time.Now().UnixNano(), 0).Err(); err != nil {
		t.Fatalf("write the fence on the master: %v", err)
	}
	n, err := m.Wait(ctx, 1, 5*time.Second).Result()
	if err != nil || n < 1 {
		t.Fatalf("WAIT 1 on the master: %d replicas acknowledged, %v", n, err)
	}
}

// KillMaster kills the first master with SIGKILL and waits until it exited.
func (s *RedisSentinel) KillMaster(t testing.TB) {
	t.Helper()
	s.master.kill()
}

// WaitFailover waits until every sentinel names the replica as the master
// and the replica says it is one, and returns how long that took.
func (s *RedisSentinel) WaitFailover(t testing.TB, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	replica := redis.NewClient(&redis.Options{Addr: s.ReplicaAddr})
	defer replica.Close()
	err := waitFor(ctx, func() error {
		for _, a := range s.Addrs {
			sc := redis.NewSentinelClient(&redis.Options{Addr: a})
			addr, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
			_ = sc.Close()
			if err != nil {
				return fmt.Errorf("sentinel %s: %w", a, err)
			}
			if got := net.JoinHostPort(addr[0], addr[1]); got != s.ReplicaAddr {
				return fmt.Errorf("sentinel %s names %s as master", a, got)
			}
		}
		role, err := replica.Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("the replica's role is %v", role)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("no failover to %s within %v: %v", s.ReplicaAddr, limit, err)
	}
	return time.Since(start)
}

// KillAll kills every process (sentinels and Redis nodes) with SIGKILL.
func (s *RedisSentinel) KillAll(t testing.TB) {
	t.Helper()
	for _, p := range s.all() {
		p.kill()
	}
}
