package bundle

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSystemctl answers `systemctl show -P ActiveState -- UNIT` and `systemctl show
// --timestamp=us+utc -P PROP -- UNIT` from FAKE_STATE and FAKE_<PROP>, and fails on any
// other argv (so the script's exact calls are pinned). Under a real systemd the same
// script runs in examples/e2e TestNspawnInstall.
const fakeSystemctl = `#!/bin/sh
[ "$FAKE_UNIT" = "$5" ] || [ "$FAKE_UNIT" = "$6" ] || { echo "fake systemctl: unit $*" >&2; exit 2; }
case "$1 $2 $3 $4" in
"show -P ActiveState --") echo "${FAKE_STATE}" ;;
"show --timestamp=us+utc -P ActiveEnterTimestamp") echo "${FAKE_ActiveEnterTimestamp}" ;;
"show --timestamp=us+utc -P StateChangeTimestamp") echo "${FAKE_StateChangeTimestamp}" ;;
*) echo "fake systemctl: unexpected $*" >&2; exit 2 ;;
esac
`

// TestFreshnessScript runs StartedAfter's and ReloadedAfter's script with the real sh
// and GNU date against a fake systemctl and real files with set mtimes.
func TestFreshnessScript(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755))
	dir := t.TempDir()
	start := time.Date(2026, 12, 2, 15, 0, 0, 250_000_000, time.UTC)
	ts := start.Format("Mon 2006-01-02 15:04:05.000000 MST") // systemctl's us+utc
	file := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
		return p
	}
	before := file("before.conf", start.Add(-time.Second))
	sameSecond := file("same-second.conf", start.Add(-200*time.Millisecond))
	justAfter := file("just-after.conf", start.Add(100*time.Millisecond))
	// a name full of shell syntax: a positional parameter, never part of the script
	hostile := file("$(touch pwned); `id` \"q", start.Add(-time.Second))
	for _, tc := range []struct {
		name   string
		cmd    Cmd
		state  string
		prop   map[string]string
		ok     bool
		stderr string
	}{
		{"started after every file", StartedAfter("x.service", before, sameSecond), "active", map[string]string{"ActiveEnterTimestamp": ts}, true, ""},
		{"a file changed in the same second, before the start", StartedAfter("x.service", sameSecond), "active", map[string]string{"ActiveEnterTimestamp": ts}, true, ""},
		{"a file changed 100 ms after the start", StartedAfter("x.service", before, justAfter), "active", map[string]string{"ActiveEnterTimestamp": ts}, false, justAfter + " changed after x.service's ActiveEnterTimestamp"},
		{"not active", StartedAfter("x.service", before), "failed", map[string]string{"ActiveEnterTimestamp": ts}, false, "x.service is not active"},
		{"never started: no timestamp (date -d '' would be midnight)", StartedAfter("x.service", before), "active", map[string]string{"ActiveEnterTimestamp": ""}, false, "x.service has no ActiveEnterTimestamp"},
		{"a file missing", StartedAfter("x.service", filepath.Join(dir, "missing")), "active", map[string]string{"ActiveEnterTimestamp": ts}, false, "missing"},
		{"hostile file name", StartedAfter("x.service", hostile), "active", map[string]string{"ActiveEnterTimestamp": ts}, true, ""},
		// a reload moves StateChangeTimestamp, not ActiveEnterTimestamp
		{"reloaded after the file", ReloadedAfter("x.service", justAfter), "active",
			map[string]string{"ActiveEnterTimestamp": "Wed 2026-12-02 14:00:00.000000 UTC", "StateChangeTimestamp": "Wed 2026-12-02 15:00:01.000000 UTC"}, true, ""},
		{"started before the file, reloaded never", ReloadedAfter("x.service", justAfter), "active",
			map[string]string{"ActiveEnterTimestamp": ts, "StateChangeTimestamp": ts}, false, "changed after x.service's StateChangeTimestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(tc.cmd.Args[0], tc.cmd.Args[1:]...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_UNIT=x.service", "FAKE_STATE="+tc.state)
			for k, v := range tc.prop {
				cmd.Env = append(cmd.Env, "FAKE_"+k+"="+v)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			if tc.ok {
				assert.NoError(t, err, "%s", stderr.String())
			} else {
				assert.Error(t, err)
			}
			assert.Contains(t, stderr.String(), tc.stderr)
			assert.NotContains(t, stderr.String(), "fake systemctl")
			assert.NoFileExists(t, filepath.Join(dir, "pwned"))
		})
	}
}

