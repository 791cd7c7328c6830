package redisconf

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

const testPassword = "r3dis-Pa55word-for-tests"

func configFromComment(t *testing.T, comment string) Config {
	t.Helper()
	var c Config
	for _, f := range strings.Fields(comment) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "family":
			c.Family, err = ParseFamily(v)
		case "port":
			c.Port, err = strconv.Atoi(v)
		case "unixsocket":
			c.UnixSocket = v
		case "password":
			c.Password = v
		case "user":
			c.User = v
		case "bind":
			c.Bind = append(c.Bind, netip.MustParseAddr(v))
		case "client":
			c.ClientAddr = netip.MustParseAddr(v)
		default:
			t.Fatalf("unknown key %q", k)
		}
		require.NoError(t, err)
	}
	return c
}

// envText renders the env entries and problems for one Mastodon version.
func envText(c Config, version string) string {
	c.Release = mastodon.MustLookup(version)
	env, ps := c.Env()
	var b strings.Builder
	for _, e := range env {
		fmt.Fprintf(&b, "%s=%s\n", e.Key, e.Value)
	}
	b.WriteString(ps.Sorted().String())
	return b.String()
}

var envVersions = []string{"3.5", "4.1", "4.2", "4.3", "4.7"}

// TestGolden renders each testdata/*.txtar case (the snippet and the REDIS_* values for
// several Mastodon lines) and parses every snippet with the real redis-server.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, name := range golden.Files(t, "testdata/*.txtar") {
		t.Run(filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			ar := golden.Open(t, name)
			c := configFromComment(t, ar.Comment())
			var want []golden.Section
			snippet, err := c.Snippet()
			if err != nil {
				want = append(want, golden.Section{Name: "want/problems", Data: report.AsProblems(err).Sorted().String()})
			} else {
				want = append(want, golden.Section{Name: "want/redis.conf", Data: string(snippet)})
				for _, v := range envVersions {
					want = append(want, golden.Section{Name: "want/env-" + v, Data: envText(c, v)})
				}
				f := filepath.Join(testenv.TempDir(t), "redis.conf")
				require.NoError(t, os.WriteFile(f, snippet, 0o644))
				require.NoError(t, testenv.RedisConfCheck(t, f))
			}
			ar.Check(t, want...)
		})
	}
}

