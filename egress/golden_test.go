package egress_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/mastodon"
)

// goldenInput is input.json of a testdata/*.txtar: one of nat64 or proxy, and the
// Mastodon version.
type goldenInput struct {
	Mastodon string        `json:"mastodon,omitempty"`
	NAT64    *egress.NAT64 `json:"nat64,omitempty"`
	Proxy    *egress.Proxy `json:"proxy,omitempty"`
}

type rendered struct {
	files []egress.File
	env   []egress.EnvVar
	extra []egress.File // the Mastodon host's files
}

func render(t *testing.T, in goldenInput) rendered {
	t.Helper()
	rel := mastodon.Newest()
	if in.Mastodon != "" {
		rel = mastodon.MustLookup(in.Mastodon)
	}
	var r rendered
	switch {
	case in.NAT64 != nil:
		n := *in.NAT64
		n.Release = rel
		fs, ps := n.Files()
		require.NoError(t, ps.Err())
		r.files, r.env = fs, n.Env()
		r.extra = []egress.File{{Path: egress.ResolvConfPath, Data: n.ResolvConf()}}
	case in.Proxy != nil:
		p := *in.Proxy
		p.Release = rel
		fs, ps := p.Files()
		require.NoError(t, ps.Err())
		r.files, r.env = fs, p.Env()
	default:
		t.Fatal("input.json holds neither nat64 nor proxy")
	}
	return r
}

func loadInput(t *testing.T, a *golden.Archive) goldenInput {
	t.Helper()
	raw, ok := a.Input("input.json")
	require.True(t, ok, "%s: no input.json", a.File())
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var in goldenInput
	require.NoError(t, dec.Decode(&in), a.File())
	return in
}

// TestGolden renders every case and compares each file, the Mastodon host's files and
// its .env.production fragment with the archive.
func TestGolden(t *testing.T) {
	for _, f := range golden.Files(t, filepath.Join("testdata", "*.txtar")) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			a := golden.Open(t, f)
			r := render(t, loadInput(t, a))
			var secs []golden.Section
			for _, x := range r.files {
				secs = append(secs, golden.Section{Name: "gateway/" + x.Path, Data: string(x.Data)})
			}
			for _, x := range r.extra {
				secs = append(secs, golden.Section{Name: "mastodon/" + x.Path, Data: string(x.Data)})
			}
			secs = append(secs, golden.Section{Name: "mastodon/env.production.fragment", Data: string(egress.EnvFragment(r.env))})
			a.Check(t, secs...)
		})
	}
}
