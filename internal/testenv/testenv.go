// Package testenv is v6kit's harness for tests against real programs: nginx, PostgreSQL,
// Redis, Pebble, systemd-analyze and network namespaces. It finds the tools, picks free
// ports, makes short temp directories, starts servers as children of the test and stops
// them in t.Cleanup.
//
// A missing tool skips the test with a reason on a laptop, and fails it under CI=true:
// CI must never pass by skipping. `make test` installs every tool from Debian's packages.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

	"golang.org/x/sys/unix"
)

// InCI reports whether the tests run under CI (CI=true), where a missing tool is a failure.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1" || v == "yes"
}

// Unavailable skips the test with reason, or fails it under CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("CI=true and a required tool is unavailable: %s (run `make test`, which installs it)", msg)
	}
	t.Skipf("skipping: %s (run `make test` to install what the integration tests need)", msg)
}

// Tool returns the path of a program, looking in PATH and in extra directories (such as
// /usr/lib/postgresql/15/bin or /usr/sbin), or calls [Unavailable] naming the Debian
// package that provides it.
func Tool(t testing.TB, name, debianPackage string, extraDirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range append(extraDirs, "/usr/sbin", "/sbin", "/usr/local/sbin") {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	Unavailable(t, "%s not found (Debian package %s)", name, debianPackage)
	return ""
}

// RequireRoot calls [Unavailable] unless the test runs as root (namespaces, port 80).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root (network namespaces and privileged ports)")
	}
}

// TempDir returns a fresh directory under /tmp with a short path (unix socket paths are
// limited to 107 bytes), mode 0755 so unprivileged server workers can traverse it,
// removed at cleanup.
func TempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "v6k-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatalf("chmod temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

var portMu sync.Mutex

// FreePort returns a port that is free for TCP and UDP on every address ([::1], 127.0.0.1
// and the wildcards) at the time of the call, so a server under test can bind any of them.
// The port lies below the kernel's ephemeral range and stays reserved for this test (against
// other test binaries) until it ends; see portRange.
func FreePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	lo, hi := portRange()
	dir := filepath.Join(os.TempDir(), "v6kit-ports")
	if err := os.MkdirAll(dir, 0o1777); err != nil {
		t.Fatalf("port locks: %v", err)
	}
	for range 500 {
		port := lo + rand.IntN(hi-lo)
		lock, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatalf("port lock: %v", err)
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			lock.Close() // another test binary holds this port
			continue
		}
		if !portFree(port) {
			lock.Close()
			continue
		}
		t.Cleanup(func() { lock.Close() })
		return port
	}
	t.Fatalf("no port in [%d, %d) free on both [::1] and 127.0.0.1 after 500 tries", lo, hi)
	return 0
}

// portRange is where FreePort picks ports: below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, used for the source port of every outgoing connection and
// for port 0), so a port handed to a server that binds it a moment later can't meanwhile
// become some connection's source port. Test binaries running side by side (go test runs
// packages in parallel) keep out of each other's way through a lock file per port, held
// until the test ends.
func portRange() (lo, hi int) {
	lo, hi = 20000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		if eph, err := strconv.Atoi(f[0]); err == nil && eph > 2048 && eph < hi {
			hi = eph
			lo = min(lo, hi/2)
		}
	}
	return lo, hi
}

// portFree reports whether port is free for TCP and UDP on every address (a wildcard bind
// fails if any address has it), which covers [::1], 127.0.0.1 and [::].
func portFree(port int) bool {
	a := ":" + strconv.Itoa(port)
	l, err := net.Listen("tcp", a)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", a)
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// Process is a server started by [Start].
type Process struct {
	Cmd    *exec.Cmd
	Output *SyncBuffer // combined stdout and stderr
	done   chan struct{}
	err    error
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, valid after Done is closed.
func (p *Process) Err() error { return p.err }

// Start runs cmd as a child in its own process group and stops it at cleanup with
// stopSignal (SIGTERM if zero), then SIGKILL after 10 s. Output is captured and logged
// when the test fails.
func Start(t testing.TB, cmd *exec.Cmd, stopSignal syscall.Signal) *Process {
	t.Helper()
	if stopSignal == 0 {
		stopSignal = syscall.SIGTERM
	}
	out := &SyncBuffer{}
	if cmd.Stdout == nil {
		cmd.Stdout = out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = out
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	return adopt(t, cmd, stopSignal, out)
}

// adopt watches a command that is already running in its own process group (Start, or
// a server forked from a thread inside a network namespace) and stops it at cleanup with
// stopSignal, then SIGKILL after 10 s. out (what the command writes, if anything) is
// logged when the test fails.
func adopt(t testing.TB, cmd *exec.Cmd, stopSignal syscall.Signal, out *SyncBuffer) *Process {
	p := &Process{Cmd: cmd, Output: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, stopSignal)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", strings.Join(cmd.Args, " "), p.Output.String())
		}
	})
	return p
}

// WaitTCP waits until addr accepts TCP connections, the process exits, or ctx ends.
func WaitTCP(ctx context.Context, p *Process, addr string) error {
	var d net.Dialer
	return WaitTCPWith(ctx, d.DialContext, p, addr)
}

// DialFunc opens a connection, like net.Dialer.DialContext (or a [NetnsDialer]'s, to
// connect from inside a network namespace).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// WaitTCPWith is [WaitTCP] with connections opened by dial.
func WaitTCPWith(ctx context.Context, dial DialFunc, p *Process, addr string) error {
	for {
		c, err := dial(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("process exited before %s accepted connections: %v\n%s", addr, p.err, p.Output.String())
			default:
			}
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SyncBuffer is a bytes buffer safe for concurrent writes (a process's stdout and stderr).
type SyncBuffer struct {
	mu sync.Mutex
	b  []byte
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
