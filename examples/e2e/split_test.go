package e2e

import (
	"context"
	"net"
	"net/netip"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/pgsetup"
)

// TestSplit renders examples/split with the world's addresses (the client link is the
// app prefix and the client is web1; the server is db1 and redis1), starts PostgreSQL
// and Redis in the server namespace with db1's and redis1's rendered settings, and
// connects from web1 with exactly what web1's rendered .env.production says, over IPv6
// across the router. A host outside the app prefix is refused by pg_hba, and Redis
// refuses a client without the password.
func TestSplit(t *testing.T) {
	t.Parallel()
	bin, w, ctx := exampleWorld(t, "split", "redis-server")

	appPrefix := netip.PrefixFrom(w.ClientAddr, 64).Masked()
	web2 := netip.MustParseAddr("fd6e:7465:7374:1::32")
	out := filepath.Join(testenv.TempDir(t), "cluster")
	cmdOut, err := osexec.Command(bin, "--out", out, "--domain", "example."+w.Zone, "--web-domain", "social.example."+w.Zone,
		"--app-prefix", appPrefix.String(), "--web1-addr", w.ClientAddr.String(), "--web2-addr", web2.String(),
		"--front-addr", "fd6e:7465:7374:1::80", "--db-addr", w.ServerAddr.String(), "--redis-addr", w.ServerAddr.String()).CombinedOutput()
	require.NoError(t, err, "%s", cmdOut)
	host := func(h, p string) string { return filepath.Join(out, h, p) }

	env, err := envfile.ParseFile(host("web1", "home/mastodon/live/.env.production"))
	require.NoError(t, err)
	get := func(k string) string { v, _ := env.Get(k); return v }
	require.Equal(t, w.ServerAddr.String(), get("DB_HOST"))
	port, err := strconv.Atoi(get("DB_PORT"))
	require.NoError(t, err)

	// db1: PostgreSQL listening where mastodon-listen.conf says, pg_hba's managed block
	// as rendered, the role with the password db1's bundle holds.
	pg := w.StartE2EPostgres(t, w.Server, port, host("db1", bundle.ListenPath))
	conn := pg.Conn(t)
	var listen string
	require.NoError(t, conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen))
	assert.Equal(t, "::1,"+w.ServerAddr.String(), listen)
	blockData, err := os.ReadFile(host("db1", bundle.HBABlockPath))
	require.NoError(t, err)
	block, err := pgsetup.ParseHBA(blockData)
	require.NoError(t, err)
	rules, _ := block.Rules()
	_, err = pgsetup.ApplyHBA(ctx, conn, pg.HBAFile, "mastodon", rules, false)
	require.NoError(t, err)
	pw, _, err := pgsetup.ReadPasswordFile(host("db1", bundle.DBPasswordPath))
	require.NoError(t, err)
	require.Equal(t, get("DB_PASS"), pw, "db1's password file is web1's DB_PASS")
	_, err = pgsetup.EnsureRole(ctx, conn, pgsetup.RoleSpec{Name: "mastodon", Password: pw}, false)
	require.NoError(t, err)
	_, err = pgsetup.EnsureDatabase(ctx, conn, get("DB_NAME"), "mastodon", false)
	require.NoError(t, err)

	login := func(from string) error {
		cfg, err := pgx.ParseConfig("sslmode=disable")
		require.NoError(t, err)
		cfg.Host, cfg.Port = get("DB_HOST"), uint16(port)
		cfg.User, cfg.Password, cfg.Database = get("DB_USER"), get("DB_PASS"), get("DB_NAME")
		cfg.DialFunc = w.Dialer(from).DialContext
		cfg.ConnectTimeout = 20 * time.Second
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		var one int
		return c.QueryRow(ctx, "SELECT 1").Scan(&one)
	}
	require.NoError(t, login(w.Client), "web1 (in the app prefix) logs in over IPv6 with its .env.production")
	err = login(w.Server)
	require.Error(t, err, "a host outside the app prefix is refused")
	assert.Contains(t, err.Error(), "no pg_hba.conf entry")

	// redis1: Redis with the rendered snippet (::1 and its ULA address, a password);
	// web1 connects with REDIS_URL exactly as rendered.
	w.StartE2ERedis(t, w.Server, host("redis1", bundle.RedisPath))
	u := get("REDIS_URL")
	require.True(t, strings.HasPrefix(u, "redis://:"), u)
	opt, err := redis.ParseURL(u)
	require.NoError(t, err)
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return w.Dialer(w.Client).DialContext(ctx, network, addr)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	require.Equal(t, "PONG", rc.Ping(ctx).Val(), "web1 reaches redis1 with REDIS_URL: %v", rc.Ping(ctx).Err())
	opt.Password = ""
	anon := redis.NewClient(opt)
	defer anon.Close()
	assert.ErrorContains(t, anon.Ping(ctx).Err(), "NOAUTH")
}

// exampleWorld checks the world's tools and the given ones (each named like its Debian
// package), builds examples/NAME and a world, and returns the binary, the world and a
// context for the rest of the test (cancelled at cleanup).
func exampleWorld(t *testing.T, example string, tools ...string) (string, *testenv.World, context.Context) {
	t.Helper()
	testenv.WorldTools(t)
	for _, tool := range tools {
		testenv.Tool(t, tool, tool)
	}
	bin := buildExample(t, example)
	w := testenv.NewWorld(t, testenv.WorldOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return bin, w, ctx
}
