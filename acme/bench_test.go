package acme_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/v6kit/v6kit/acme"
)

// benchStore makes n lineages that are not due, with a fresh cached ARI answer.
func benchStore(b *testing.B, n int) string {
	b.Helper()
	root := b.TempDir()
	st := &acme.Store{Root: root}
	now := time.Now()
	v := selfSigned(b, now.Add(-24*time.Hour), 90*24*time.Hour, "bench.example")
	leaf, _ := v.Check()
	id := acme.ARICertID(leaf)
	for i := range n {
		m := acme.Meta{Server: "https://[::1]:9/dir", Challenge: acme.Challenge{Type: acme.HTTP01, Webroot: "/var/www/acme"},
			ARI: &acme.ARIState{CertID: id, Start: now.Add(50 * 24 * time.Hour), End: now.Add(52 * 24 * time.Hour),
				RenewAt: now.Add(51 * 24 * time.Hour), CheckedAt: now, NextCheck: now.Add(6 * time.Hour)}}
		if _, err := st.Install(fmt.Sprintf("site%04d.example", i), v, m, now); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// BenchmarkRenewNothingDue measures a whole `renew` run (lock, scan, due decision) over
// 1,000 lineages with nothing due. The CA URL points at a closed port: any request
// would fail the run.
func BenchmarkRenewNothingDue(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			root := benchStore(b, n)
			c, err := acme.New(acme.Config{Root: root, Server: "https://[::1]:9/dir"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rep, err := c.Renew(context.Background(), acme.RenewOptions{})
				if err != nil || rep.Changed || len(rep.Outcomes) != n {
					b.Fatalf("renew: %v changed=%v outcomes=%d", err, rep.Changed, len(rep.Outcomes))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/lineage")
		})
	}
}

// BenchmarkDueAt is the pure decision for one lineage.
func BenchmarkDueAt(b *testing.B) {
	now := time.Now()
	l := acme.Lineage{NotBefore: now, NotAfter: now.Add(90 * 24 * time.Hour), Meta: acme.Meta{NoARI: true}}
	for b.Loop() {
		_ = acme.DueAt(l, "id", now)
	}
}
