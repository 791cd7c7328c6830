package acme_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
)

// seq returns a..b.
func seq(a, b int) []int {
	var out []int
	for i := a; i <= b; i++ {
		out = append(out, i)
	}
	return out
}

// archiveFiles lists archive/NAME's file names, sorted.
func archiveFiles(t *testing.T, st *acme.Store, name string) []string {
	t.Helper()
	ents, err := os.ReadDir(st.Path("archive", name))
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// wantArchive is the archive listing holding exactly versions vs.
func wantArchive(vs []int) []string {
	var out []string
	for _, v := range vs {
		for _, k := range []string{"cert", "chain", "fullchain", "privkey"} {
			out = append(out, fmt.Sprintf("%s%d.pem", k, v))
		}
	}
	slices.Sort(out)
	return out
}

// liveVersionDirs lists the N of every live/.NAME.vN.
func liveVersionDirs(t *testing.T, st *acme.Store, name string) []int {
	t.Helper()
	ds, err := filepath.Glob(st.Path("live", "."+name+".v*"))
	require.NoError(t, err)
	var out []int
	for _, d := range ds {
		var n int
		_, err := fmt.Sscanf(filepath.Base(d), "."+name+".v%d", &n)
		require.NoError(t, err, d)
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// install installs a fresh version and prunes, as the Client does after a switch.
func install(t *testing.T, st *acme.Store, name string) (int, []int) {
	t.Helper()
	now := time.Now()
	n, err := st.Install(name, selfSigned(t, now, time.Hour, name), meta(name), now)
	require.NoError(t, err)
	removed, err := st.Prune(name)
	require.NoError(t, err)
	return n, removed
}

func TestStorePruneKeepsNewestVersions(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir()} // Keep zero: 5 previous versions
	w := (*pairWatcher)(nil)
	for i := 1; i <= 9; i++ {
		n, removed := install(t, st, "k.test")
		require.Equal(t, i, n)
		if i == 1 {
			w = watchPair(st.LiveDir("k.test"))
		}
		if i <= 6 {
			assert.Empty(t, removed, "version %d", i)
		} else {
			assert.Equal(t, []int{i - 6}, removed, "version %d removes the oldest", i)
		}
		vs, err := st.Versions("k.test")
		require.NoError(t, err)
		assert.Equal(t, seq(max(1, i-5), i), vs)
		assert.Equal(t, wantArchive(seq(max(1, i-5), i)), archiveFiles(t, st, "k.test"))
		assert.Subset(t, seq(max(1, i-5), i), liveVersionDirs(t, st, "k.test"), "no live/.NAME.vK of a removed version")
		require.NoError(t, readPair(st.LiveDir("k.test")))
	}
	w.finish(t)
	l, err := st.Load("k.test")
	require.NoError(t, err)
	assert.Equal(t, 9, l.Version)
	ls, ps := st.List()
	require.NoError(t, ps.Err())
	require.Len(t, ls, 1)
	assert.Equal(t, 6, ls[0].Versions)
	// Pruning again changes nothing.
	removed, err := st.Prune("k.test")
	require.NoError(t, err)
	assert.Empty(t, removed)
}

func TestStorePruneKeepSmallAndAll(t *testing.T) {
	t.Parallel()
	one := &acme.Store{Root: t.TempDir(), Keep: 1}
	all := &acme.Store{Root: t.TempDir(), Keep: -1}
	for range 8 {
		install(t, one, "one.test")
		_, removed := install(t, all, "all.test")
		assert.Empty(t, removed)
	}
	vs, err := one.Versions("one.test")
	require.NoError(t, err)
	assert.Equal(t, []int{7, 8}, vs)
	assert.Equal(t, wantArchive([]int{7, 8}), archiveFiles(t, one, "one.test"))
	require.NoError(t, readPair(one.LiveDir("one.test")))
	vs, err = all.Versions("all.test")
	require.NoError(t, err)
	assert.Equal(t, seq(1, 8), vs, "Keep < 0 keeps everything")
	assert.Equal(t, wantArchive(seq(1, 8)), archiveFiles(t, all, "all.test"))
}

// A version written but not yet switched in is newer than live, so pruning keeps it
// and Repair still completes it.
func TestStorePruneKeepsUnswitchedVersionForRepair(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir(), Keep: 2}
	for range 5 {
		install(t, st, "r.test")
	}
	// Crash: version 6 complete in archive, live still on 5; a partial version 7 too.
	now := time.Now()
	v6 := selfSigned(t, now.Add(time.Minute), time.Hour, "r.test")
	for k, b := range map[string][]byte{"cert": v6.Cert, "chain": v6.Chain, "fullchain": v6.Fullchain(), "privkey": v6.Key} {
		require.NoError(t, os.WriteFile(st.Path("archive", "r.test", k+"6.pem"), b, 0o600))
	}
	require.NoError(t, os.WriteFile(st.Path("archive", "r.test", "cert7.pem"), v6.Cert, 0o644))
	// Keep 2 with live 5: versions 3 and 4 stay, 6 and 7 are newer and stay.
	removed, err := st.Prune("r.test")
	require.NoError(t, err)
	assert.Empty(t, removed, "1 and 2 already went; 6 and 7 are newer than live")
	require.FileExists(t, st.Path("archive", "r.test", "privkey6.pem"))
	st.Keep = 1
	removed, err = st.Prune("r.test")
	require.NoError(t, err)
	assert.Equal(t, []int{3}, removed)
	vs, _ := st.Versions("r.test")
	assert.Equal(t, []int{4, 5, 6, 7}, vs)

	ok, err := st.Repair("r.test")
	require.NoError(t, err)
	require.True(t, ok, "the unswitched version survived pruning")
	l, err := st.Load("r.test")
	require.NoError(t, err)
	assert.Equal(t, 6, l.Version)
	require.NoError(t, readPair(st.LiveDir("r.test")))
	removed, err = st.Prune("r.test")
	require.NoError(t, err)
	assert.Equal(t, []int{4}, removed)
	vs, _ = st.Versions("r.test")
	assert.Equal(t, []int{5, 6, 7}, vs, "the partial 7 is newer than live: left for the next issuance to number past")
	n, _ := install(t, st, "r.test")
	assert.Equal(t, 8, n)
	vs, _ = st.Versions("r.test")
	assert.Equal(t, []int{7, 8}, vs, "once live is past it, the partial 7 is an old version like any other")
}

// certbotLineage builds certbot's layout by hand: archive versions 1..n and a real
// live/NAME directory linking version n, plus metadata as import writes it.
func certbotLineage(t *testing.T, st *acme.Store, name string, n int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(st.Path("live", name), 0o755))
	require.NoError(t, os.MkdirAll(st.Path("archive", name), 0o700))
	now := time.Now()
	for i := 1; i <= n; i++ {
		v := selfSigned(t, now.Add(time.Duration(i)*time.Minute), time.Hour, name)
		for k, b := range map[string][]byte{"cert": v.Cert, "chain": v.Chain, "fullchain": v.Fullchain(), "privkey": v.Key} {
			require.NoError(t, os.WriteFile(st.Path("archive", name, fmt.Sprintf("%s%d.pem", k, i)), b, 0o600))
		}
	}
	for _, k := range []string{"cert", "chain", "fullchain", "privkey"} {
		require.NoError(t, os.Symlink(fmt.Sprintf("../../archive/%s/%s%d.pem", name, k, n), st.Path("live", name, k+".pem")))
	}
	m := meta(name)
	m.Source = "certbot"
	require.NoError(t, st.WriteMeta(name, m, now))
}

