package units

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	sa := testenv.SystemdAnalyze(t)
	node := testenv.Tool(t, "node", "nodejs")
	ctx := context.Background()
	good, err := Deployment{Paths: Paths{Bundle: "/usr/bin/true", Node: node, Certs: "/usr/bin/true"},
		Streaming: Streaming{Instances: 2}, CertRenew: &CertRenew{}, Exporter: &Exporter{}}.Render()
	require.NoError(t, err)
	out, err := good.Verify(ctx, sa)
	require.NoError(t, err, out)

	// Production paths that this machine lacks are reported by name.
	prod, err := Deployment{Paths: Paths{Node: node}}.Render()
	require.NoError(t, err)
	out, err = prod.Verify(ctx, sa)
	require.ErrorIs(t, err, ErrVerify)
	assert.Contains(t, out, "/home/mastodon/.rbenv/shims/bundle is not executable")

	_, err = good.Verify(ctx, filepath.Join(t.TempDir(), "no-analyzer"))
	require.Error(t, err)
}

func TestDiff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := Deployment{}.Render()
	require.NoError(t, err)
	d, err := a.Diff(dir)
	require.NoError(t, err)
	assert.Contains(t, d, "+ mastodon-web.service (new)")
	_, err = a.WriteDir(dir)
	require.NoError(t, err)
	d, err = a.Diff(dir)
	require.NoError(t, err)
	assert.Empty(t, d)
	b, err := Deployment{Web: Web{Workers: 4}}.Render()
	require.NoError(t, err)
	d, err = b.Diff(dir)
	require.NoError(t, err)
	assert.Equal(t, "~ mastodon-web.service\n  -Environment=WEB_CONCURRENCY=2\n  +Environment=WEB_CONCURRENCY=4\n", d)
	require.NoError(t, os.Chmod(dir, 0o000))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 { // root reads anyway
		_, err = b.Diff(dir)
		assert.Error(t, err)
	}
}
