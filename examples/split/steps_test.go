package main

import (
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/examples/internal/bundletest"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
)

var hosts = []string{"front", "web1", "web2", "db1", "redis1"}

// parseAll runs the shell oracle over every host's NEXT-STEPS.md and returns every
// argv element of every host's steps.
func parseAll(t *testing.T, out string, c cluster) map[string]bool {
	t.Helper()
	h := c.host(c.release())
	outside, _ := h.ProbeCommands(bundle.Info{})
	args := map[string]bool{}
	for _, host := range hosts {
		var manual [][]string
		if host == "front" {
			manual = [][]string{outside}
		}
		for _, st := range bundletest.NextStepsParse(t, filepath.Join(out, host), manual...) {
			for _, c := range append(st.Check, st.Run...) {
				for _, a := range c.Line() {
					args[a] = true
				}
			}
		}
	}
	return args
}

// TestNextStepsParseAsTheSteps: bash reads every command line of every host's
// NEXT-STEPS.md as exactly the argv of its INSTALL-STEPS.json, for the example and for
// valid values full of shell syntax, each of which reaches the steps as one element.
func TestNextStepsParseAsTheSteps(t *testing.T) {
	t.Parallel()
	shell := []string{"--email", "o'neil$HOME`id`{x}|y&z#*?@example.org", "--acme-server", "https://acme.test:14000/dir?x=$(id)&y='z'#f",
		"--home", "/srv/mastodon", "--letsencrypt", "/srv/le", "--mastodon", "4.2"}
	for name, args := range map[string][]string{"example": nil, "shell characters": shell} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			rc, _, stderr := bundletest.Run(run, append([]string{"--out", out}, args...)...)
			require.Equal(t, 0, rc, stderr)
			c := example
			for i := 0; i+1 < len(args); i += 2 {
				switch args[i] {
				case "--email":
					c.AdminEmail = args[i+1]
				case "--acme-server":
					c.ACMEServer = args[i+1]
				case "--home":
					c.Home = args[i+1]
				case "--letsencrypt":
					c.LetsEncrypt = args[i+1]
				case "--mastodon":
					c.Release = mastodon.MustLookup(args[i+1])
				}
			}
			got := parseAll(t, out, c)
			for i := 1; i < len(args); i += 2 {
				if args[i-1] != "--mastodon" && args[i-1] != "--home" && args[i-1] != "--letsencrypt" {
					assert.True(t, got[args[i]], "%s %q is one argv element", args[i-1], args[i])
				}
			}
		})
	}
}

// hostile are the value classes of the sweep (issue 19), each appended to a good value
// (or, for "empty", alone).
var hostile = testenv.HostileValues(nil)

// TestHostileFlags sends every hostile class through every flag of the split: each is
// refused (exit 1 or 2) with the flag named and nothing written, or accepted and then
// every host's NEXT-STEPS.md still parses as its steps and every rendered config passes
// its real consumer (nginx -t, systemd-analyze verify, redis-server, postgres -C,
// pg_hba and .env.production parsing).
func TestHostileFlags(t *testing.T) {
	t.Parallel()
	flags := map[string]string{
		"domain": "example.org", "web-domain": "social.example.org", "email": "admin@example.org",
		"home": "/srv/mastodon", "letsencrypt": "/srv/le", "acme-server": "https://acme.test/dir",
		"nginx-cache": "/srv/cache", "app-prefix": "fd7a:6b69:7400:10::/64", "front-addr": "fd7a:6b69:7400:10::80",
		"web1-addr": "fd7a:6b69:7400:10::31", "web2-addr": "fd7a:6b69:7400:10::32", "db-addr": "fd7a:6b69:7400:20::5",
		"redis-addr": "fd7a:6b69:7400:20::6", "max-connections": "200", "mastodon": "4.7",
	}
	var tried, refused, accepted atomic.Int64
	t.Run("sweep", func(t *testing.T) {
		for flag, good := range flags {
			for class, bad := range hostile {
				v := good + bad
				if class == "empty" {
					v = ""
				}
				t.Run(flag+" "+class, func(t *testing.T) {
					t.Parallel()
					tried.Add(1)
					out := filepath.Join(t.TempDir(), "cluster")
					rc, _, stderr := bundletest.Run(run, "--out", out, "--"+flag, v)
					if rc != 0 {
						refused.Add(1)
						assert.Contains(t, []int{1, 2}, rc, stderr)
						assert.Contains(t, stderr, flag, "the error names the flag")
						bundletest.NothingWritten(t, out)
						return
					}
					accepted.Add(1)
					t.Logf("accepted: --%s %q", flag, clip(v))
					c := example
					switch flag {
					case "email":
						c.AdminEmail = v
					case "acme-server":
						c.ACMEServer = v
					case "home":
						c.Home = v
					case "letsencrypt":
						c.LetsEncrypt = v
					case "nginx-cache":
						c.NginxCache = v
					}
					args := parseAll(t, out, c)
					if flag == "acme-server" && v != "" {
						assert.True(t, args[v], "--acme-server %q is one argv element", v)
					}
					h := c.host(c.release())
					cert, key := h.CertPaths()
					// the string flags reach front's site and units and the app hosts' units
					// and .env.production; db1 and redis1 take typed values only
					for _, host := range []string{"front", "web1"} {
						bundletest.Validate(t, filepath.Join(out, host), c.release(), [][2]string{{cert, key}}, h.CertNames()...)
					}
				})
			}
		}
	})
	t.Logf("split: %d (flag, value) pairs tried, %d refused, %d accepted and safe", tried.Load(), refused.Load(), accepted.Load())
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
