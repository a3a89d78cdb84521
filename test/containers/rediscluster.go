package containers

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServerPath is where scripts/test.sh installs redis-server.
const RedisServerPath = "/usr/bin/redis-server"

// RedisCluster is a running Redis Cluster of local redis-server
// processes.
type RedisCluster struct {
	// Addrs are the masters' 127.0.0.1:port, one per node.
	Addrs []string
	procs []*exec.Cmd
}

// Client returns a cluster client on c, closed at the end of the test.
func (c *RedisCluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// StartRedisCluster starts a Redis Cluster of masters nodes (no
// replicas) as redis-server processes on free loopback ports, assigns
// the 16384 slots evenly and waits until every node reports
// cluster_state:ok and the same slot map. The processes are killed by
// PID when the test ends. Without redis-server the test fails when
// CHUTE_REQUIRE_DOCKER=1 (CI) and is skipped otherwise.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	requireRedisServer(t)
	ports := freePorts(t, 2*masters) // a client port and a bus port per node
	dir := t.TempDir()
	c := &RedisCluster{}
	t.Cleanup(c.stop)
	for i := range masters {
		port, bus := ports[2*i], ports[2*i+1]
		var out bytes.Buffer
		cmd := exec.Command(RedisServerPath,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--cluster-node-timeout", "5000",
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", "")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		c.procs = append(c.procs, cmd)
		c.Addrs = append(c.Addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := make([]*redis.Client, masters)
	for i, a := range c.Addrs {
		nodes[i] = redis.NewClient(&redis.Options{Addr: a})
		defer nodes[i].Close()
		if err := waitFor(ctx, func() error { return nodes[i].Ping(ctx).Err() }); err != nil {
			t.Fatalf("redis-server on %s does not answer: %v", a, err)
		}
	}
	const slots = 16384
	for i, n := range nodes {
		lo, hi := i*slots/masters, (i+1)*slots/masters-1
		if err := n.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE on %s: %v", c.Addrs[i], err)
		}
		if i > 0 {
			if err := nodes[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", ports[2*i], ports[2*i+1]).Err(); err != nil {
				t.Fatalf("CLUSTER MEET %s: %v", c.Addrs[i], err)
			}
		}
	}
	for i, n := range nodes {
		err := waitFor(ctx, func() error {
			info, err := n.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", masters)) {
				return fmt.Errorf("not ready: %s", firstLines(info, 3))
			}
			shards, err := n.ClusterShards(ctx).Result()
			if err != nil {
				return err
			}
			withSlots := 0
			for _, s := range shards {
				if len(s.Slots) > 0 {
					withSlots++
				}
			}
			if withSlots != masters {
				return fmt.Errorf("node knows %d shards with slots, want %d", withSlots, masters)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("cluster node %s: %v", c.Addrs[i], err)
		}
	}
	return c
}

// stop kills the cluster's processes by PID and reaps them.
func (c *RedisCluster) stop() {
	for _, p := range c.procs {
		if p.Process != nil {
			_ = p.Process.Signal(syscall.SIGKILL)
			_ = p.Wait()
		}
	}
}

// freePorts returns n distinct free loopback ports: all are held open
// together, then released.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func waitFor(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.TrimSpace(strings.Join(lines, " "))
}
