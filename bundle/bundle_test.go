package bundle

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/units"
)

func TestAddRefusesBadPaths(t *testing.T) {
	t.Parallel()
	tr := New("h", t.TempDir())
	for _, p := range []string{"", "/etc/passwd", "../escape", "a/../../b", "a//b", "a\nb", `a\b`} {
		tr.Add(File{Path: p, Data: []byte("x")})
	}
	tr.Add(File{Path: "ok", Data: []byte("x")})
	tr.Add(File{Path: "ok", Data: []byte("y")})
	assert.Len(t, tr.Files(), 1)
	assert.Len(t, tr.Problems.Errors(), 8)
	assert.True(t, errors.Is(tr.Problems.Err(), ErrPath))
	assert.True(t, errors.Is(tr.Problems.Err(), ErrDuplicate))
	_, err := Write(tr)
	require.Error(t, err)
	entries, _ := os.ReadDir(tr.Root)
	assert.Empty(t, entries, "nothing written")
}

func TestWriteNothingWhenAnyTreeHasAnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := New("good", filepath.Join(dir, "good"))
	good.Add(File{Path: "a", Data: []byte("a")})
	bad := New("bad", filepath.Join(dir, "bad"))
	bad.Add(File{Path: "/abs", Data: []byte("b")})
	_, err := Write(good, bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad")
	_, statErr := os.Stat(filepath.Join(dir, "good"))
	assert.True(t, os.IsNotExist(statErr), "the good tree is not written either")
}

func TestHBAMergesIntoExistingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	existing := "# Debian's defaults\nlocal   all             postgres                                peer\nlocal   all             all                                     peer\nhost    all             all             127.0.0.1/32            scram-sha-256\n"
	require.NoError(t, os.MkdirAll(filepath.Join(dir, PGDir), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, HBAPath), []byte(existing), 0o640))
	c := pgsetup.Config{Role: "mastodon", Database: "mastodon_production", NoIPv4: true, Release: mastodon.Newest(),
		Allow: []netip.Prefix{netip.MustParsePrefix("fd7a:6b69:7400:10::/64")}}
	tr := New("", dir)
	rules := tr.HBA(HBAPath, HBABlockPath, c)
	require.NoError(t, tr.Problems.Err())
	require.NotEmpty(t, rules)
	_, hasBlock := tr.File(HBABlockPath)
	assert.False(t, hasBlock, "the block goes into the existing file, not beside it")
	f, ok := tr.File(HBAPath)
	require.True(t, ok)
	got := string(f.Data)
	assert.Contains(t, got, "local   all             postgres                                peer\n", "admin lines kept")
	assert.Contains(t, got, "# BEGIN v6kit pgsetup: mastodon")
	assert.Contains(t, got, "fd7a:6b69:7400:10::/64")
	// the block sits before the first rule that would match the same connections
	assert.Less(t, strings.Index(got, "# BEGIN"), strings.Index(got, "local   all             all"))
	_, err := Write(tr)
	require.NoError(t, err)
	// a second render finds its own block and changes nothing
	tr2 := New("", dir)
	tr2.HBA(HBAPath, HBABlockPath, c)
	f2, _ := tr2.File(HBAPath)
	assert.Equal(t, got, string(f2.Data))
}

func TestUnparsableHBAIsNeverOverwritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := []byte("host all all not-an-address scram-sha-256 extra junk \"unterminated\n")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, PGDir), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, HBAPath), bad, 0o640))
	tr := New("", dir)
	tr.HBA(HBAPath, HBABlockPath, pgsetup.Config{Release: mastodon.Newest()})
	require.Error(t, tr.Problems.Err())
	assert.True(t, errors.Is(tr.Problems.Err(), ErrUnparsable))
	_, err := Write(tr)
	require.Error(t, err)
	got, _ := os.ReadFile(filepath.Join(dir, HBAPath))
	assert.Equal(t, bad, got)
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":           "plain",
		"/etc/x.conf":     "/etc/x.conf",
		"":                "''",
		"two words":       "'two words'",
		"it's":            `'it'\''s'`,
		"$(rm -rf /)":     "'$(rm -rf /)'",
		"a;b":             "'a;b'",
		"[::1]:443":       "[::1]:443",
		"64:ff9b::/96":    "64:ff9b::/96",
		"https://x/dir?a": "'https://x/dir?a'",
	} {
		assert.Equal(t, want, ShellQuote(in), in)
	}
}

