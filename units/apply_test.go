package units

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

func splitPlan(t *testing.T) *Plan {
	t.Helper()
	plan, err := Deployment{
		Sidekiq:        []Sidekiq{sk("default:8,ingress:4,fasp@25"), sk("push,pull@10"), sk("mailers@5"), sk("scheduler@5")},
		Streaming:      Streaming{Instances: 2},
		CertRenew:      &CertRenew{},
		MaxConnections: 200,
	}.Render()
	require.NoError(t, err)
	return plan
}

func TestApplySequence(t *testing.T) {
	t.Parallel()
	plan := splitPlan(t)
	for _, restart := range []bool{false, true} {
		m := &MemoryManager{}
		require.NoError(t, Apply(context.Background(), m, plan, ApplyOptions{Restart: restart}))
		verb := "start "
		if restart {
			verb = "restart "
		}
		assert.Equal(t, []string{
			"daemon-reload",
			"enable mastodon-web.service mastodon-sidekiq-default-ingress-fasp.service mastodon-sidekiq-push-pull.service mastodon-sidekiq-mailers.service mastodon-sidekiq-scheduler.service mastodon-streaming.service mastodon-streaming@4000.service mastodon-streaming@4001.service v6-certs-renew.timer",
			verb + "mastodon-web.service",
			verb + "mastodon-sidekiq-default-ingress-fasp.service",
			verb + "mastodon-sidekiq-push-pull.service",
			verb + "mastodon-sidekiq-mailers.service",
			verb + "mastodon-sidekiq-scheduler.service",
			verb + "mastodon-streaming.service",
			"start v6-certs-renew.timer", // timers are started, never restarted
		}, m.Calls)
	}
}

func TestApplyStopsAtFirstFailure(t *testing.T) {
	t.Parallel()
	plan := splitPlan(t)
	m := &MemoryManager{Fail: map[string]string{"mastodon-sidekiq-push-pull.service": "failed"}}
	err := Apply(context.Background(), m, plan, ApplyOptions{})
	require.ErrorIs(t, err, ErrJob)
	assert.Contains(t, err.Error(), "mastodon-sidekiq-push-pull.service")
	assert.Equal(t, "start mastodon-sidekiq-push-pull.service", m.Calls[len(m.Calls)-1])
	assert.NotContains(t, m.Active, "mastodon-sidekiq-mailers.service")
}

func TestApplyCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := &MemoryManager{}
	require.ErrorIs(t, Apply(ctx, m, splitPlan(t), ApplyOptions{}), context.Canceled)
	assert.Empty(t, m.Calls)
}

// TestDBusWire drives go-systemd's dbus client through DBusManager against a fake
// org.freedesktop.systemd1 on a private dbus-daemon: the call sequence, the wire
// encoding of EnableUnitFiles, and job results delivered by JobRemoved signals. This
// tests v6kit's D-Bus calls, not systemd (which is not PID 1 on the test machines).
func TestDBusWire(t *testing.T) {
	t.Parallel()
	addr := testenv.StartDBusDaemon(t)
	fake := testenv.NewFakeSystemd(t, addr, map[string]string{"broken.service": "failed"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := DialDBusManager(ctx, addr)
	require.NoError(t, err)
	t.Cleanup(m.Close)

	plan := splitPlan(t)
	require.NoError(t, Apply(ctx, m, plan, ApplyOptions{Restart: true}))
	require.NoError(t, m.ReloadUnit(ctx, "nginx.service"))
	err = m.Start(ctx, "broken.service")
	require.ErrorIs(t, err, ErrJob)
	assert.Contains(t, err.Error(), `"failed"`)

	want := []string{"Reload",
		"EnableUnitFiles mastodon-web.service mastodon-sidekiq-default-ingress-fasp.service mastodon-sidekiq-push-pull.service mastodon-sidekiq-mailers.service mastodon-sidekiq-scheduler.service mastodon-streaming.service mastodon-streaming@4000.service mastodon-streaming@4001.service v6-certs-renew.timer runtime=false force=false"}
	for _, u := range plan.Start[:len(plan.Start)-1] {
		want = append(want, "RestartUnit "+u+" replace")
	}
	want = append(want, "StartUnit v6-certs-renew.timer replace", "ReloadUnit nginx.service replace", "StartUnit broken.service replace")
	assert.Equal(t, want, fake.Calls())
}

func TestDialDBusManagerWithoutBus(t *testing.T) {
	t.Parallel()
	// A bus that is not there (as on the test machines, where systemd is not PID 1):
	// connecting fails at once with an error that names the address, and never hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := "unix:path=" + filepath.Join(t.TempDir(), "no-bus")
	_, err := DialDBusManager(ctx, addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "units: connect to "+addr)
}

func TestUnitReloader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &MemoryManager{Fail: map[string]string{"broken.service": "failed"}}
	require.NoError(t, UnitReloader{Unit: "nginx.service", Manager: m}.Reload(ctx))
	assert.Equal(t, []string{"reload nginx.service"}, m.Calls)
	assert.Error(t, UnitReloader{Unit: "broken.service", Manager: m}.Reload(ctx), "a failed job is an error")

	// Without a Manager it connects for the reload only, here to a fake systemd.
	addr := testenv.StartDBusDaemon(t)
	fake := testenv.NewFakeSystemd(t, addr, nil)
	require.NoError(t, UnitReloader{Unit: "nginx.service", Address: addr}.Reload(ctx))
	assert.Equal(t, []string{"ReloadUnit nginx.service replace"}, fake.Calls())
	err := UnitReloader{Unit: "nginx.service", Address: "unix:path=" + filepath.Join(t.TempDir(), "no-bus")}.Reload(ctx)
	assert.ErrorContains(t, err, "units: connect to unix:path=")
}
