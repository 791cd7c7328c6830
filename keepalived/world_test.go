package keepalived_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/haproxy"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/internal/wsframe"
	"github.com/v6kit/v6kit/keepalived"
)

// front is one front host's daemons.
type front struct {
	node       string
	ha, keep   *testenv.Daemon
	haCfg, kCf string
}

// loadStats counts the load loop's outcomes.
type loadStats struct {
	mu          sync.Mutex
	ok, failed  int
	lastErr     error
	okSinceFail int
}

func (s *loadStats) add(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed++
		s.lastErr = err
		s.okSinceFail = 0
		return
	}
	s.ok++
	s.okSinceFail++
}

func (s *loadStats) snapshot() (ok, failed, streak int, last error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ok, s.failed, s.okSinceFail, s.lastErr
}

// TestFrontsFailover runs two fronts (real HAProxy + real keepalived sharing an IPv6
// failover address) before two web nodes (Mastodon stubs for web and streaming) on an
// IPv6-only LAN, with an IPv6-only client outside the LAN running a load loop of HTTP
// requests and websocket upgrades against the failover address. One web node dies:
// HAProxy marks it down by health check. One front stops: the address moves. It comes
// back and takes the address again, then vanishes silently (every packet dropped): the
// address moves again. Each phase's failed requests are counted and bounded.
func TestFrontsFailover(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.HATools(t, "haproxy", "keepalived", "nft")
	w := testenv.NewWorld(t, testenv.WorldOptions{})
	a := func(s string) netip.Addr { return netip.MustParseAddr("fd6e:7465:7374:13::" + s) }
	names, err := w.AddLAN(netip.MustParsePrefix("fd6e:7465:7374:13::/64"), a("41"), a("42"), a("21"), a("22"))
	require.NoError(t, err)
	vip := netip.MustParsePrefix("fd6e:7465:7374:13::100/64")
	dir := testenv.TempDir(t)

	// Web nodes: puma on :80 (/health), streaming on :4000.
	type web struct{ srv []*http.Server }
	var webs []web
	for i, node := range names[2:] {
		var wb web
		for _, h := range []struct {
			port    int
			handler http.Handler
		}{{80, testenv.MastodonStub{}}, {4000, testenv.StreamingStub()}} {
			l, err := w.Listen(node, "tcp", netip.AddrPortFrom(a(fmt.Sprint(21+i)), uint16(h.port)).String())
			require.NoError(t, err)
			srv := &http.Server{Handler: h.handler, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = srv.Serve(l) }()
			t.Cleanup(func() { _ = srv.Close() })
			wb.srv = append(wb.srv, srv)
		}
		webs = append(webs, wb)
	}

	hcfg := haproxy.Config{
		Web:   []haproxy.Server{{Name: "web1", Addr: a("21"), StreamingPort: 4000}, {Name: "web2", Addr: a("22"), StreamingPort: 4000}},
		Inter: 500 * time.Millisecond, Fall: 2, Rise: 1,
		Sources: []netip.Addr{a("41"), a("42")},
	}
	env, ps := hcfg.Env()
	require.NoError(t, ps.Err())
	require.Empty(t, env, "fronts on ULA addresses are inside Rails' default trusted proxies (fc00::/7)")
	fronts := []*front{{node: names[0]}, {node: names[1]}}
	for i, f := range fronts {
		f.haCfg = filepath.Join(dir, fmt.Sprintf("haproxy%d.cfg", i))
		_, err := hcfg.WriteFile(f.haCfg)
		require.NoError(t, err)
		kc := keepalived.Config{Interface: "up0", VIP6: vip, Priority: 150 - 50*i, Name: "mastodon"}
		f.kCf = filepath.Join(dir, fmt.Sprintf("keepalived%d.conf", i))
		_, err = kc.WriteFile(f.kCf)
		require.NoError(t, err)
		out, err := w.Command(context.Background(), f.node, "keepalived", "-t", "-f", f.kCf).CombinedOutput()
		require.NoError(t, err, "keepalived -t: %s", out)
	}
	start := func(i int) {
		f := fronts[i]
		f.ha = w.StartDaemon(t, f.node, "", syscall.SIGTERM, "haproxy", "-db", "-f", f.haCfg)
		p := filepath.Join(dir, fmt.Sprintf("k%d-%d", i, time.Now().UnixNano()))
		f.keep = w.StartDaemon(t, f.node, "", syscall.SIGTERM, "keepalived", "-n", "-l", "-D", "-f", f.kCf,
			"-p", p+".pid", "-r", p+"-vrrp.pid", "-c", p+"-check.pid")
	}
	start(0)
	start(1)

	holds := func(node string) bool {
		out, _ := exec.Command("ip", "-n", node, "-6", "addr", "show", "dev", "up0").CombinedOutput()
		return strings.Contains(string(out), vip.String())
	}
	waitHolder := func(want int, bound time.Duration) time.Duration {
		t.Helper()
		begin := time.Now()
		for !holds(fronts[want].node) {
			require.True(t, time.Since(begin) < bound, "front%d did not take %s within %v\nfront1:\n%s\nfront2:\n%s", want+1, vip, bound,
				fronts[0].keep.LogText(), fronts[1].keep.LogText())
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(begin)
	}
	waitHolder(0, 20*time.Second)

	// The load loop: from the IPv6-only client, alternately GET /health and a websocket
	// upgrade of /api/v1/streaming, each on a new connection, every 20 ms.
	target := netip.AddrPortFrom(vip.Addr(), 80).String()
	dial := w.Dialer(w.Client)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: dial.DialContext, DisableKeepAlives: true}}
	var stats loadStats
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if i%2 == 0 {
				stats.add(httpHealth(hc, target))
			} else {
				stats.add(upgrade(dial, target))
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	})
	phase := func(name string) (ok, failed int) {
		ok, failed, _, _ = stats.snapshot()
		return
	}
	// recovered waits until the loop has 20 successes in a row.
	recovered := func(what string) {
		t.Helper()
		begin := time.Now()
		for {
			_, _, streak, last := stats.snapshot()
			if streak >= 20 {
				return
			}
			require.True(t, time.Since(begin) < 20*time.Second, "%s: the load loop did not recover within 20 s (last error %v)\nhaproxy front1:\n%s\nkeepalived front1:\n%s\nkeepalived front2:\n%s",
				what, last, fronts[0].ha.LogText(), fronts[0].keep.LogText(), fronts[1].keep.LogText())
			time.Sleep(20 * time.Millisecond)
		}
	}
	recovered("start")
	var report []string
	measure := func(name string, f func() time.Duration, bound int) {
		t.Helper()
		ok0, failed0 := phase(name)
		d := f()
		recovered(name)
		ok1, failed1 := phase(name)
		report = append(report, fmt.Sprintf("%s: %v; %d requests ok, %d failed", name, d.Round(time.Millisecond), ok1-ok0, failed1-failed0))
		require.LessOrEqual(t, failed1-failed0, bound, "%s: too many failed requests", name)
	}

	// A web node dies: HAProxy marks it down by health check (on both fronts).
	measure("web1 killed → marked DOWN by health check", func() time.Duration {
		begin := time.Now()
		for _, s := range webs[0].srv {
			_ = s.Close()
		}
		for !strings.Contains(fronts[0].ha.LogText(), "web/web1 is DOWN") || !strings.Contains(fronts[0].ha.LogText(), "streaming/web1 is DOWN") {
			require.True(t, time.Since(begin) < 10*time.Second, "HAProxy did not mark web1 down:\n%s", fronts[0].ha.LogText())
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(begin)
	}, 10)

	// A front stops: keepalived hands the address over.
	measure("front1 stopped → address on front2", func() time.Duration {
		begin := time.Now()
		fronts[0].keep.Stop(syscall.SIGTERM)
		fronts[0].ha.Stop(syscall.SIGTERM)
		waitHolder(1, 15*time.Second)
		return time.Since(begin)
	}, 20)

	// It returns and, with the higher priority, takes the address back.
	measure("front1 back → address on front1", func() time.Duration {
		begin := time.Now()
		start(0)
		waitHolder(0, 15*time.Second)
		return time.Since(begin)
	}, 20)

	// It vanishes silently: every packet in and out dropped, its daemons unaware.
	measure("front1 silent (packets dropped) → address on front2", func() time.Duration {
		begin := time.Now()
		cmd := w.Command(context.Background(), fronts[0].node, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader("table inet vanish {\n chain in { type filter hook input priority -300; policy drop; }\n chain out { type filter hook output priority -300; policy drop; }\n}\n")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		waitHolder(1, 15*time.Second)
		return time.Since(begin)
	}, 60)

	close(stop)
	<-done
	ok, failed, _, _ := stats.snapshot()
	t.Logf("fronts failover (advert 1 s, health checks every 500 ms, fall 2):\n  %s\n  total: %d requests ok, %d failed",
		strings.Join(report, "\n  "), ok, failed)
}

func httpHealth(hc *http.Client, target string) error {
	resp, err := hc.Get("http://" + target + "/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET /health: %s", resp.Status)
	}
	return nil
}

func upgrade(dial *testenv.NetnsDialer, target string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := dial.DialContext(ctx, "tcp", target)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	host, _, _ := net.SplitHostPort(target)
	fmt.Fprintf(c, "GET /api/v1/streaming?stream=public HTTP/1.1\r\nHost: [%s]\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", host)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsframe.Accept("dGhlIHNhbXBsZSBub25jZQ==") {
		return fmt.Errorf("upgrade: %s", resp.Status)
	}
	op, _, _, err := wsframe.Read(br, 1<<16)
	if err != nil {
		return err
	}
	if op != 1 {
		return errors.New("upgrade: first frame is not text")
	}
	return nil
}
