package testenv

// Pieces the end-to-end tests need on top of the world: Pebble, Redis and nginx run
// inside a namespace (the other harnesses start them in the root namespace, which the
// world is deliberately not connected to), and IPv4 on the client and server links
// for dual-stack sites.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// E2EDualStack gives the world's server and client IPv4 too (TEST-NET-3: the server
// link 203.0.113.0/25, the client link 203.0.113.128/25, routed by the router), and
// returns the server's IPv4 address.
func (w *World) E2EDualStack() (netip.Addr, error) {
	server := netip.MustParseAddr("203.0.113.80")
	if err := NetnsIP(w.Router, "addr add 203.0.113.1/25 dev s6", "addr add 203.0.113.129/25 dev c6"); err != nil {
		return server, err
	}
	if err := NetnsIP(w.Server, "addr add 203.0.113.80/25 dev up0", "route add default via 203.0.113.1"); err != nil {
		return server, err
	}
	if err := NetnsIP(w.Client, "addr add 203.0.113.130/25 dev up0", "route add default via 203.0.113.129"); err != nil {
		return server, err
	}
	return server, nil
}

// StartE2EPebble runs Pebble and challtestsrv in node's namespace, listening on addr,
// validating HTTP-01 on port 80 (TLS-ALPN-01 on 443) of whatever challtestsrv answers for
// every name (aaaa, and a when valid). The returned Pebble's client, and the readiness
// checks, connect from the namespace from.
func (w *World) StartE2EPebble(t testing.TB, node string, addr, aaaa, a netip.Addr, from string) *Pebble {
	t.Helper()
	return StartPebble(t, PebbleOptions{
		Listen: addr, AAAA: aaaa, A: a, HTTPPort: 80, TLSPort: 443, NoNonceReject: true,
		Profiles:      map[string]PebbleProfile{"default": {Description: "90-day certificates", ValidityPeriod: 90 * 24 * 3600}},
		CommandPrefix: []string{"ip", "netns", "exec", node},
		Dial:          w.Dialer(from).DialContext,
	})
}

// StartE2ERedis runs redis-server in node's namespace on a config that includes the
// snippet file (bind, port, auth as rendered) followed by test overrides (its own dir,
// no persistence, foreground), and waits until it is ready.
func (w *World) StartE2ERedis(t testing.TB, node, snippet string) *Redis {
	t.Helper()
	bin := Tool(t, "redis-server", "redis-server")
	d := TempDir(t)
	r := &Redis{Dir: d, Log: filepath.Join(d, "redis.log")}
	conf := fmt.Sprintf("include %s\ndir %s\ndaemonize no\nsupervised no\npidfile \"\"\nlogfile %s\nsave \"\"\nappendonly no\n", snippet, d, r.Log)
	cf := filepath.Join(d, "test.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Proc = Start(t, w.Command(context.Background(), node, bin, cf), syscall.SIGTERM)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(r.LogText(), "Ready to accept connections") {
		select {
		case <-r.Proc.Done():
			t.Fatalf("redis-server exited: %v\n%s%s", r.Proc.Err(), r.LogText(), r.Proc.Output.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not ready:\n%s", r.LogText())
		}
	}
	return r
}

// StartE2ENginx runs nginx from prefix p in node's namespace and waits until every
// address in ready accepts connections from that namespace. HUP reloads it (the
// process is the nginx master: `ip netns exec` execs it in place).
func (w *World) StartE2ENginx(t testing.TB, node string, p *NginxPrefix, ready ...string) *Process {
	t.Helper()
	p.MustCheckIn(t, w, node)
	proc := Start(t, w.Command(context.Background(), node, p.Binary, p.args()...), syscall.SIGQUIT)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, a := range ready {
		if err := w.WaitTCPFrom(ctx, node, proc, a); err != nil {
			t.Fatalf("nginx not ready on %s: %v\nerror.log:\n%s", a, err, p.ErrorLog())
		}
	}
	return proc
}

// MustCheckIn runs `nginx -t` (strict) inside node's namespace.
func (p *NginxPrefix) MustCheckIn(t testing.TB, w *World, node string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := w.Command(ctx, node, p.Binary, p.args("-t", "-q")...).CombinedOutput()
	if err != nil || strings.Contains(string(out), "[warn]") {
		t.Fatalf("nginx -t in %s: %v\n%s\nsites:\n%s", node, err, out, p.sites())
	}
}

// CheckArgv is the argv of `nginx -t` for this prefix inside node's namespace (a deploy
// check for acme).
func (p *NginxPrefix) CheckArgv(node string) []string {
	return append([]string{"ip", "netns", "exec", node, p.Binary}, p.args("-t", "-q")...)
}

// WaitTCPFrom waits until addr accepts a connection made from node's namespace.
func (w *World) WaitTCPFrom(ctx context.Context, node string, p *Process, addr string) error {
	return WaitTCPWith(ctx, w.Dialer(node).DialContext, p, addr)
}

// StartE2EPostgres starts a PostgreSQL 15 cluster (a copy of the template, like
// [StartPostgres]) inside node's namespace on port, with the given config files
// included at the end of postgresql.conf (a rendered listen_addresses, for instance),
// so the cluster listens where the rendered settings say. The server process is forked
// from a thread inside the namespace. Stopped and removed at cleanup.
func (w *World) StartE2EPostgres(t testing.TB, node string, port int, include ...string) *Postgres {
	t.Helper()
	p, logf := newPostgresCluster(t)
	p.Port = port
	f, err := os.OpenFile(filepath.Join(p.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range include {
		fmt.Fprintf(f, "include '%s'\n", strings.ReplaceAll(inc, "'", "''"))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
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
		t.Fatalf("start postgres in %s: %v", node, startErr)
	}
	p.Proc = adopt(t, cmd, syscall.SIGINT, &SyncBuffer{})
	if err := p.waitReady(); err != nil {
		t.Fatalf("PostgreSQL did not start in %s: %v\n%s", node, err, p.LogText())
	}
	return p
}
