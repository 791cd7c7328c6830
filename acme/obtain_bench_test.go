package acme_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

// BenchmarkObtainPebble measures Client.Obtain of new names against a real Pebble on
// [::1] with real HTTP-01 validation over IPv6 (no bad nonces, no authz reuse, no VA
// sleeps, as scripts/bench-certs.sh runs it): one certificate, and 20 names in one
// call. The figure is dominated by the poll schedule (Config.PollInterval).
func BenchmarkObtainPebble(b *testing.B) {
	p := testenv.StartPebble(b, testenv.PebbleOptions{NoNonceReject: true})
	root := testenv.TempDir(b)
	c, err := acme.New(acme.Config{Root: root, Server: p.DirURL, CACertPEM: p.CAPEM,
		Challenge: acme.Challenge{Listen: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(p.HTTPPort))}, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	seq := 0
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				var reqs []acme.Request
				for range n {
					seq++
					reqs = append(reqs, acme.Request{Names: []string{fmt.Sprintf("b%d.bench.test", seq)}})
				}
				if _, err := c.Obtain(b.Context(), reqs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/call")
		})
	}
}
