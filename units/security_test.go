package units

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
)

// upstreamUnit renders the dist unit of a release for process, as upstream ships it,
// from the facts in the mastodon catalogue (not a copied file): the fixture our units are
// compared against.
func upstreamUnit(rel mastodon.Release, process string) (string, []byte) {
	var o []*unit.UnitOption
	add := func(sec, k, v string) { o = append(o, unit.NewUnitOption(sec, k, v)) }
	name := "mastodon-" + process + ".service"
	add("Unit", "Description", "mastodon-"+process)
	add("Unit", "After", "network.target")
	add("Service", "Type", "simple")
	add("Service", "User", "mastodon")
	add("Service", "WorkingDirectory", "/home/mastodon/live")
	bundle := "/home/mastodon/.rbenv/shims/bundle"
	switch process {
	case mastodon.ProcessWeb:
		add("Service", "Environment", `"RAILS_ENV=production"`)
		add("Service", "Environment", `"PORT=3000"`)
		if rel.JemallocPreload() {
			add("Service", "Environment", `"LD_PRELOAD=`+mastodon.DistJemalloc+`"`)
		}
		add("Service", "ExecStart", bundle+" exec puma -C config/puma.rb")
		if rel.WebHasPhasedRestart() {
			add("Service", "ExecReload", "/bin/kill -SIGUSR1 $MAINPID")
		}
	case mastodon.ProcessSidekiq:
		add("Service", "Environment", `"RAILS_ENV=production"`)
		add("Service", "Environment", `"DB_POOL=25"`)
		if rel.SidekiqMallocArenaMax() {
			add("Service", "Environment", `"MALLOC_ARENA_MAX=2"`)
		}
		if rel.JemallocPreload() {
			add("Service", "Environment", `"LD_PRELOAD=`+mastodon.DistJemalloc+`"`)
		}
		add("Service", "ExecStart", bundle+" exec sidekiq -c 25")
	case mastodon.ProcessStreaming:
		add("Service", "Environment", `"NODE_ENV=production"`)
		if rel.StreamingTemplated() {
			name = "mastodon-streaming@.service"
			add("Service", "Environment", `"PORT=%i"`)
		} else {
			add("Service", "Environment", `"PORT=4000"`)
		}
		if rel.DistStreamingClusterNum() {
			add("Service", "Environment", `"STREAMING_CLUSTER_NUM=1"`)
		}
		add("Service", "ExecStart", "/usr/bin/node ./streaming")
	}
	add("Service", "TimeoutSec", mastodon.DistUnitTimeoutSec)
	add("Service", "Restart", "always")
	if process == mastodon.ProcessStreaming && rel.StreamingTemplated() {
		add("Service", "LimitNOFILE", mastodon.DistStreamingLimitNOFILE)
	}
	for _, h := range rel.DistHardeningOptions(process) {
		add("Service", h.Name, h.Value)
	}
	if rel.DistReadWritePaths() {
		add("Service", "ReadWritePaths", "/home/mastodon/live")
	}
	add("Install", "WantedBy", "multi-user.target")
	b, _ := io.ReadAll(unit.Serialize(o))
	return name, b
}

// TestExposureNoWorseThanUpstream scores our web, sidekiq and streaming units with
// `systemd-analyze security --offline=yes` and requires each to be no worse than the
// release's dist unit; from 3.5 (the full sandbox) each must also score at most 3.0.
func TestExposureNoWorseThanUpstream(t *testing.T) {
	t.Parallel()
	testenv.SystemdAnalyze(t)
	for _, v := range []string{"1.6", "3.4", "3.5", "4.2", "4.3", "4.7"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			rel := mastodon.MustLookup(v)
			plan, err := Deployment{Release: rel, Bind: mustAddr("::"), ReadWritePaths: []string{"/srv/media"}}.Render()
			require.NoError(t, err)
			dir := testenv.TempDir(t)
			for _, p := range []string{mastodon.ProcessWeb, mastodon.ProcessSidekiq, mastodon.ProcessStreaming} {
				upName, upData := upstreamUnit(rel, p)
				ourName := upName
				if _, ok := plan.File(ourName); !ok {
					t.Fatalf("plan lacks %s", ourName)
				}
				ours, _ := plan.File(ourName)
				upFile := filepath.Join(dir, "upstream", upName)
				ourFile := filepath.Join(dir, "ours", ourName)
				require.NoError(t, os.MkdirAll(filepath.Dir(upFile), 0o755))
				require.NoError(t, os.MkdirAll(filepath.Dir(ourFile), 0o755))
				require.NoError(t, os.WriteFile(upFile, upData, 0o644))
				_, err := ours.WriteFile(ourFile)
				require.NoError(t, err)

				up, _ := testenv.SystemdExposure(t, upFile)
				got, report := testenv.SystemdExposure(t, ourFile)
				t.Logf("exposure %s %s: ours %.1f, upstream %.1f", v, p, got, up)
				assert.LessOrEqual(t, got, up+0.01, "%s %s scores worse than upstream's dist unit:\n%s", v, p, report)
				if rel.DistHardening() == mastodon.HardeningFull {
					assert.LessOrEqual(t, got, 3.0, "%s %s: the full sandbox should score at most 3.0:\n%s", v, p, report)
				}
			}
		})
	}
}

// TestExposureFullSandboxOnOldRelease: SandboxFull hardens releases whose dist had none.
func TestExposureFullSandboxOnOldRelease(t *testing.T) {
	t.Parallel()
	testenv.SystemdAnalyze(t)
	plan, err := Deployment{Release: mastodon.MustLookup("2.9"), Sandbox: SandboxFull}.Render()
	require.NoError(t, err)
	dir := testenv.TempDir(t)
	f, _ := plan.File(WebUnit)
	_, err = f.WriteFile(filepath.Join(dir, WebUnit))
	require.NoError(t, err)
	got, _ := testenv.SystemdExposure(t, filepath.Join(dir, WebUnit))
	assert.LessOrEqual(t, got, 3.0)
	assert.True(t, bytes.Contains(f.Bytes(), []byte("ProtectSystem=strict")))
}
