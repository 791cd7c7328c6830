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

	"github.com/stretchr/testify/assert"
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

// TestRestartStepsFollowTheirFiles: every restart step of every host asks whether its
// daemon started after the files it reads (CheckSteps refuses it otherwise) and whether
// the bundle's copies are installed; sentinel is compared with the copy installed last,
// never with the file it rewrites; db2 restarts PostgreSQL when its replica snippet changes.
func TestRestartStepsFollowTheirFiles(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rc, _, stderr := bundletest.Run(run, "--out", out)
	require.Equal(t, 0, rc, stderr)
	script := bundle.StartedAfter("x.service", "/x").Args[2]
	for _, host := range []string{"front1", "front2", "web1", "web2", "db1", "db2", "redis1", "redis2"} {
		dir := filepath.Join(out, host)
		steps, err := bundle.ReadSteps(dir)
		require.NoError(t, err, host)
		index := map[string]int{}
		fresh := map[string][]string{} // step → the files its freshness check names
		for i, st := range steps {
			index[st.ID] = i
			for _, c := range st.Check {
				if len(c.Args) > 6 && c.Args[0] == "sh" && c.Args[2] == script {
					fresh[st.ID] = append(fresh[st.ID], c.Args[6:]...)
					for _, f := range c.Args[6:] {
						if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
							assert.Contains(t, st.Check, bundle.Installed(f)[0], "%s %s: the bundle's %s is installed", host, st.ID, f)
						}
					}
				}
			}
		}
		switch host {
		case "db1", "redis1", "redis2":
			assert.NotContains(t, index, "file:etc/redis/sentinel.conf", host)
			require.Contains(t, index, "sentinel-conf", host)
			assert.Less(t, index["sentinel-conf"], index["sentinel"], host)
			assert.Equal(t, []string{sentinelInstalled}, fresh["sentinel"], "%s: sentinel rewrites /etc/redis/sentinel.conf", host)
			conf := steps[index["sentinel-conf"]]
			assert.Contains(t, conf.Check, bundle.Cmd{Args: []string{"cmp", "-s", "--", "etc/redis/sentinel.conf", sentinelInstalled}})
			assert.Equal(t, sentinelInstalled, conf.Run[len(conf.Run)-1].Args[len(conf.Run[len(conf.Run)-1].Args)-1], "the copy is installed last")
		case "db2":
			require.Contains(t, index, "postgresql-restart")
			assert.Less(t, index["replica"], index["postgresql-restart"], "the replica step starts the standby first")
			assert.Contains(t, fresh["postgresql-restart"], "/etc/postgresql/15/main/conf.d/mastodon-replica.conf")
		case "front1", "front2":
			assert.Contains(t, fresh["haproxy"], "/etc/haproxy/haproxy.cfg")
			assert.Contains(t, fresh["keepalived"], "/etc/keepalived/keepalived.conf")
		}
	}
}
