package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/examples/internal/bundletest"
	"github.com/v6kit/v6kit/internal/testenv"
)

// TestNextStepsParseAsTheSteps: bash reads every command line of every host's
// NEXT-STEPS.md as exactly the argv of its INSTALL-STEPS.json (web1's closes with the
// migration command, run by hand after an upgrade).
func TestNextStepsParseAsTheSteps(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	for _, host := range []string{"front1", "front2", "web1", "web2", "db1", "db2", "redis1", "redis2"} {
		dir := filepath.Join(out, host)
		var manual [][]string
		if host == "web1" {
			steps, err := bundle.ReadSteps(dir)
			require.NoError(t, err)
			manual = [][]string{example.migrate(steps).Line()}
		}
		bundletest.NextStepsParse(t, dir, manual...)
	}
}

// TestHostileFlags sends every hostile class through every flag of ha: each is refused
// (exit 1 or 2, the flag named, nothing written), or accepted and then every host's
// NEXT-STEPS.md parses as its steps, front1's haproxy.cfg passes haproxy -c and its
// keepalived.conf keepalived -t, and web1's units and .env.production their readers.
func TestHostileFlags(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.HATools(t, "keepalived")
	hap := testenv.Tool(t, "haproxy", "haproxy")
	ns := fmt.Sprintf("v6k%dw0-hasweep", os.Getpid())
	testenv.NetnsAdd(t, ns)
	// keepalived -t wants the interface keepalived.conf names
	require.NoError(t, testenv.NetnsIP(ns, "link add eth1 type veth peer name eth1p", "link set eth1 up", "link set eth1p up"))
	flags := map[string]string{"domain": "example.org", "web-domain": "social.example.org", "vip": "fd7a:6b69:7400:30::100",
		"zone": "ha.internal", "max-connections": "100", "pool-size": "40", "mastodon": "4.7"}
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
					out := filepath.Join(t.TempDir(), "cluster")
					rc, _, stderr := bundletest.Run(run, "--out", out, "--"+flag, v)
					if rc != 0 {
						refused.Add(1)
						require.Contains(t, []int{1, 2}, rc, stderr)
						require.Contains(t, stderr, flag, "the error names the flag")
						bundletest.NothingWritten(t, out)
						return
					}
					accepted.Add(1)
					t.Logf("accepted: --%s %q", flag, v)
					for _, host := range []string{"front1", "front2", "web1", "web2", "db1", "db2", "redis1", "redis2"} {
						dir := filepath.Join(out, host)
						var manual [][]string
						if host == "web1" {
							steps, err := bundle.ReadSteps(dir)
							require.NoError(t, err)
							c := example
							manual = [][]string{c.migrate(steps).Line()}
						}
						bundletest.NextStepsParse(t, dir, manual...)
					}
					cfg, err := os.ReadFile(filepath.Join(out, "front1/etc/haproxy/haproxy.cfg"))
					require.NoError(t, err)
					tmp := testenv.TempDir(t)
					cert, key := testenv.NginxSelfSignedCert(t, tmp, "social.example.org")
					pem := filepath.Join(tmp, "site.pem")
					cb, _ := os.ReadFile(cert)
					kb, _ := os.ReadFile(key)
					require.NoError(t, os.WriteFile(pem, append(cb, kb...), 0o600))
					cfg = regexp.MustCompile(`/etc/haproxy/certs/\S+\.pem`).ReplaceAll(cfg, []byte(pem))
					f := filepath.Join(tmp, "haproxy.cfg")
					require.NoError(t, os.WriteFile(f, cfg, 0o644))
					b, err := exec.Command(hap, "-c", "-f", f).CombinedOutput()
					require.NoError(t, err, "haproxy -c: %s", b)
					b, err = testenv.NetnsCommand(context.Background(), ns, "keepalived", "-t", "-l", "-f", filepath.Join(out, "front1/etc/keepalived/keepalived.conf")).CombinedOutput()
					require.NoError(t, err, "keepalived -t: %s", b)
					bundletest.Validate(t, filepath.Join(out, "web1"), example.Release.OrNewest(), nil)
				})
			}
		}
	})
	t.Logf("ha: %d (flag, value) pairs tried, %d refused, %d accepted and safe", tried.Load(), refused.Load(), accepted.Load())
}