func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{"", "a", "it's", "$(x)", "a b\nc", "'''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := ShellQuote(s)
		// either bare safe characters, or one single-quoted word whose only way out is '\''
		if strings.HasPrefix(q, "'") {
			inner := strings.TrimSuffix(strings.TrimPrefix(q, "'"), "'")
			if strings.ReplaceAll(inner, `'\''`, "'") != s {
				t.Fatalf("ShellQuote(%q) = %q does not round-trip", s, q)
			}
			if strings.Contains(strings.ReplaceAll(inner, `'\''`, ""), "'") {
				t.Fatalf("ShellQuote(%q) = %q leaves a bare quote", s, q)
			}
			return
		}
		if q != s || bytes.ContainsAny([]byte(s), " \t\n'\"$`;&|<>(){}*?!#~\\") {
			t.Fatalf("ShellQuote(%q) = %q left unsafe characters bare", s, q)
		}
	})
}

// TestClusterUnits: each host's units land in its own tree; a host's problem is
// reported in that host's tree, the cluster's (two schedulers) in the whole's.
func TestClusterUnits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rel := mastodon.Newest()
	split := SplitSidekiq(rel)
	app := []units.Process{units.ProcessWeb, units.ProcessStreaming, units.ProcessSidekiq}
	cluster := func() units.Cluster {
		return units.Cluster{MaxConnections: 200, Hosts: []units.Host{
			{Name: "web1", Deployment: units.Deployment{Release: rel, Processes: app, Sidekiq: split[:2]}},
			{Name: "worker1", Deployment: units.Deployment{Release: rel, Processes: []units.Process{units.ProcessSidekiq}, Sidekiq: split[2:]}},
		}}
	}
	trees := func() []*Tree {
		return []*Tree{New("web1", filepath.Join(dir, "web1")), New("worker1", filepath.Join(dir, "worker1"))}
	}

	ts := trees()
	plans := ClusterUnits(UnitDir, cluster(), ts, ts[0])
	require.Len(t, plans, 2)
	require.NoError(t, ts[0].Problems.Err())
	assert.Empty(t, ts[0].Problems.Warnings(), "the queues worker1 serves are not web1's problem")
	_, ok := ts[0].File(UnitDir + "/" + units.WebUnit)
	assert.True(t, ok)
	for _, f := range ts[1].Files() {
		assert.True(t, strings.HasPrefix(f.Path, UnitDir+"/mastodon-sidekiq-"), f.Path)
	}
	assert.Len(t, ts[1].Files(), len(split)-2)

	c := cluster()
	c.Hosts[1].Deployment.Sidekiq = append(slices.Clone(split[2:]), units.Sidekiq{Queues: []units.Queue{{Name: "scheduler"}}, Concurrency: 0})
	ts = trees()
	assert.Nil(t, ClusterUnits(UnitDir, c, ts, ts[0]))
	assert.Empty(t, ts[0].Files())
	assert.Empty(t, ts[1].Files())
	paths := func(tr *Tree) []string {
		var p []string
		for _, x := range tr.Problems.Errors() {
			p = append(p, x.Path)
		}
		return p
	}
	assert.Contains(t, paths(ts[1]), "units.sidekiq["+strconv.Itoa(len(split)-2)+"].concurrency")
	assert.Contains(t, paths(ts[0]), "cluster.units.hosts", "two schedulers is the cluster's problem")
	assert.ErrorIs(t, ts[0].Problems.Err(), units.ErrScheduler)
}

func TestListen(t *testing.T) {
	t.Parallel()
	tr := New("db1", t.TempDir())
	tr.Listen(ListenPath, pgsetup.Listen{NoIPv4: true, Addrs: []netip.Addr{netip.MustParseAddr("fd00:db::5")}})
	f, ok := tr.File(ListenPath)
	require.True(t, ok)
	assert.Contains(t, string(f.Data), "listen_addresses = '::1,fd00:db::5'\n")
	tr.Listen("other.conf", pgsetup.Listen{Addrs: []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}})
	_, ok = tr.File("other.conf")
	assert.False(t, ok)
	assert.ErrorIs(t, tr.Problems.Err(), pgsetup.ErrListen)
}

// Issue 12: an invalid or missing domain is one problem, reported once with the path of
// the value given (.env.production's LOCAL_DOMAIN or WEB_DOMAIN), not again by the nginx
// site, its certificate paths and the install steps built from it.
func TestComposeReportsEachProblemOnce(t *testing.T) {
	t.Parallel()
	env := "home/mastodon/live/.env.production."
	for name, tc := range map[string]struct {
		h    Host
		want []string
	}{
		"local domain with a space": {Host{LocalDomain: "exa mple.org", AdminEmail: "a@example.org"}, []string{env + "LOCAL_DOMAIN"}},
		"no local domain":           {Host{AdminEmail: "a@example.org"}, []string{env + "LOCAL_DOMAIN"}},
		"bad web domain":            {Host{LocalDomain: "example.org", WebDomain: "bad..x", AdminEmail: "a@example.org"}, []string{env + "WEB_DOMAIN"}},
		"both bad":                  {Host{LocalDomain: "a b.org", WebDomain: "bad..x", AdminEmail: "a@example.org"}, []string{env + "LOCAL_DOMAIN", env + "WEB_DOMAIN"}},
		"bad domain and bad email": {Host{LocalDomain: "a b.org", AdminEmail: "notanemail"},
			[]string{"email", env + "LOCAL_DOMAIN"}},
	} {
		t.Run(name, func(t *testing.T) {
			tree := New("", t.TempDir())
			tc.h.Compose(tree)
			var got []string
			for _, p := range tree.Problems.Errors() {
				got = append(got, p.Path)
			}
			slices.Sort(got)
			assert.Equal(t, tc.want, got, "%v", tree.Problems.Errors())
		})
	}
}