func TestStorePruneRespectsCertbotLineage(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir(), Keep: 1}
	certbotLineage(t, st, "cb.test", 8)
	// Still certbot's real directory: nothing is removed, whatever Keep says.
	removed, err := st.Prune("cb.test")
	require.NoError(t, err)
	assert.Empty(t, removed)
	assert.Equal(t, wantArchive(seq(1, 8)), archiveFiles(t, st, "cb.test"))
	l, err := st.Load("cb.test")
	require.NoError(t, err)
	assert.Equal(t, 8, l.Version)

	// The first v6-certs version numbers past certbot's and swaps the directory; then
	// certbot's versions count like ours: live 9 and certbot's 8 stay.
	n, removed := install(t, st, "cb.test")
	assert.Equal(t, 9, n)
	assert.Equal(t, seq(1, 7), removed)
	assert.Equal(t, wantArchive([]int{8, 9}), archiveFiles(t, st, "cb.test"))
	require.NoError(t, readPair(st.LiveDir("cb.test")))
	require.NoError(t, readPair(st.Path("live", ".cb.test.certbot")), "certbot's old directory still reads version 8")

	// Version 8 goes next, and certbot's old directory with it.
	n, removed = install(t, st, "cb.test")
	assert.Equal(t, 10, n)
	assert.Equal(t, []int{8}, removed)
	assert.NoDirExists(t, st.Path("live", ".cb.test.certbot"))
	assert.Equal(t, wantArchive([]int{9, 10}), archiveFiles(t, st, "cb.test"))
	require.NoError(t, readPair(st.LiveDir("cb.test")))
}

