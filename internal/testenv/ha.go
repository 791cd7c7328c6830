package testenv

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The HA harness: daemons started inside a world's namespaces through `ip netns exec`
// (so /etc/netns/NODE/resolv.conf applies and they resolve the world's names), a replica
// cluster cloned from a primary with pg_basebackup, and a dialer that resolves names with
// the world's resolver.

// HATools checks the HA daemons (pgbouncer, redis-server, redis-sentinel, haproxy,
// keepalived, setpriv), calling [Unavailable] for a missing one.
func HATools(t testing.TB, names ...string) {
	t.Helper()
	pkgs := map[string]string{"pgbouncer": "pgbouncer", "redis-server": "redis-server", "redis-sentinel": "redis-sentinel",
		"haproxy": "haproxy", "keepalived": "keepalived", "setpriv": "util-linux", "pg_basebackup": "postgresql-15", "nft": "nftables"}
	for _, n := range names {
		if n == "pg_basebackup" {
			Tool(t, n, pkgs[n], PostgresBinDir)
			continue
		}
		Tool(t, n, pkgs[n])
	}
}

// Daemon is a program started by [World.StartDaemon].
type Daemon struct {
	Proc *Process
	// Log is the file that holds the program's stdout and stderr.
	Log string
}

// LogText returns the daemon's output so far.
func (d *Daemon) LogText() string {
	b, _ := os.ReadFile(d.Log)
	return string(b)
}

// Stop signals the daemon's process group and waits up to 10 s for it to exit.
func (d *Daemon) Stop(sig syscall.Signal) {
	_ = syscall.Kill(-d.Proc.Cmd.Process.Pid, sig)
	select {
	case <-d.Proc.Done():
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.Proc.Cmd.Process.Pid, syscall.SIGKILL)
		<-d.Proc.Done()
	}
}

// StartDaemon runs prog in node's namespace with `ip netns exec` (its resolv.conf
// applies), as runAs (through setpriv; empty: root), in its own process group, with its
// output in a log file under the world's directory; stopped at cleanup with stop.
func (w *World) StartDaemon(t testing.TB, node, runAs string, stop syscall.Signal, prog string, args ...string) *Daemon {
	t.Helper()
	bin := prog
	if !filepath.IsAbs(bin) {
		p, err := exec.LookPath(prog)
		if err != nil {
			for _, d := range []string{"/usr/sbin", "/sbin", PostgresBinDir} {
				if _, err2 := os.Stat(filepath.Join(d, prog)); err2 == nil {
					p, err = filepath.Join(d, prog), nil
					break
				}
			}
		}
		if err != nil {
			Unavailable(t, "%s not installed", prog)
		}
		bin = p
	}
	argv := append([]string{bin}, args...)
	if runAs != "" {
		argv = append([]string{"setpriv", "--reuid=" + runAs, "--regid=" + runAs, "--init-groups", "--"}, argv...)
	}
	log, err := os.CreateTemp(w.Dir, filepath.Base(prog)+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	cmd := NetnsCommand(context.Background(), node, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	return &Daemon{Proc: Start(t, cmd, stop), Log: log.Name()}
}

// Chown gives files to a user (for daemons that refuse to run as root).
func Chown(t testing.TB, who string, paths ...string) {
	t.Helper()
	u, err := user.Lookup(who)
	if err != nil {
		Unavailable(t, "user %s: %v", who, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
}

// WaitDial waits until address answers TCP from node, the daemon exits, or timeout.
func (w *World) WaitDial(node string, d *Daemon, address string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return WaitTCPWith(ctx, w.Dialer(node).DialContext, d.Proc, address)
}

// ResolvingDialer dials from node and resolves host names with the world's plain
// resolver, as a program inside the namespace would.
func (w *World) ResolvingDialer(node string) func(ctx context.Context, network, address string) (net.Conn, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return w.Dialer(node).DialContext(ctx, network, netip.AddrPortFrom(w.PlainDNS, 53).String())
	}}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		if _, err := netip.ParseAddr(host); err != nil {
			addrs, err := r.LookupNetIP(ctx, "ip6", host)
			if err != nil {
				return nil, err
			}
			if len(addrs) == 0 {
				return nil, fmt.Errorf("%s: no AAAA", host)
			}
			host = addrs[0].String()
		}
		return w.Dialer(node).DialContext(ctx, network, net.JoinHostPort(host, port))
	}
}

// StartReplicaPostgres clones a running primary with pg_basebackup (run in node's
// namespace as the postgres user, connecting to primary:port as user with password, so
// the primary's pg_hba replication rule is what admits it), writes files (relative to the
// data directory: standby.signal, a rendered snippet …), includes each of include at the
// end of postgresql.conf (which is reset to the template's, so the primary's own includes
// do not carry over), and starts the standby in node. Stopped and removed at cleanup.
func (w *World) StartReplicaPostgres(t testing.TB, node string, primary netip.Addr, port int, user, password string,
	files map[string][]byte, include ...string) *Postgres {
	t.Helper()
	HATools(t, "pg_basebackup")
	p, logf := newPostgresCluster(t)
	p.Port = port
	if err := os.RemoveAll(p.DataDir); err != nil {
		t.Fatal(err)
	}
	bb, err := postgresCmd("pg_basebackup", "-h", primary.String(), "-p", strconv.Itoa(port), "-U", user,
		"-D", p.DataDir, "-X", "stream", "-c", "fast", "-w")
	if err != nil {
		Unavailable(t, "%v", err)
	}
	bb.Env = append(bb.Env, "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10")
	var out []byte
	if err := w.Do(node, func() error {
		var err error
		out, err = bb.CombinedOutput()
		return err
	}); err != nil {
		t.Fatalf("pg_basebackup from %s: %v\n%s", primary, err, out)
	}
	conf, err := os.ReadFile(filepath.Join(pgTemplate.dir, "data", "postgresql.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(conf)
	for _, inc := range include {
		fmt.Fprintf(&b, "include '%s'\n", strings.ReplaceAll(inc, "'", "''"))
	}
	_, uid, gid, _ := postgresCred()
	write := func(name string, data []byte) {
		f := filepath.Join(p.DataDir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(f, uid, gid)
	}
	write("postgresql.conf", []byte(b.String()))
	_ = os.Remove(filepath.Join(p.DataDir, "postgresql.auto.conf"))
	for name, data := range files {
		write(name, data)
	}
	cmd, err := postgresCmd("postgres", p.serverArgs()...)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	var startErr error
	if err := w.Do(node, func() error {
		cmd.SysProcAttr.Setpgid = true
		startErr = cmd.Start()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if startErr != nil {
		t.Fatalf("start replica in %s: %v", node, startErr)
	}
	p.Proc = adopt(t, cmd, syscall.SIGINT, &SyncBuffer{})
	if err := p.waitReady(); err != nil {
		t.Fatalf("replica did not start in %s: %v\n%s", node, err, p.LogText())
	}
	return p
}
