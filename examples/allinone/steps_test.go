package main

import (
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/examples/internal/bundletest"
	"github.com/v6kit/v6kit/internal/testenv"
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

// TestHostileEgressFlags sends every hostile class through the gateway's flags: each is
// refused (exit 1 or 2, the flag named, nothing written), or accepted and then the
// gateway's NEXT-STEPS.md still parses as its steps and its nftables ruleset, unit and
// resolver snippet pass systemd-analyze verify (the rest is egress's TestRealValidators).
func TestHostileEgressFlags(t *testing.T) {
	t.Parallel()
	flags := map[string]string{"egress-gateway": "2001:db8:1::1", "egress-clients": "2001:db8:1::/64", "egress-wan": "eth0", "egress-lan": "192.168.1.0/24"}
	hostile := testenv.HostileValues(nil)
	var tried, refused, accepted atomic.Int64
	t.Run("sweep", func(t *testing.T) {
		for flag, good := range flags {
			for class, bad := range hostile {
				t.Run(flag+" "+class, func(t *testing.T) {
					t.Parallel()
					tried.Add(1)
					v := good + bad
					if class == "empty" {
						v = ""
					}
					out := filepath.Join(t.TempDir(), "out")
					rc, _, stderr := bundletest.Run(run, "--out", out, "--egress", "nat64", "--"+flag, v)
					if rc != 0 {
						refused.Add(1)
						require.Contains(t, []int{1, 2}, rc, stderr)
						require.Contains(t, stderr, strings.TrimPrefix(flag, "egress-"), "the error names the flag")
						require.NoDirExists(t, out, "nothing written")
						return
					}
					accepted.Add(1)
					t.Logf("accepted: --%s %q", flag, v)
					h := example
					h.Egress.Path = egress.ViaNAT64
					if flag == "egress-wan" {
						h.Egress.WAN = v
					}
					gw := filepath.Join(out, bundle.GatewayDir)
					bundletest.NextStepsParse(t, gw, h.GatewayProbe())
					got := testenv.SystemdVerify(t, filepath.Join(gw, "etc/systemd/system"), filepath.Base(egress.NAT64UnitPath))
					require.Empty(t, strings.TrimSpace(got))
				})
			}
		}
	})
	t.Logf("allinone --egress-*: %d (flag, value) pairs tried, %d refused, %d accepted and safe", tried.Load(), refused.Load(), accepted.Load())
}