func TestStorePruneFailureLeavesLiveAlone(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir(), Keep: 1}
	for range 3 {
		install(t, st, "f.test")
	}
	// chain2.pem cannot be removed (a non-empty directory, even for root).
	p := st.Path("archive", "f.test", "chain2.pem")
	require.NoError(t, os.Remove(p))
	require.NoError(t, os.Mkdir(p, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(p, "x"), []byte("x"), 0o644))
	now := time.Now()
	n, err := st.Install("f.test", selfSigned(t, now, time.Hour, "f.test"), meta("f.test"), now)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	removed, err := st.Prune("f.test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chain2.pem")
	assert.Contains(t, err.Error(), "keeping version 4")
	assert.Empty(t, removed, "version 2 is not fully removed")
	assert.NoFileExists(t, st.Path("archive", "f.test", "cert2.pem"), "what could go, went")
	l, err := st.Load("f.test")
	require.NoError(t, err)
	assert.Equal(t, 4, l.Version)
	require.NoError(t, readPair(st.LiveDir("f.test")))
	assert.FileExists(t, st.Path("archive", "f.test", "privkey3.pem"))
}

func TestStorePruneRefusesBadState(t *testing.T) {
	t.Parallel()
	st := &acme.Store{Root: t.TempDir()}
	_, err := st.Prune("../etc")
	require.ErrorIs(t, err, acme.ErrLineageName)
	removed, err := st.Prune("missing.test")
	require.NoError(t, err)
	assert.Empty(t, removed)
	for range 7 {
		install(t, st, "odd.test")
	}
	// live/NAME pointing somewhere unexpected: corrupt, nothing removed.
	require.NoError(t, os.Remove(st.LiveDir("odd.test")))
	require.NoError(t, os.Symlink("elsewhere", st.LiveDir("odd.test")))
	_, err = st.Prune("odd.test")
	require.ErrorIs(t, err, acme.ErrCorrupt)
	vs, _ := st.Versions("odd.test")
	assert.Equal(t, seq(2, 7), vs)
}

// BenchmarkStorePrune measures the steady state after a switch: a lineage at its
// bound loses its oldest version (one live dir and four archive files).
func BenchmarkStorePrune(b *testing.B) {
	st := &acme.Store{Root: b.TempDir(), Keep: 5}
	now := time.Now()
	v := selfSigned(b, now, time.Hour, "bench.test")
	for range 6 {
		_, err := st.Install("bench.test", v, meta("bench.test"), now)
		require.NoError(b, err)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		_, err := st.Install("bench.test", v, meta("bench.test"), now)
		require.NoError(b, err)
		b.StartTimer()
		removed, err := st.Prune("bench.test")
		if err != nil || len(removed) != 1 {
			b.Fatalf("removed %v, err %v", removed, err)
		}
	}
}
