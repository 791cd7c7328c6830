package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The verify harness must report what systemd-analyze only warns about (exit 0).
func TestSystemdVerifyReportsWarnings(t *testing.T) {
	t.Parallel()
	dir := TempDir(t)
	unit := "[Unit]\nDescription=x\n[Service]\nExecStrat=/opt/nowhere/bin/x\nExecStart=/opt/nowhere/bin/x\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.service"), []byte(unit), 0o644))
	out := SystemdVerify(t, dir, "x.service")
	assert.Contains(t, out, "Unknown key 'ExecStrat'")
	assert.NotContains(t, out, "not executable", "the stub for /opt/nowhere/bin/x exists in the root")
}

func TestSystemdCommands(t *testing.T) {
	t.Parallel()
	got := SystemdCommands([]byte("[Service]\nExecStart=-/usr/bin/a b\nExecReload=/bin/kill -HUP $MAINPID\nExecStartPre=relative\n"))
	assert.Equal(t, []string{"/usr/bin/a", "/bin/kill"}, got)
}

func TestFakeSystemdOnPrivateBus(t *testing.T) {
	t.Parallel()
	addr := StartDBusDaemon(t)
	fake := NewFakeSystemd(t, addr, nil)
	conn, err := dbus.Connect(addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obj := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	require.NoError(t, obj.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.Reload", 0).Err)
	var job dbus.ObjectPath
	require.NoError(t, obj.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.StartUnit", 0, "a.service", "replace").Store(&job))
	assert.Equal(t, dbus.ObjectPath("/org/freedesktop/systemd1/job/1"), job)
	assert.Equal(t, []string{"Reload", "StartUnit a.service replace"}, fake.Calls())
}
