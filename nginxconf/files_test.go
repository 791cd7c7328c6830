package nginxconf_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/nginxconf"
)

// TestBackupsAreNotIncludedByGlob: nginx includes DIR/* (no suffix); rewriting the site
// there twice leaves its backups in DIR/.v6kit-backup/ (and its lock file hidden), which
// the glob does not match, so the real `nginx -t` still passes (no duplicate upstream).
func TestBackupsAreNotIncludedByGlob(t *testing.T) {
	t.Parallel()
	p := testenv.NewNginxPrefix(t)
	conf, err := os.ReadFile(p.Conf())
	require.NoError(t, err)
	glob := strings.Replace(string(conf), "/sites/*.conf;", "/sites/*;", 1)
	require.NotEqual(t, string(conf), glob)
	require.NoError(t, os.WriteFile(p.Conf(), []byte(glob), 0o644))

	name := p.Path("sites", "mastodon")
	s := forNginxT(t, nginxconf.Site{Domain: "social.example.org"}, p)
	var backups []string
	for _, rel := range []string{"4.2", "4.5", "4.7"} {
		s.Release = mastodon.MustLookup(rel)
		res, err := s.WriteFile(name)
		require.NoError(t, err)
		if res.Backup != "" {
			backups = append(backups, res.Backup)
		}
	}
	require.Len(t, backups, 2)
	for _, b := range backups {
		assert.Equal(t, p.Path("sites", ".v6kit-backup"), filepath.Dir(b))
	}
	p.MustCheck(t)
}

// TestSiteKeepsOwnerGroupMode: root rewriting a root:www-data 0640 site keeps it so.
func TestSiteKeepsOwnerGroupMode(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test chowns files")
		}
		t.Skip("needs root to chown")
	}
	t.Parallel()
	name := filepath.Join(t.TempDir(), "mastodon")
	require.NoError(t, os.WriteFile(name, []byte("# old\n"), 0o640))
	const nogroup = 65534
	require.NoError(t, os.Chown(name, 0, nogroup))
	_, err := nginxconf.Site{Domain: "social.example.org"}.WriteFile(name)
	require.NoError(t, err)
	fi, err := os.Stat(name)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	assert.Equal(t, [3]uint32{0, nogroup, 0o640}, [3]uint32{st.Uid, st.Gid, uint32(fi.Mode().Perm())})
}

// TestSiteFIFORefused: a FIFO as the site is refused at once.
func TestSiteFIFORefused(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "mastodon")
	require.NoError(t, syscall.Mkfifo(name, 0o644))
	done := make(chan error)
	go func() { _, err := nginxconf.Site{Domain: "social.example.org"}.WriteFile(name); done <- err }()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "FIFO")
	case <-time.After(5 * time.Second):
		t.Fatal("a FIFO blocked the write")
	}
}
