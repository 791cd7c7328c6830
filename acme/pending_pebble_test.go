package acme_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

// markers lists the deploy-pending markers in renewal/.
func markers(t *testing.T, root string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, "renewal", "*"+acme.PendingSuffix))
	require.NoError(t, err)
	for i := range m {
		m[i] = strings.TrimSuffix(filepath.Base(m[i]), acme.PendingSuffix)
	}
	return m
}

// hookLog is a deploy step whose check and reload append to a log; the reload fails
// while the file failFlag exists and removes it (a hook that fails once).
type hookLog struct{ log, failFlag string }

func newHookLog(t *testing.T) hookLog {
	d := testenv.TempDir(t)
	return hookLog{log: filepath.Join(d, "log"), failFlag: filepath.Join(d, "fail-once")}
}

func (h hookLog) deploy(check string) acme.Deploy {
	return acme.Deploy{
		Check: []string{"/bin/sh", "-c", check + " && echo check >> " + h.log},
		Reload: []string{"/bin/sh", "-c", fmt.Sprintf(`if [ -e %[1]s ]; then rm %[1]s; echo reload refused; exit 3; fi; echo "reload $RENEWED_DOMAINS" >> %[2]s`,
			h.failFlag, h.log)},
	}
}

func (h hookLog) lines(t *testing.T) []string {
	b, err := os.ReadFile(h.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestDeployFailedOnceNextRunDeploysWithoutRenewing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	h := newHookLog(t)
	c := e.client(t, func(c *acme.Config) { c.Deploy = h.deploy("true") })
	require.NoError(t, os.WriteFile(h.failFlag, nil, 0o644))

	// The reload fails once: both lineages are live but not served.
	rep, err := c.Obtain(ctxT(t), acme.Request{Names: []string{"a.pending.test"}}, acme.Request{Names: []string{"b.pending.test"}})
	require.ErrorIs(t, err, acme.ErrReload)
	assert.Contains(t, rep.DeployError, "reload refused")
	assert.False(t, rep.Deployed)
	assert.Equal(t, []string{"a.pending.test", "b.pending.test"}, markers(t, e.root))
	p, err := c.Store().ReadPending("a.pending.test")
	require.NoError(t, err)
	assert.Equal(t, 1, p.Version)
	assert.Equal(t, 1, p.Failures)
	assert.Contains(t, p.LastError, "reload refused")
	assert.Equal(t, []string{"check"}, h.lines(t))
	ls, ps := c.Store().List()
	require.Empty(t, ps)
	require.Len(t, ls, 2)
	for _, l := range ls {
		require.NotNil(t, l.Pending, l.Name)
		assert.Equal(t, 1, l.Pending.Failures, l.Name)
	}

	// The next run has nothing due, renews nothing and still deploys both, once.
	rep, err = c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err, "%+v", rep)
	require.Len(t, rep.Outcomes, 2)
	for _, o := range rep.Outcomes {
		assert.Equal(t, acme.Kept, o.Action, o.Name)
		assert.Equal(t, 1, o.Version)
	}
	assert.False(t, rep.Changed)
	assert.True(t, rep.Deployed)
	require.Len(t, rep.Pending, 2)
	assert.Equal(t, "a.pending.test", rep.Pending[0].Name)
	assert.Equal(t, 1, rep.Pending[0].Failures)
	assert.Empty(t, markers(t, e.root))
	assert.Equal(t, []string{"check", "check", "reload a.pending.test b.pending.test"}, h.lines(t))
	ls, _ = c.Store().List()
	for _, l := range ls {
		assert.Nil(t, l.Pending, l.Name)
	}

	// Deployed: the run after that does nothing at all.
	rep, err = c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	assert.False(t, rep.Deployed)
	assert.Empty(t, rep.Pending)
	assert.Len(t, h.lines(t), 3)

	// A failed check: no reload, the marker stays, and the next run with a passing
	// check deploys without renewing.
	bad := e.client(t, func(c *acme.Config) { c.Deploy = h.deploy("false") })
	rep, err = bad.Renew(ctxT(t), acme.RenewOptions{Names: []string{"b.pending.test"}, Force: true})
	require.ErrorIs(t, err, acme.ErrCheckFailed)
	assert.Equal(t, acme.Renewed, rep.Outcomes[0].Action)
	assert.Len(t, h.lines(t), 3, "never reload after a failed check")
	assert.Equal(t, []string{"b.pending.test"}, markers(t, e.root))
	// Still failing: still pending, the failure counted, nothing reloaded.
	rep, err = bad.Renew(ctxT(t), acme.RenewOptions{})
	require.ErrorIs(t, err, acme.ErrCheckFailed)
	require.Len(t, rep.Pending, 1)
	p, err = c.Store().ReadPending("b.pending.test")
	require.NoError(t, err)
	assert.Equal(t, 2, p.Version)
	assert.Equal(t, 2, p.Failures)
	assert.Len(t, h.lines(t), 3)

	rep, err = c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	assert.True(t, rep.Deployed)
	require.Len(t, rep.Pending, 1)
	assert.Equal(t, acme.PendingDeploy{Format: 1, Name: "b.pending.test", Version: 2, Switched: rep.Pending[0].Switched, Failures: 2,
		LastError: rep.Pending[0].LastError}, rep.Pending[0])
	for _, o := range rep.Outcomes {
		assert.Equal(t, acme.Kept, o.Action)
	}
	assert.Equal(t, "reload b.pending.test", h.lines(t)[len(h.lines(t))-1])
	assert.Empty(t, markers(t, e.root))
}

