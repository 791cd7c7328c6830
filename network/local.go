package network

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/v6kit/v6kit/internal/pgconnect"
)

// probeAddr turns a bind address into one to dial: :: → ::1, 0.0.0.0 → 127.0.0.1.
func probeAddr(b netip.AddrPort) netip.AddrPort {
	a := b.Addr()
	switch {
	case a.IsUnspecified() && a.Is6():
		a = netip.IPv6Loopback()
	case a.IsUnspecified():
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return netip.AddrPortFrom(a, b.Port())
}

// checkListen dials a unit's bind address, then asks its health path over plain HTTP
// (Rails /health since 3.0 and streaming /api/v1/streaming/health since 2.9 answer OK
// whatever the Host), so that a port held by something else is told apart.
func checkListen(unit, envHint, healthPath string, hasHealth func(o Options) bool, bind func(o Options) netip.AddrPort) checkFunc {
	return func(ctx context.Context, r *run, c *Check) {
		b := bind(r.o)
		t := probeAddr(b)
		set(c, "bind", b.String())
		conn, err := r.o.Dialer.DialContext(ctx, tcpFamily(t.Addr()), t.String())
		if err != nil {
			d, _ := dialErr(err, t.String())
			c.fail(unit+" is down or listens elsewhere: systemctl status "+unit+"; journalctl -u "+unit+"; "+envHint,
				"%s", d)
			return
		}
		conn.Close()
		if !hasHealth(r.o) {
			c.ok("%s accepts connections", t)
			return
		}
		cl := &http.Client{Transport: &http.Transport{DialContext: r.o.Dialer.DialContext, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		u := "http://" + t.String() + healthPath
		resp, body, err := r.get(ctx, cl, u, nil)
		if err != nil {
			c.warn("something listens on "+t.String()+" but does not speak HTTP: is it "+unit+"?", "%s accepts connections, GET %s failed: %v", t, healthPath, err)
			return
		}
		set(c, "health", strconv.Itoa(resp.StatusCode))
		if resp.StatusCode != http.StatusOK {
			c.warn("something listens on "+t.String()+" but "+healthPath+" answers "+strconv.Itoa(resp.StatusCode)+": is it "+unit+"?",
				"%s accepts connections, %s answers %d", t, healthPath, resp.StatusCode)
			return
		}
		c.ok("%s answers %s: %s", t, healthPath, strings.TrimSpace(string(truncate(body, 20))))
	}
}

func (r *run) dialFunc() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return r.o.Dialer.DialContext
}

func checkRedis(a netip.Addr) checkFunc {
	return func(ctx context.Context, r *run, c *Check) {
		t := netip.AddrPortFrom(a, r.o.RedisPort)
		cl := redis.NewClient(&redis.Options{
			Addr: t.String(), Password: r.o.RedisPassword, Dialer: r.dialFunc(),
			MaxRetries: -1, Protocol: 2, DisableIdentity: true, ContextTimeoutEnabled: true,
			PoolSize: 1, DialTimeout: r.o.CheckTimeout, ReadTimeout: r.o.CheckTimeout,
		})
		defer cl.Close()
		pong, err := cl.Ping(ctx).Result()
		if err != nil {
			hint := redisHint(r.o, a)
			var nerr *net.OpError
			if !errors.As(err, &nerr) {
				hint = "Redis answered but refused: check REDIS_PASSWORD (requirepass / ACL)"
			}
			c.fail(hint, "PING on %s failed: %v", t, err)
			return
		}
		set(c, "reply", pong)
		c.ok("PING on %s: %s", t, pong)
	}
}

// redisHint says how to make Redis answer on a and Mastodon use it: the bind that keeps
// Redis starting where IPv6 is off ("-::1"), and the .env.production spelling Rails
// reads (REDIS_HOST=::1 gives it the invalid redis://::1:6379; a bracketed REDIS_URL
// works from 4.2.0).
func redisHint(o Options, a netip.Addr) string {
	bind := "bind 127.0.0.1 -::1"
	if o.Family == V6Only {
		bind = "bind ::1"
	}
	port := strconv.Itoa(int(o.RedisPort))
	env := "REDIS_HOST=" + a.String() + " and REDIS_PORT=" + port
	if a.Is6() {
		if o.Release.RedisURLBrackets() {
			env = "REDIS_URL=redis://" + net.JoinHostPort(a.String(), port) + "/0"
		} else {
			env = "REDIS_HOST=127.0.0.1 (Mastodon " + o.Release.String() + " can't use an IPv6 Redis address; 4.2+ can)"
		}
	}
	return "make Redis listen on " + a.String() + ": " + bind + " in redis.conf, and " + env + " in .env.production"
}

func checkPostgres(a netip.Addr) checkFunc {
	return func(ctx context.Context, r *run, c *Check) {
		t := netip.AddrPortFrom(a, r.o.PostgresPort)
		// Only what Options say: never PG* variables, ~/.pgpass or service files.
		cfg, err := pgconnect.Params{Host: a.String(), Port: r.o.PostgresPort, User: r.o.PostgresUser,
			Password: r.o.PostgresPassword, Database: r.o.PostgresDatabase, SSLMode: pgconnect.SSLPrefer,
			ApplicationName: "v6kit-probe", ConnectTimeout: r.o.CheckTimeout, DialFunc: r.dialFunc()}.Config()
		if err != nil {
			c.fail("", "pgx config: %v", err)
			return
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000"):
				c.fail("PostgreSQL answers on "+t.String()+" but refuses the login: add 'host "+r.o.PostgresDatabase+" "+r.o.PostgresUser+" "+hostPrefix(a)+" scram-sha-256' to pg_hba.conf and check DB_PASS",
					"login as %s refused: %s", r.o.PostgresUser, pe.Message)
			case errors.As(err, &pe) && pe.Code == "3D000":
				c.fail("create the database "+r.o.PostgresDatabase+" (rails db:setup) or fix DB_NAME", "%s", pe.Message)
			default:
				c.fail("make PostgreSQL listen on "+a.String()+": listen_addresses = 'localhost' covers ::1 and 127.0.0.1 only when localhost resolves to both; write '::1,127.0.0.1'",
					"cannot reach PostgreSQL on %s: %v", t, err)
			}
			return
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var v string
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
			c.fail("", "logged in but a query failed: %v", err)
			return
		}
		set(c, "server_version", v)
		c.ok("logged in as %s on %s (PostgreSQL %s)", r.o.PostgresUser, t, v)
	}
}

func hostPrefix(a netip.Addr) string {
	return netip.PrefixFrom(a, a.BitLen()).String()
}