// Issue 12, defect 10: the bundle binds puma and streaming where every tool expects them
// for the family (mastodon.Release.LoopbackBind): ::1 on an IPv6-only host, 127.0.0.1 on a
// dual-stack one, each in its process's form, and nginx's upstreams point there.
func TestComposeBindsLoopbackOfTheFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rel                     string
		family                  Family
		web, streaming, backend string
	}{
		{"4.7", IPv6Only, "[::1]", "::1", "[::1]"},
		{"4.2", IPv6Only, "[::1]", "::1", "[::1]"},
		{"4.7", DualStack, "127.0.0.1", "127.0.0.1", "127.0.0.1"},
	} {
		t.Run(tc.rel+"-"+tc.family.String(), func(t *testing.T) {
			tree := New("", t.TempDir())
			h := Host{Release: mastodon.MustLookup(tc.rel), Family: tc.family, LocalDomain: "example.org", AdminEmail: "a@example.org"}
			info := h.Compose(tree)
			require.NoError(t, tree.Problems.Err())
			read := func(p string) string {
				f, ok := tree.File(p)
				require.True(t, ok, p)
				return string(f.Data)
			}
			assert.Contains(t, read(UnitDir+"/mastodon-web.service"), "Environment=BIND="+tc.web+"\n")
			assert.Contains(t, read(UnitDir+"/mastodon-streaming@.service"), "Environment=BIND="+tc.streaming+"\n")
			site := read(SitePath)
			assert.Contains(t, site, "server "+tc.backend+":3000")
			assert.Contains(t, site, "server "+tc.backend+":4000")
			assert.NotContains(t, site, map[bool]string{true: "127.0.0.1", false: "[::1]"}[tc.family == IPv6Only])
			assert.Equal(t, info.Release.LoopbackBind(tc.family == IPv6Only), info.Deployment.Bind)
		})
	}
}

// TestComposeRefusesBadSMTP (issue 20): an SMTP relay that is no host name nor IP
// literal, or a from address that is no e-mail address, is an error at its field (the
// examples name it as --smtp-server, --smtp-from) naming the value and what to give;
// the usual forms pass.
func TestComposeRefusesBadSMTP(t *testing.T) {
	t.Parallel()
	base := Host{LocalDomain: "example.org", AdminEmail: "a@example.org"}
	for _, c := range []struct {
		smtp       envfile.SMTP
		path, want string
	}{
		{envfile.SMTP{Server: "a b"}, ".env.production.SMTP_SERVER", `SMTP relay "a b" is not a host name or IP address`},
		{envfile.SMTP{Server: "smtp://relay.example.org"}, ".env.production.SMTP_SERVER", "give one such as smtp.example.org, localhost or ::1"},
		{envfile.SMTP{FromAddress: "x"}, ".env.production.SMTP_FROM_ADDRESS", `SMTP_FROM_ADDRESS "x" is not an e-mail address`},
		{envfile.SMTP{FromAddress: "Mastodon notifications@example.org"}, ".env.production.SMTP_FROM_ADDRESS", "give one such as notifications@example.org"},
	} {
		h := base
		h.SMTP = c.smtp
		tree := New("", t.TempDir())
		h.Compose(tree)
		var msgs []string
		for _, p := range tree.Problems.Errors() {
			if strings.HasSuffix(p.Path, c.path) {
				msgs = append(msgs, p.Message)
				assert.ErrorIs(t, p.Err, envfile.ErrSMTP)
			}
		}
		require.Len(t, msgs, 1, "%+v: %v", c.smtp, tree.Problems.Errors())
		assert.Contains(t, msgs[0], c.want)
	}
	for _, s := range []envfile.SMTP{
		{Server: "localhost"}, {Server: "::1"}, {Server: "relay.example.org", FromAddress: "Mastodon <notifications@example.org>"},
		{FromAddress: "notifications@example.org"},
	} {
		h := base
		h.SMTP = s
		tree := New("", t.TempDir())
		h.Compose(tree)
		assert.NoError(t, tree.Problems.Err(), "%+v", s)
	}
}
