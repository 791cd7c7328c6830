package main

import (
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/examples/internal/bundletest"
)

// TestNextStepsParseAsTheSteps: bash reads every command line of the host's and the
// gateway's NEXT-STEPS.md as exactly the argv of their INSTALL-STEPS.json (then the
// probe lines), for the example and for valid values full of shell syntax.
func TestNextStepsParseAsTheSteps(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*bundle.Host){
		"example":      func(*bundle.Host) {},
		"egress nat64": func(h *bundle.Host) { h.Egress.Path = egress.ViaNAT64 },
		"egress proxy": func(h *bundle.Host) {
			h.Egress.Path = egress.ViaProxy
			h.Egress.Clients = append(h.Egress.Clients, netip.MustParsePrefix("2001:db8:2::/64"))
		},
		"shell characters": func(h *bundle.Host) {
			h.AdminEmail = "o'neil$HOME`id`{x}|y&z#*?@example.org"
			h.Owner = "a.b-c_d"
			h.ACMEServer = "https://acme.test:14000/dir?x=$(id)&y='z'"
			h.Home = "/srv/mastodon"
			h.Source = "/srv/git/mastodon's code.git"
			h.Egress.Path = egress.ViaNAT64
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := example
			mod(&h)
			out := filepath.Join(t.TempDir(), "out")
			var stderr strings.Builder
			require.Equal(t, 0, bundle.RunHost(h, out, io.Discard, &stderr), stderr.String())
			tr := bundle.New("", t.TempDir())
			info := h.Compose(tr)
			outside, local := h.ProbeCommands(info)
			bundletest.NextStepsParse(t, out, outside, local)
			if h.Egress.Path != egress.None {
				bundletest.NextStepsParse(t, filepath.Join(out, bundle.GatewayDir), h.GatewayProbe())
			}
		})
	}
}
