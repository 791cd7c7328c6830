package units

import (
	"testing"

	"github.com/v6kit/v6kit/mastodon"
)

// BenchmarkRenderSplit renders the full split deployment: web, four sidekiq processes,
// streaming shim and template with 4 instances, exporter, renewal service and timer,
// validation and budget included, and serializes every file.
func BenchmarkRenderSplit(b *testing.B) {
	d := Deployment{
		Release: mastodon.MustLookup("4.7"), Bind: mustAddr("::"),
		Sidekiq:   []Sidekiq{sk("default:8,ingress:4,fasp@25"), sk("push,pull@10"), sk("mailers@5"), sk("scheduler@5")},
		Streaming: Streaming{Instances: 4}, Exporter: &Exporter{}, CertRenew: &CertRenew{},
		MaxConnections: 200,
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := d.Render()
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range p.Files {
			_ = f.Bytes()
		}
	}
}

// BenchmarkRenderCluster validates and renders the four-host split cluster of
// cluster_test.go (two web hosts, a worker host, a front host), budget included, and
// serializes every file.
func BenchmarkRenderCluster(b *testing.B) {
	c := split()
	b.ReportAllocs()
	for b.Loop() {
		plans, err := c.Render()
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range plans {
			for _, f := range p.Files {
				_ = f.Bytes()
			}
		}
	}
}
