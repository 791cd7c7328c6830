package testenv

// Pieces the end-to-end tests need on top of the world: Pebble, Redis and nginx run
// inside a namespace (the other harnesses start them in the root namespace, which the
// world is deliberately not connected to), and IPv4 on the client and server links
// for dual-stack sites.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// E2EPebble is Pebble and pebble-challtestsrv running inside a namespace of a world.
type E2EPebble struct {
	DirURL string
	// CAPEM signs Pebble's own HTTPS certificate.
	CAPEM []byte
	// Client reaches Pebble from the namespace given to StartE2EPebble's from.
	Client *http.Client
	mgmt   string
}

// StartE2EPebble runs Pebble and challtestsrv in node's namespace, listening on addr,
// validating HTTP-01 on port 80 of whatever challtestsrv answers for every name (aaaa,
// and a when valid). Readiness is checked from the namespace from.
func (w *World) StartE2EPebble(t testing.TB, node string, addr, aaaa, a netip.Addr, from string) *E2EPebble {
	t.Helper()
	pebbleBin, challBin := PebbleBinaries(t)
	dir := TempDir(t)
	caPEM := PebbleTLS(t, dir, addr)
	hp := func(port int) string { return net.JoinHostPort(addr.String(), strconv.Itoa(port)) }
	const api, mgmt, dnsPort, dnsMgmt = 14000, 15000, 8053, 8055 // the namespace is the test's own
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress": hp(api), "managementListenAddress": hp(mgmt),
		"certificate": filepath.Join(dir, "cert.pem"), "privateKey": filepath.Join(dir, "key.pem"),
		"httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "keyAlgorithm": "ecdsa",
		"profiles": map[string]PebbleProfile{"default": {Description: "90-day certificates", ValidityPeriod: 90 * 24 * 3600}},
	}}
	cb, _ := json.Marshal(conf)
	cf := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cf, cb, 0o644); err != nil {
		t.Fatal(err)
	}
	aFlag := ""
	if a.IsValid() {
		aFlag = a.String()
	}
	Start(t, w.Command(context.Background(), node, challBin, "-dnsserver", hp(dnsPort), "-management", hp(dnsMgmt),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-defaultIPv6", aaaa.String(), "-defaultIPv4", aFlag), 0)
	cmd := w.Command(context.Background(), node, pebbleBin, "-config", cf, "-dnsserver", hp(dnsPort))
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_AUTHZREUSE=0", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Dir = dir
	proc := Start(t, cmd, 0)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	p := &E2EPebble{DirURL: "https://" + hp(api) + "/dir", CAPEM: caPEM, mgmt: "https://" + hp(mgmt),
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext: w.Dialer(from).DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := p.Client.Get(p.DirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-proc.Done():
			t.Fatalf("pebble exited: %v\n%s", proc.Err(), proc.Output.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not answering on %s: %v\n%s", p.DirURL, err, proc.Output.String())
		}
	}
}

// Roots returns the PEM of Pebble's issuing root.
func (p *E2EPebble) Roots(t testing.TB) []byte {
	t.Helper()
	resp, err := p.Client.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebble roots: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
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
	d := w.Dialer(node)
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil {
			select {
			case <-p.Done():
				return fmt.Errorf("process exited: %v\n%s", p.Err(), p.Output.String())
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartE2EPostgres starts a PostgreSQL 15 cluster (a copy of the template, like
// [StartPostgres]) inside node's namespace on port, with the given config files
// included at the end of postgresql.conf (a rendered listen_addresses, for instance),
// so the cluster listens where the rendered settings say. The server process is forked
// from a thread inside the namespace. Stopped and removed at cleanup.
func (w *World) StartE2EPostgres(t testing.TB, node string, port int, include ...string) *Postgres {
	t.Helper()
	Tool(t, "initdb", "postgresql-15", PostgresBinDir)
	Tool(t, "postgres", "postgresql-15", PostgresBinDir)
	if _, _, _, err := postgresCred(); err != nil {
		Unavailable(t, "%v", err)
	}
	pgTemplate.once.Do(func() { pgTemplate.dir, pgTemplate.err = initTemplate() })
	if pgTemplate.err != nil {
		t.Fatalf("template cluster: %v", pgTemplate.err)
	}
	d := postgresDir(t)
	p := &Postgres{Dir: d, DataDir: filepath.Join(d, "data"), Log: filepath.Join(d, "server.log"), Port: port}
	p.HBAFile = filepath.Join(p.DataDir, "pg_hba.conf")
	if out, err := exec.Command("cp", "-a", filepath.Join(pgTemplate.dir, "data"), p.DataDir).CombinedOutput(); err != nil {
		t.Fatalf("copy template cluster: %v\n%s", err, out)
	}
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
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd, err := postgresCmd("postgres", "-D", p.DataDir, "-p", strconv.Itoa(port), "-k", d,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "log_connections=on", "-c", "logging_collector=off", "-c", "shared_buffers=16MB")
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
	p.Proc = adopt(t, cmd, syscall.SIGINT)
	if err := p.waitReady(); err != nil {
		t.Fatalf("PostgreSQL did not start in %s: %v\n%s", node, err, p.LogText())
	}
	return p
}

// adopt is Start for a command already started (in a namespace thread).
func adopt(t testing.TB, cmd *exec.Cmd, stopSignal syscall.Signal) *Process {
	p := &Process{Cmd: cmd, Output: &SyncBuffer{}, done: make(chan struct{})}
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
	})
	return p
}
