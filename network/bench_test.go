package network_test

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/network"
)

// reportRatio runs the probe b.N times and reports its wall time, its slowest single
// check and their ratio: checks run concurrently, so the goal is wall/slowest ≤ 1.2.
func reportRatio(b *testing.B, o network.Options) {
	var wall, slowest time.Duration
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		start := time.Now()
		rep, err := network.Probe(ctx, o)
		wall += time.Since(start)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("probe failed: %s", rep.Verdict())
		}
		slowest += rep.Slowest().Duration
	}
	n := float64(b.N)
	b.ReportMetric(float64(wall.Microseconds())/n/1000, "wall-ms/op")
	b.ReportMetric(float64(slowest.Microseconds())/n/1000, "slowest-check-ms/op")
	b.ReportMetric(float64(wall)/float64(slowest), "wall/slowest")
}

// BenchmarkProbeLoopback: a full probe of a site made of Go servers on [::1].
func BenchmarkProbeLoopback(b *testing.B) {
	s := newLoopSite(b, loopConfig{})
	reportRatio(b, s.options())
}

// BenchmarkProbeWorld compares, from the IPv6-only client of a namespace world, a full
// probe (inbound, outbound through NAT64, path MTU) with the same checks run one after
// another with dig and curl, as an operator would.
func BenchmarkProbeWorld(b *testing.B) {
	pw := newProbeWorld(b)
	good := pw.sites["good"]
	name := pw.fqdn("good")
	rc := filepath.Join(pw.dir, "bench.resolv.conf")
	if err := os.WriteFile(rc, []byte("nameserver "+pw.DNS64.String()+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	d := pw.Dialer(pw.Client)
	o := network.Options{
		Domain: name, Resolver: netip.AddrPortFrom(pw.DNS64, 53), ResolvConf: rc, RootCAs: pw.pki.Pool,
		Outbound: true, OutboundURL: "http://" + pw.PeerName + "/whoami", AllowedPrivateAddresses: []netip.Prefix{pw.NAT64Prefix},
		Dialer: d, PacketListener: d,
	}
	b.Run("v6-probe", func(b *testing.B) { reportRatio(b, o) })

	dig := testenv.Tool(b, "dig", "dnsutils")
	curl := testenv.Tool(b, "curl", "curl")
	ns := "--net=/run/netns/" + pw.Client
	syn, _ := network.Synthesize(pw.NAT64Prefix, pw.PeerAddr)
	https := func(path string, extra ...string) []string {
		return append([]string{curl, "-sS", "-o", "/dev/null", "--max-time", "10", "--cacert", pw.pki.CAFile,
			"--resolve", name + ":443:[" + good.addr.String() + "]", "https://" + name + path}, extra...)
	}
	steps := [][]string{
		{dig, "+short", "@" + pw.DNS64.String(), "AAAA", name},
		{dig, "+short", "@" + pw.DNS64.String(), "A", name},
		{curl, "-sS", "-o", "/dev/null", "--max-time", "10", "--resolve", name + ":80:[" + good.addr.String() + "]", "http://" + name + "/"},
		https("/", "--http2", "-D", "-"),
		https("/health"),
		https("/api/v2/instance"),
		https("/.well-known/webfinger?resource=acct:" + name + "@" + name),
		https("/.well-known/host-meta"),
		https("/.well-known/nodeinfo"),
		https("/api/v1/streaming?stream=public", "--http1.1", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
			"-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="),
		{dig, "+short", "@" + pw.DNS64.String(), "AAAA", "ipv4only.arpa"},
		{dig, "+short", "@" + pw.DNS64.String(), "AAAA", pw.PeerName},
		{curl, "-sS", "-o", "/dev/null", "--max-time", "10", "http://[" + syn.String() + "]/whoami"},
	}
	b.Run("curl+dig sequential", func(b *testing.B) {
		var wall time.Duration
		for b.Loop() {
			start := time.Now()
			for _, s := range steps {
				cmd := exec.Command("nsenter", append([]string{ns}, s...)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", s, err, out)
				}
			}
			wall += time.Since(start)
		}
		b.ReportMetric(float64(wall.Microseconds())/float64(b.N)/1000, "wall-ms/op")
		b.ReportMetric(float64(len(steps)), "commands/op")
	})
}