// TestRedisRejectsBrokenSnippet proves the --port 0 trick catches a bad line.
func TestRedisRejectsBrokenSnippet(t *testing.T) {
	t.Parallel()
	f := filepath.Join(testenv.TempDir(t), "bad.conf")
	require.NoError(t, os.WriteFile(f, []byte("bnd 127.0.0.1\n"), 0o644))
	err := testenv.RedisConfCheck(t, f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Bad directive")
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    Config
		path string
		err  error
	}{
		{Config{Family: 7}, "family", ErrFamily},
		{Config{Port: 70000}, "port", ErrPort},
		{Config{UnixSocket: "redis.sock"}, "unixsocket", ErrSocket},
		{Config{UnixSocket: "/run/redis/re dis.sock"}, "unixsocket", ErrSocket},
		{Config{UnixSocket: "/" + strings.Repeat("x", 120)}, "unixsocket", ErrSocket},
		{Config{Bind: []netip.Addr{netip.MustParseAddr("2001:db8::5")}}, "bind[0]", ErrExposed},
		{Config{Bind: []netip.Addr{netip.MustParseAddr("::")}}, "bind[0]", ErrAddr},
		{Config{Bind: []netip.Addr{netip.MustParseAddr("::1")}}, "bind[0]", ErrAddr},
		// redis-server aborts on both: "bind: Invalid argument" (it sets IPV6_V6ONLY) and
		// "bind: Address already in use".
		{Config{Bind: []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}}, "bind[0]", ErrAddr},
		{Config{Password: testPassword, Bind: []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.5")}}, "bind[0]", ErrAddr},
		{Config{Password: testPassword, Bind: []netip.Addr{netip.MustParseAddr("fe80::5")}}, "bind[0]", ErrAddr}, // bind: Invalid argument
		{Config{Password: testPassword, Bind: []netip.Addr{netip.MustParseAddr("fd00:1::5"), netip.MustParseAddr("fd00:1::5")}}, "bind[1]", ErrAddr},
		{Config{Password: "has space in it 12345"}, "password", ErrPassword},
		{Config{Password: "line\nrequirepass x"}, "password", ErrPassword},
		{Config{Password: `quote"d-password-123`}, "password", ErrPassword},
		{Config{Password: "p@ss-word-1234567"}, "password", ErrPassword},
		{Config{Password: "pass/word#1234567"}, "password", ErrPassword},
		{Config{Password: "50%-of-a-password"}, "password", ErrPassword},
		{Config{Password: "host:6380-password"}, "password", ErrPassword},
		{Config{User: "mastodon"}, "user", ErrUser},
		{Config{User: "default", Password: testPassword}, "user", ErrUser},
		{Config{User: "ma stodon", Password: testPassword}, "user", ErrUser},
		{Config{Family: IPv6Only, ClientAddr: netip.MustParseAddr("127.0.0.1")}, "client_addr", ErrAddr},
	} {
		ps := tc.c.Validate()
		require.True(t, ps.HasErrors(), "%+v", tc.c)
		assert.Equal(t, tc.path, ps.Errors()[0].Path, "%+v", tc.c)
		assert.ErrorIs(t, ps.Err(), tc.err, "%+v", tc.c)
		_, err := tc.c.Snippet()
		assert.Error(t, err, "Write refuses an invalid config")
	}
}

func TestEnvNeverNamespace(t *testing.T) {
	t.Parallel()
	for _, line := range mastodon.Lines() {
		rel := mastodon.MustLookup(line)
		for _, c := range []Config{{}, {Family: IPv6Only}, {UnixSocket: "/run/redis/redis.sock"}, {Password: testPassword, User: "mastodon"}} {
			c.Release = rel
			env, _ := c.Env()
			for _, e := range env {
				assert.NotEqual(t, "REDIS_NAMESPACE", e.Key)
				assert.True(t, rel.Reads(e.Key), "%s does not read %s", rel, e.Key)
				if strings.Contains(e.Value, "[") {
					assert.True(t, rel.RedisURLBrackets(), "brackets for %s", rel)
				}
			}
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestLive starts the real redis-server on each rendered variant and pings it with
// go-redis over every bound address, and over the REDIS_* values Mastodon would use.
func TestLive(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Config{
		"dual-stack":          {},
		"ipv6-only":           {Family: IPv6Only},
		"ipv6-only password":  {Family: IPv6Only, Password: testPassword},
		"dual-stack acl user": {Password: testPassword, User: "mastodon"},
		"ipv4-only":           {Family: IPv4Only, Password: testPassword},
		"unix socket":         {},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			dir := testenv.TempDir(t)
			if name == "unix socket" {
				c.UnixSocket = filepath.Join(dir, "redis.sock")
			} else {
				c.Port = testenv.FreePort(t)
			}
			snip := filepath.Join(dir, "mastodon.conf")
			_, err := c.WriteFile(snip)
			require.NoError(t, err)
			st, _ := os.Stat(snip)
			assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
			srv, err := testenv.StartRedis(t, snip)
			require.NoError(t, err)

			for _, r := range Check(ctx, c, 0) {
				assert.True(t, r.OK, "%s %s: %v\n%s", r.Network, r.Addr, r.Err, srv.LogText())
			}
			// Mastodon's view: the REDIS_* values of the newest release reach it.
			env, ps := c.Env()
			require.NoError(t, ps.Err())
			pingEnv(ctx, t, env)

			switch c.Family {
			case IPv6Only:
				// Nothing listens on 127.0.0.1.
				other := c
				other.Family = IPv4Only
				r := Check(ctx, other, 5*time.Second)
				assert.False(t, r[0].OK)
			case IPv4Only:
				other := c
				other.Family = IPv6Only
				r := Check(ctx, other, 5*time.Second)
				assert.False(t, r[0].OK)
			}
			if c.Password != "" {
				wrong := c
				wrong.Password = "not-the-password-123"
				r := Check(ctx, wrong, 5*time.Second)
				assert.False(t, r[0].OK)
			}
		})
	}
}

func pingEnv(ctx context.Context, t *testing.T, env []EnvVar) {
	t.Helper()
	m := map[string]string{}
	for _, e := range env {
		m[e.Key] = e.Value
	}
	var opt *redis.Options
	if u, ok := m["REDIS_URL"]; ok {
		var err error
		opt, err = redis.ParseURL(u)
		require.NoError(t, err, u)
	} else {
		opt = &redis.Options{Addr: m["REDIS_HOST"] + ":" + m["REDIS_PORT"], Password: m["REDIS_PASSWORD"]}
	}
	opt.MaxRetries = -1
	cl := redis.NewClient(opt)
	defer cl.Close()
	require.NoError(t, cl.Ping(ctx).Err(), "%v", env)
}

func BenchmarkSnippet(b *testing.B) {
	c := Config{Password: testPassword, User: "mastodon", Bind: []netip.Addr{netip.MustParseAddr("2001:db8::5")}}
	for b.Loop() {
		if _, err := c.Snippet(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEnvOldReleaseLoopback6Fix: before 4.2, ::1 can't be reached; the fix offered fits
// the family in use (a dual-stack host just drops client_addr).
func TestEnvOldReleaseLoopback6Fix(t *testing.T) {
	t.Parallel()
	rel := mastodon.MustLookup("4.1")
	_, ps := Config{Release: rel, ClientAddr: netip.MustParseAddr("::1")}.Env()
	require.True(t, ps.HasErrors())
	msg := ps.Errors()[0].Message
	assert.Contains(t, msg, "client_addr")
	assert.NotContains(t, msg, "use the dual-stack family", "the config is dual-stack already")
	_, ps = Config{Release: rel, Family: IPv6Only}.Env()
	require.True(t, ps.HasErrors())
	assert.Contains(t, ps.Errors()[0].Message, "use the dual-stack family")
}
