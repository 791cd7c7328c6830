package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Network namespaces for tests: create them with [NetnsAdd], run programs inside with
// [NetnsCommand] (`ip netns exec`, which also bind-mounts /etc/netns/NAME/resolv.conf),
// run Go code inside with [NetnsDo], and open connections from inside with [NetnsDialer].
// Everything is removed by t.Cleanup, even when the test fails.

// NetnsPath is where iproute2 keeps named namespaces.
const NetnsPath = "/run/netns"

// NetnsAdd creates the named network namespace and deletes it at cleanup, after killing
// every process still inside it.
func NetnsAdd(t testing.TB, name string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { NetnsDelete(name) })
}

// NetnsDelete kills every process inside the namespace (checking membership through
// /proc/PID/ns/net right before each kill), then deletes it and its /etc/netns directory.
// It is safe to call for a namespace that does not exist.
func NetnsDelete(name string) {
	nsFile := filepath.Join(NetnsPath, name)
	if _, err := os.Stat(nsFile); err == nil {
		for range 50 {
			pids := NetnsPids(name)
			if len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = exec.Command("ip", "netns", "del", name).Run()
	}
	_ = os.RemoveAll(filepath.Join("/etc/netns", name))
}

// NetnsPids lists the processes whose network namespace is the named one.
func NetnsPids(name string) []int {
	var ns unix.Stat_t
	if err := unix.Stat(filepath.Join(NetnsPath, name), &ns); err != nil {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) != nil {
			continue
		}
		if st.Ino == ns.Ino && st.Dev == ns.Dev {
			out = append(out, pid)
		}
	}
	return out
}

// NetnsCommand returns `ip netns exec NAME prog args...`.
func NetnsCommand(ctx context.Context, name, prog string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", name, prog}, args...)...)
}

// NetnsIP runs `ip -n NAME -batch -` with the given lines.
func NetnsIP(name string, lines ...string) error {
	cmd := exec.Command("ip", "-n", name, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip -n %s: %v\n%s\n(commands: %s)", name, err, out.String(), strings.Join(lines, "; "))
	}
	return nil
}

// NetnsDo runs fn on an OS thread switched into the named namespace. Sockets fn creates
// (listeners, connections) live in that namespace and stay there after fn returns, so a
// server can be started with a listener made inside NetnsDo and served from anywhere.
// Goroutines that fn starts do NOT inherit the namespace. /etc/netns/NAME/resolv.conf is
// not applied (that is a mount trick of `ip netns exec`): use an explicit resolver.
func NetnsDo(name string, fn func() error) error {
	target, err := os.Open(filepath.Join(NetnsPath, name))
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is never unlocked: when this goroutine ends, Go discards the thread,
		// so no other goroutine ever runs in the switched namespace.
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// NetnsSysctl writes net sysctls (key=value, dotted keys) inside the namespace.
func NetnsSysctl(name string, kv ...string) error {
	return NetnsDo(name, func() error {
		for _, s := range kv {
			k, v, ok := strings.Cut(s, "=")
			if !ok {
				return fmt.Errorf("sysctl %q: want key=value", s)
			}
			p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				return fmt.Errorf("netns %s: sysctl %s: %w", name, s, err)
			}
		}
		return nil
	})
}

// NetnsDialer dials from inside a namespace; it implements network.Dialer.
type NetnsDialer struct {
	// Name is the namespace.
	Name string
	// Dialer holds dial options; zero is fine.
	Dialer net.Dialer
}

// DialContext creates the socket inside the namespace, then connects.
func (d *NetnsDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := NetnsDo(d.Name, func() error {
		var err error
		c, err = d.Dialer.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// ListenPacket opens a packet socket (UDP, raw ICMP) inside the namespace; with
// DialContext it makes NetnsDialer both network.Dialer and network.PacketListener.
func (d *NetnsDialer) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := NetnsDo(d.Name, func() error {
		var err error
		pc, err = (&net.ListenConfig{}).ListenPacket(ctx, network, address)
		return err
	})
	return pc, err
}

// NetnsListen opens a listener inside the namespace.
func NetnsListen(name, network, address string) (net.Listener, error) {
	var l net.Listener
	err := NetnsDo(name, func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}
