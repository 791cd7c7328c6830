package fsutil_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/haproxy"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/keepalived"
	"github.com/v6kit/v6kit/nginxconf"
	"github.com/v6kit/v6kit/pgbouncer"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/redisconf"
	"github.com/v6kit/v6kit/units"
)

// writer is one public writer of v6kit: write writes into dir and returns the notes it
// reported; target is the file it writes, lock the lock file it takes first.
type writer struct {
	write        func(t *testing.T, dir string) ([]string, error)
	target, lock string
}

func writers() map[string]writer {
	one := func(w func(name string) (fsutil.Result, error)) func(*testing.T, string) ([]string, error) {
		return func(_ *testing.T, dir string) ([]string, error) {
			r, err := w(filepath.Join(dir, "f"))
			return r.Notes, err
		}
	}
	single := func(w func(name string) (fsutil.Result, error)) writer {
		return writer{write: one(w), target: "f", lock: ".f.v6kit-lock"}
	}
	return map[string]writer{
		"envfile": single(func(n string) (fsutil.Result, error) {
			f, ps := envfile.New(envfile.Config{LocalDomain: "social.example.org"}, envfile.Options{})
			if err := ps.Err(); err != nil {
				return fsutil.Result{}, err
			}
			r, err := f.WriteFile(n)
			return fsutil.Result(r), err
		}),
		"nginxconf":  single(nginxconf.Site{Domain: "social.example.org"}.WriteFile),
		"redisconf":  single(redisconf.Config{Family: redisconf.IPv6Only}.WriteFile),
		"haproxy":    single(haproxy.Config{Web: []haproxy.Server{{Name: "web1", Addr: netip.MustParseAddr("fd00:1::21")}}}.WriteFile),
		"keepalived": single(keepalived.Config{Interface: "up0", VIP6: netip.MustParsePrefix("fd00:1::100/64")}.WriteFile),
		"firewall":   single(firewall.Config{Services: firewall.Mastodon(nil), SSH: firewall.SSH{Any: true}}.WriteFile),
		"pgbouncer": {target: "f", lock: ".v6kit-pgbouncer.lock", write: func(t *testing.T, dir string) ([]string, error) {
			v, err := pgsetup.SCRAMVerifier("app-password-0123456789abcdef", nil)
			require.NoError(t, err)
			c := pgbouncer.Config{Listen: []netip.Addr{netip.MustParseAddr("fd00:db::11")}, Server: netip.MustParseAddr("::1"), Verifier: v}
			r, err := c.WriteFiles(filepath.Join(dir, "f"), filepath.Join(dir, "userlist.txt"))
			if len(r) == 0 {
				return nil, err
			}
			return r[0].Notes, err
		}},
		"egress": {target: "root/f", lock: ".v6kit-egress-root.lock", write: func(_ *testing.T, dir string) ([]string, error) {
			r, err := egress.WriteDir(filepath.Join(dir, "root"), []egress.File{{Path: "f", Data: []byte("x\n")}})
			if len(r) == 0 {
				return nil, err
			}
			return r[0].Notes, err
		}},
		"units": {target: "mastodon-web.service", lock: ".v6kit-units.lock", write: func(t *testing.T, dir string) ([]string, error) {
			p, err := units.Deployment{}.Render()
			require.NoError(t, err)
			r, err := p.WriteDir(dir)
			return r.Notes, err
		}},
		"bundle": {target: "root/f", lock: ".root.v6kit-lock", write: func(_ *testing.T, dir string) ([]string, error) {
			tr := bundle.New("", filepath.Join(dir, "root"))
			tr.Add(bundle.File{Path: "f", Data: []byte("x\n")})
			r, err := bundle.Write(tr)
			if len(r) == 0 {
				return nil, err
			}
			return r[0].Notes, err
		}},
	}
}

// TestEveryWriterRefusesASymlinkedLock: for each writer, a symlink where its lock file
// goes is refused with an error naming it; the link's target is not created and nothing
// is written.
func TestEveryWriterRefusesASymlinkedLock(t *testing.T) {
	t.Parallel()
	for name, w := range writers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, w.target)), 0o755))
			elsewhere := filepath.Join(dir, "elsewhere")
			lock := filepath.Join(dir, w.lock)
			require.NoError(t, os.Symlink(elsewhere, lock))
			_, err := w.write(t, dir)
			require.Error(t, err)
			assert.True(t, errors.Is(err, fsutil.ErrSymlink), "%v", err)
			assert.Contains(t, err.Error(), "the lock file "+lock+" is a symlink")
			assert.Contains(t, err.Error(), "remove it")
			_, err = os.Lstat(elsewhere)
			assert.ErrorIs(t, err, os.ErrNotExist, "the link's target is not created")
			_, err = os.Lstat(filepath.Join(dir, w.target))
			assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")
		})
	}
}

// TestEveryWriterCleansAKilledRunsTempFile: for each writer, a temp file a killed run
// left beside the target (ours, older than the lock) is removed by the next run and
// said in its notes.
func TestEveryWriterCleansAKilledRunsTempFile(t *testing.T) {
	t.Parallel()
	for name, w := range writers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target := filepath.Join(dir, w.target)
			require.NoError(t, os.MkdirAll(filepath.Dir(target), 0o755))
			stale := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".v6kit-tmp-123456")
			require.NoError(t, os.WriteFile(stale, []byte("half"), 0o600))
			old := time.Now().Add(-time.Hour)
			require.NoError(t, os.Chtimes(stale, old, old))
			notes, err := w.write(t, dir)
			require.NoError(t, err)
			_, err = os.Lstat(stale)
			assert.ErrorIs(t, err, os.ErrNotExist, "the leftover is removed")
			assert.True(t, strings.Contains(strings.Join(notes, "\n"), "removed "+stale), "notes: %q", notes)
			_, err = os.Stat(target)
			assert.NoError(t, err, "the file is written")
		})
	}
}
