package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process the suite started and must stop.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

// start runs name with args and env, its output in dir/name.log.
func start(dir, name string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.Create(dir + "/" + name + ".log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &proc{name: name, cmd: cmd, log: f}, nil
}

// stop ends p (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// usage is a process's CPU time and memory, from /proc.
type usage struct {
	CPU   time.Duration // user + system
	RSS   int64         // VmRSS, bytes
	HWM   int64         // VmHWM (peak RSS since start or reset), bytes
	Valid bool
}

// readUsage reads pid's CPU time and RSS from /proc.
func readUsage(pid int) usage {
	var u usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u
	}
	// Fields after the command name (which may hold spaces) in ")".
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return u
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	u.CPU = time.Duration(ut+st) * time.Second / hz
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []string{"VmRSS:", "VmHWM:"} {
			if strings.HasPrefix(line, k) {
				v := strings.Fields(line[len(k):])
				kb, _ := strconv.ParseInt(v[0], 10, 64)
				if k == "VmRSS:" {
					u.RSS = kb << 10
				} else {
					u.HWM = kb << 10
				}
			}
		}
	}
	u.Valid = true
	return u
}

// resetPeak resets pid's VmHWM to its current RSS (Linux clear_refs 5).
func resetPeak(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// freePort returns a free TCP port on 127.0.0.1.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not come up: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
