package sentinel_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/sentinel"
)

func base() sentinel.Config {
	a := netip.MustParseAddr
	return sentinel.Config{
		Redis:     []sentinel.Node{{"redis1.example.net", a("fd00:5::31")}, {"redis2.example.net", a("fd00:5::32")}},
		Sentinels: []sentinel.Node{{"s1.example.net", a("fd00:5::31")}, {"s2.example.net", a("fd00:5::32")}, {"s3.example.net", a("fd00:5::33")}},
		Password:  "redis-password-0123456789",
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		edit func(*sentinel.Config)
		path string
		err  error
	}{
		"IPv6 literal sentinel":   {func(c *sentinel.Config) { c.Sentinels[1].Name = "fd00:5::32" }, "sentinels[1].name", sentinel.ErrLiteral},
		"bracketed with port":     {func(c *sentinel.Config) { c.Sentinels[0].Name = "[fd00:5::31]:26379" }, "sentinels[0].name", sentinel.ErrLiteral},
		"IPv6 literal redis":      {func(c *sentinel.Config) { c.Redis[0].Name = "fd00:5::31" }, "redis[0].name", sentinel.ErrLiteral},
		"two sentinels":           {func(c *sentinel.Config) { c.Sentinels = c.Sentinels[:2] }, "sentinels", sentinel.ErrTopology},
		"no replica":              {func(c *sentinel.Config) { c.Redis = c.Redis[:1] }, "redis", sentinel.ErrTopology},
		"quorum too big":          {func(c *sentinel.Config) { c.Quorum = 4 }, "quorum", sentinel.ErrQuorum},
		"password with delimiter": {func(c *sentinel.Config) { c.Password = "0123456789abcdef@x" }, "password", sentinel.ErrPassword},
		"loopback addr":           {func(c *sentinel.Config) { c.Redis[1].Addr = netip.MustParseAddr("::1") }, "redis[1].addr", sentinel.ErrAddr},
		"bad prefix":              {func(c *sentinel.Config) { c.Prefixes = []string{"QUEUE_"} }, "prefixes[0]", sentinel.ErrPrefix},
	} {
		t.Run(name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			ps := c.Validate()
			require.True(t, ps.HasErrors())
			assert.Equal(t, tc.path, ps.Errors()[0].Path)
			assert.ErrorIs(t, ps.Err(), tc.err)
			_, err := c.SentinelConf(0)
			assert.Error(t, err, "nothing rendered")
			env, _ := c.Env()
			assert.Nil(t, env)
		})
	}
	c := base()
	c.Sentinels[2].Name = "fd00:5::33"
	assert.Contains(t, c.Validate().Err().Error(), "redis_configuration.rb", "the error names Mastodon's parser")
}

func TestEnvPerRelease(t *testing.T) {
	t.Parallel()
	c := base()
	c.Release = mastodon.MustLookup("4.2")
	_, ps := c.Env()
	require.ErrorIs(t, ps.Err(), sentinel.ErrRelease)

	c = base()
	c.Release = mastodon.MustLookup("4.4.0")
	c.Namespace = "mastodon"
	_, ps = c.Env()
	require.ErrorIs(t, ps.Err(), sentinel.ErrNamespace)

	c.Release = mastodon.MustLookup("4.3")
	env, ps := c.Env()
	require.NoError(t, ps.Err())
	assert.Equal(t, sentinel.EnvVar{"REDIS_NAMESPACE", "mastodon"}, env[len(env)-1], "kept up to 4.3")

	c = base()
	c.Prefixes = []string{"SIDEKIQ_", "CACHE_"}
	c.SentinelPassword = "sentinel-password-0123456789"
	env, ps = c.Env()
	require.NoError(t, ps.Err())
	require.Len(t, ps.Warnings(), 1, "streaming reads only the unprefixed variables")
	assert.Equal(t, sentinel.EnvVar{"SIDEKIQ_REDIS_SENTINELS", "s1.example.net:26379,s2.example.net:26379,s3.example.net:26379"}, env[0])
	assert.Len(t, env, 8)
}

// TestRedisAcceptsRendered has the real redis-server parse each rendered node snippet.
func TestRedisAcceptsRendered(t *testing.T) {
	t.Parallel()
	c := base()
	for i := range c.Redis {
		b, err := c.RedisConf(i)
		require.NoError(t, err)
		f := filepath.Join(t.TempDir(), "redis.conf")
		require.NoError(t, os.WriteFile(f, b, 0o600))
		require.NoError(t, testenv.RedisConfCheck(t, f))
	}
	b, err := c.SentinelConf(1)
	require.NoError(t, err)
	for _, want := range []string{"sentinel resolve-hostnames yes\n", "sentinel announce-hostnames yes\n", "sentinel announce-ip s2.example.net\n",
		"sentinel monitor mastodon redis1.example.net 6379 2\n", "bind ::1 fd00:5::32\nport 26379\n"} {
		assert.Contains(t, string(b), want)
	}
}