// TestCheckStepsRefusesAStaleRestart: a step that restarts or reloads a unit must check
// that the unit (re)started after its files changed, or CheckSteps names the step.
func TestCheckStepsRefusesAStaleRestart(t *testing.T) {
	t.Parallel()
	active := Cmd{Args: []string{"systemctl", "is-active", "--quiet", "squid.service"}}
	restart := Cmd{Args: []string{"systemctl", "restart", "squid.service"}}
	for _, tc := range []struct {
		name  string
		check []Cmd
		run   []Cmd
		want  string // "" clean
	}{
		{"is-active alone", []Cmd{active}, []Cmd{restart}, `step "s" restarts squid.service, but its check does not ask`},
		{"started after", []Cmd{active, StartedAfter("squid.service", "/etc/squid/squid.conf")}, []Cmd{restart}, ""},
		{"a unit without its type is a service", []Cmd{StartedAfter("squid.service", "/etc/squid/squid.conf")},
			[]Cmd{{Args: []string{"/usr/bin/systemctl", "--no-block", "try-restart", "squid"}}}, ""},
		{"another unit's check", []Cmd{StartedAfter("unbound.service", "/etc/unbound/unbound.conf")}, []Cmd{restart}, `restarts squid.service`},
		{"each unit of one restart", []Cmd{StartedAfter("a.service", "/etc/a")},
			[]Cmd{{Args: []string{"systemctl", "restart", "a.service", "b.service", "c.timer"}}}, `restarts b.service, c.timer`},
		{"a reload needs ReloadedAfter", []Cmd{StartedAfter("nginx.service", "/etc/nginx/sites-available/mastodon")},
			[]Cmd{{Args: []string{"systemctl", "reload", "nginx.service"}}}, `step "s" reloads nginx.service, but its check does not ask whether it reloaded`},
		{"reloaded after", []Cmd{ReloadedAfter("nginx.service", "/etc/nginx/sites-available/mastodon")},
			[]Cmd{{Args: []string{"systemctl", "reload-or-restart", "nginx"}}}, ""},
		{"a restart is not proven by a reload check", []Cmd{ReloadedAfter("squid.service", "/etc/squid/squid.conf")}, []Cmd{restart}, `restarts squid.service`},
		{"start and stop are not restarts", []Cmd{active}, []Cmd{{Args: []string{"systemctl", "stop", "x.service"}}, {Args: []string{"systemctl", "enable", "--now", "x.service"}}}, ""},
		{"no file", []Cmd{StartedAfter("squid.service")}, []Cmd{restart}, `names no file`},
		{"relative file", []Cmd{StartedAfter("squid.service", "etc/squid/squid.conf")}, []Cmd{restart}, `"etc/squid/squid.conf" is not an absolute, clean path`},
		{"not a unit name", []Cmd{StartedAfter("--root=/tmp", "/etc/x")}, nil, `"--root=/tmp" is not a systemd unit name`},
		{"a property of its own", []Cmd{{Args: []string{"sh", "-c", freshScript, "sh", "ExecMainPID", "x.service", "/etc/x"}}}, nil, `"ExecMainPID" is not a timestamp`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := CheckSteps([]Step{{ID: "s", Check: tc.check, Run: tc.run}})
			if tc.want == "" {
				assert.NoError(t, ps.Err())
				return
			}
			require.Error(t, ps.Err())
			assert.Contains(t, ps.Err().Error(), tc.want)
			assert.True(t, errors.Is(ps.Err(), ErrSteps) || errors.Is(ps.Err(), ErrCommandValue), "CheckSteps' errors wrap its sentinels")
		})
	}
}

// TestRestartStepsCompareTheBundle: a restart or reload step also checks that each of
// its daemon's files the bundle holds is installed as the bundle has it, so --plan shows
// the step to do once a re-rendered bundle holds another config (before the file step
// installs it and the mtime says so).
func TestRestartStepsCompareTheBundle(t *testing.T) {
	t.Parallel()
	tr, info := compose(t, testHost())
	require.NoError(t, tr.Problems.Err())
	seen := 0
	for _, s := range info.Steps {
		for _, c := range s.Check {
			_, unit, files, ok := freshCheck(c)
			if !ok {
				continue
			}
			seen++
			for _, f := range files {
				if _, inTree := tr.File(strings.TrimPrefix(f, "/")); !inTree {
					continue
				}
				assert.Contains(t, s.Check, Installed(f)[0], "step %s: %s's %s", s.ID, unit, f)
			}
		}
	}
	assert.GreaterOrEqual(t, seen, 5, "redis, postgresql, nginx twice, the units")
}
