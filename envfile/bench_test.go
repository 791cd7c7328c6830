package envfile

import (
	"testing"

	"github.com/v6kit/v6kit/mastodon"
)

// BenchmarkNew generates a complete new .env.production for 4.7 with crypto/rand:
// secrets, VAPID pair, validation, rendering. Mastodon's route (rake secret twice,
// db:encryption:init, webpush:generate_vapid_key) boots Rails four times, seconds each.
func BenchmarkNew(b *testing.B) {
	rel := mastodon.MustLookup("4.7")
	cfg := Config{LocalDomain: "social.example.org", SMTP: SMTP{Server: "smtp.example.org", Password: "pa$$ word"}}
	b.ReportAllocs()
	for b.Loop() {
		f, ps := New(cfg, Options{Release: rel})
		if ps.Err() != nil {
			b.Fatal(ps.Err())
		}
		if _, err := f.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMerge upgrades the hand-written 1.6-era file of the golden case to 4.7:
// parse, merge (three encryption keys generated), validate, render.
func BenchmarkMerge(b *testing.B) {
	src := upgradeInput(b)
	rel := mastodon.MustLookup("4.7")
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		m, ps := Merge(f, Config{}, Options{Release: rel})
		if ps.Err() != nil {
			b.Fatal(ps.Err())
		}
		if _, err := m.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMergeUnchanged re-runs a merge on v6kit's own output: the common case of an
// installer run on a configured server, which must change nothing.
func BenchmarkMergeUnchanged(b *testing.B) {
	rel := mastodon.MustLookup("4.7")
	f, ps := New(Config{LocalDomain: "social.example.org"}, Options{Release: rel})
	if ps.Err() != nil {
		b.Fatal(ps.Err())
	}
	src, _ := f.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		g, err := Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		m, _ := Merge(g, Config{LocalDomain: "social.example.org"}, Options{Release: rel})
		out, _ := m.Bytes()
		if string(out) != string(src) {
			b.Fatal("changed")
		}
	}
}

func upgradeInput(b *testing.B) []byte {
	b.Helper()
	a, err := loadArchive("testdata/upgrade-1.6-to-4.7.txtar")
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range a.Files {
		if f.Name == "existing" {
			return f.Data
		}
	}
	b.Fatal("no existing section")
	return nil
}
