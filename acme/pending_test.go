package acme_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
)

// offlineClient is a client for root that never needs the CA: its lineages record
// that the CA has no ARI and are far from due.
func offlineClient(t *testing.T, root string, d acme.Deploy) *acme.Client {
	t.Helper()
	c, err := acme.New(acme.Config{Root: root, Server: "https://ca.invalid/dir", Challenge: acme.Challenge{Webroot: root}, Deploy: d})
	require.NoError(t, err)
	return c
}

func installOffline(t *testing.T, st *acme.Store, name string) {
	t.Helper()
	m := meta(name)
	m.Server, m.NoARI = "https://ca.invalid/dir", true
	_, err := st.Install(name, selfSigned(t, time.Now().Add(-time.Hour), 90*24*time.Hour, name), m, time.Now())
	require.NoError(t, err)
}

func TestInstallWritesMarkerBeforeSwitch(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	st := &acme.Store{Root: root}
	now := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	_, err := st.ReadPending("m.test")
	require.ErrorIs(t, err, acme.ErrNotFound)
	_, err = st.Install("m.test", selfSigned(t, now, 90*24*time.Hour, "m.test"), meta("m.test"), now)
	require.NoError(t, err)
	p, err := st.ReadPending("m.test")
	require.NoError(t, err)
	assert.Equal(t, acme.PendingDeploy{Format: 1, Name: "m.test", Version: 1, Switched: now}, p)
	b, err := os.ReadFile(filepath.Join(root, "renewal", "m.test"+acme.PendingSuffix))
	require.NoError(t, err)
	assert.JSONEq(t, `{"format":1,"name":"m.test","version":1,"switched":"2026-11-27T04:00:00Z"}`, string(b))
	// A lineage whose marker cannot be written is not switched.
	require.NoError(t, os.Remove(filepath.Join(root, "renewal", "m.test"+acme.PendingSuffix)))
	require.NoError(t, os.Mkdir(filepath.Join(root, "renewal", "m.test"+acme.PendingSuffix), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "renewal", "m.test"+acme.PendingSuffix, "x"), nil, 0o644))
	_, err = st.Install("m.test", selfSigned(t, now, 90*24*time.Hour, "m.test"), meta("m.test"), now)
	require.Error(t, err)
	l, err := st.Load("m.test")
	require.NoError(t, err)
	assert.Equal(t, 1, l.Version)
	names, err := st.Names()
	require.NoError(t, err)
	assert.Equal(t, []string{"m.test"}, names, "markers are no lineages")
}

func TestPendingMarkerEdgeCases(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	st := &acme.Store{Root: root}
	installOffline(t, st, "here.test")
	installOffline(t, st, "other.test")
	var rl countReloader
	c := offlineClient(t, root, acme.Deploy{Check: []string{"true"}, Reloader: &rl})
	ctx := context.Background()

	// Two markers: one unreadable (still a pending deploy), one for a lineage that is gone.
	require.NoError(t, os.Remove(filepath.Join(root, "renewal", "other.test"+acme.PendingSuffix)))
	require.NoError(t, os.WriteFile(filepath.Join(root, "renewal", "here.test"+acme.PendingSuffix), []byte("{garbage"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "renewal", "gone.test"+acme.PendingSuffix), []byte(`{"format":1,"name":"gone.test","version":3}`), 0o644))
	// List shows both: here.test pending (unreadable, with a warning), gone.test as a warning.
	ls, ps := st.List()
	require.Len(t, ls, 2)
	require.NotNil(t, ls[0].Pending)
	assert.Equal(t, "here.test", ls[0].Pending.Name)
	assert.Nil(t, ls[1].Pending, "other.test")
	require.Len(t, ps, 2, "%v", ps)
	assert.False(t, ps.HasErrors())
	assert.Equal(t, "lineage gone.test", ps[0].Path)
	assert.Contains(t, ps[0].Message, "belongs to no lineage")
	assert.Equal(t, "lineage here.test", ps[1].Path)
	rep, err := c.Renew(ctx, acme.RenewOptions{Names: []string{"other.test"}})
	require.NoError(t, err, "%+v", rep)
	require.Len(t, rep.Outcomes, 1)
	assert.Equal(t, acme.Kept, rep.Outcomes[0].Action)
	assert.True(t, rep.Deployed, "the unreadable marker still deploys, even for a lineage outside --cert-name")
	assert.Equal(t, int32(1), rl.n.Load())
	require.Len(t, rep.Pending, 1)
	assert.Equal(t, "here.test", rep.Pending[0].Name)
	require.Len(t, rep.Warnings, 2, rep.Warnings)
	assert.Contains(t, rep.Warnings[0], "gone.test"+acme.PendingSuffix)
	assert.Contains(t, rep.Warnings[0], "names no lineage")
	assert.Contains(t, rep.Warnings[1], "here.test"+acme.PendingSuffix)
	assert.Empty(t, markers(t, root))

	// Only a marker for a lineage that is gone: a warning, the marker removed, no deploy.
	require.NoError(t, os.WriteFile(filepath.Join(root, "renewal", "gone.test"+acme.PendingSuffix), nil, 0o644))
	rep, err = c.Renew(ctx, acme.RenewOptions{})
	require.NoError(t, err)
	assert.False(t, rep.Deployed)
	assert.Equal(t, int32(1), rl.n.Load())
	assert.Len(t, rep.Warnings, 1)
	assert.Empty(t, markers(t, root))

	// Without a deploy step the markers are neither read nor removed.
	require.NoError(t, os.WriteFile(filepath.Join(root, "renewal", "gone.test"+acme.PendingSuffix), nil, 0o644))
	rep, err = offlineClient(t, root, acme.Deploy{}).Renew(ctx, acme.RenewOptions{})
	require.NoError(t, err)
	assert.Empty(t, rep.Warnings)
	assert.Equal(t, []string{"gone.test"}, markers(t, root))
}