// crashEnv passes the helper process what it needs to renew against the test's Pebble.
const crashEnv = "V6KIT_ACME_CRASH_HELPER"

// TestDeployPendingCrashHelper is not a test: run by TestCrashBetweenSwitchAndDeploy
// in a child process, it renews with a check command that SIGKILLs this process, so
// the process dies after the switch and before any deploy.
func TestDeployPendingCrashHelper(t *testing.T) {
	args := strings.Split(os.Getenv(crashEnv), "\t")
	if len(args) != 4 {
		return // only meaningful as TestCrashBetweenSwitchAndDeploy's child; passes (not skips, also under CI) otherwise
	}
	port, err := strconv.Atoi(args[3])
	require.NoError(t, err)
	ca, err := os.ReadFile(args[2])
	require.NoError(t, err)
	c, err := acme.New(acme.Config{Root: args[0], Server: args[1], CACertPEM: ca, Timeout: 90 * time.Second,
		Challenge: acme.Challenge{Listen: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port))},
		// The check outlives this process only until the parent test reaps it (no sleep
		// left running after the test).
		Deploy: acme.Deploy{Check: []string{"/bin/sh", "-c", "kill -9 $PPID; while kill -0 $PPID 2>/dev/null; do sleep 0.1; done; exit 1"}}})
	require.NoError(t, err)
	_, err = c.Renew(ctxT(t), acme.RenewOptions{Force: true})
	t.Fatalf("still alive after the deploy check: %v", err)
}

func TestCrashBetweenSwitchAndDeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	h := newHookLog(t)
	c := e.client(t, func(c *acme.Config) { c.Deploy = h.deploy("true") })
	e.obtain(t, c, acme.Request{Names: []string{"crash.pending.test"}})
	assert.Empty(t, markers(t, e.root))

	cmd := exec.CommandContext(ctxT(t), os.Args[0], "-test.run=^TestDeployPendingCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+strings.Join([]string{e.root, e.p.DirURL, e.p.CAFile, strconv.Itoa(e.p.HTTPPort)}, "\t"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "the helper should die by SIGKILL in its deploy check: %v\n%s", err, out)

	// It died after switching to version 2 and before deploying: the marker says so.
	l, err := c.Store().Load("crash.pending.test")
	require.NoError(t, err)
	assert.Equal(t, 2, l.Version)
	p, err := c.Store().ReadPending("crash.pending.test")
	require.NoError(t, err)
	assert.Equal(t, 2, p.Version)
	assert.Zero(t, p.Failures)

	// The next run: nothing due, nothing renewed, and the deploy happens.
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err, "%+v", rep)
	require.Len(t, rep.Outcomes, 1)
	assert.Equal(t, acme.Kept, rep.Outcomes[0].Action)
	assert.Equal(t, 2, rep.Outcomes[0].Version)
	assert.True(t, rep.Deployed)
	require.Len(t, rep.Pending, 1)
	assert.Equal(t, 2, rep.Pending[0].Version)
	assert.Equal(t, []string{"check", "reload crash.pending.test", "check", "reload crash.pending.test"}, h.lines(t))
	assert.Empty(t, markers(t, e.root))
}

func TestSuccessfulRunLeavesNoMarker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	h := newHookLog(t)
	c := e.client(t, func(c *acme.Config) { c.Deploy = h.deploy("true") })
	rep := e.obtain(t, c, acme.Request{Names: []string{"ok.pending.test"}})
	assert.True(t, rep.Deployed)
	assert.Empty(t, rep.Pending)
	assert.Empty(t, markers(t, e.root))
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.NoError(t, err)
	assert.True(t, rep.Deployed)
	assert.Empty(t, markers(t, e.root))
	assert.Len(t, h.lines(t), 4)

	// Issue 12.8: a run without a deploy step has nothing to deploy, so it leaves no
	// marker (it used to, and list then claimed a run had died before its deploy), and
	// the next run with a deploy step finds nothing pending.
	quiet := e.client(t, nil)
	rep, err = quiet.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.NoError(t, err)
	assert.True(t, rep.Changed)
	assert.False(t, rep.Deployed)
	assert.Empty(t, rep.DeploySteps)
	assert.Empty(t, markers(t, e.root))
	ls, ps := quiet.Store().List()
	require.Empty(t, ps)
	require.Len(t, ls, 1)
	assert.Nil(t, ls[0].Pending)
	rep, err = c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	assert.False(t, rep.Deployed)
	assert.Empty(t, rep.Pending)
	assert.Len(t, h.lines(t), 4, "nothing changed, nothing pending: no deploy")
	// Obtain without a deploy step: no marker either.
	e.obtain(t, quiet, acme.Request{Names: []string{"quiet.pending.test"}})
	assert.Empty(t, markers(t, e.root))
}
