package pgsetup

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// hbaLineOf returns the 1-based number of the pg_hba.conf line whose fields start with
// fields.
func hbaLineOf(t *testing.T, file string, fields ...string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	for i, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= len(fields) && strings.Join(f[:len(fields)], " ") == strings.Join(fields, " ") {
			return i + 1
		}
	}
	t.Fatalf("no line %q in %s", fields, file)
	return 0
}

// TestRunIgnoresEnvironment: an admin with PGPASSWORD, PGSSLMODE=require, PGOPTIONS and
// the rest exported for something else gets exactly the connections Config says, for
// the setup connection and for every verification login.
func TestRunIgnoresEnvironment(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	testenv.PostgresHostileEnv(t)
	su := pg.Conn(t)
	var timeout string
	require.NoError(t, su.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout))
	require.Equal(t, "0", timeout, "PGOPTIONS reached the harness's connection")

	c := Config{DSN: pg.DSN(), Database: "mastodon_production", Password: testPassword, Verify: true, ServerLog: pg.Log}
	res, err := Run(ctx, c, false)
	require.NoError(t, err, "%v", res.Problems)
	require.Len(t, res.Logins, 2)
	for _, l := range res.Logins {
		require.True(t, l.OK, "%s: %v", l.Via, l.Err)
		assert.Equal(t, "scram-sha-256", l.Method, l.Via)
		want := hbaLineOf(t, pg.HBAFile, "host", "mastodon_production,postgres", "mastodon", map[Via]string{ViaIPv6: "::1/128", ViaIPv4: "127.0.0.1/32"}[l.Via])
		assert.Equal(t, want, l.HBALine, l.Via)
	}
	var n int
	require.NoError(t, su.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname='mastodon'`).Scan(&n))
	assert.Equal(t, 1, n)

	// A wrong password still fails for the right reason, with its own line.
	bad := VerifyLogins(ctx, VerifyOptions{Role: "mastodon", Password: "wrong-password-123456", Port: pg.Port,
		SocketDir: pg.Dir, Via: []Via{ViaIPv6}, ServerLog: pg.Log})
	require.Len(t, bad, 1)
	assert.False(t, bad[0].OK)
	assert.Contains(t, bad[0].Err.Error(), "28P01")
	assert.Equal(t, hbaLineOf(t, pg.HBAFile, "host", "mastodon_production,postgres", "mastodon", "::1/128"), bad[0].HBALine)

	// The server saw our application_name, never PGAPPNAME's.
	log := pg.LogText()
	assert.NotContains(t, log, "application_name=hostile")
	assert.Regexp(t, `application_name=v6kit-verify-[0-9a-f]{12}`, log)

	// Under the same environment a DSN key that would read a file is refused at
	// validation, naming the field.
	ps := Config{DSN: pg.DSN() + " passfile=/root/.pgpass"}.Validate()
	require.Error(t, ps.Err())
	assert.Equal(t, "dsn", ps.Errors()[0].Path)
	assert.ErrorIs(t, ps.Err(), ErrDSN)
	assert.Contains(t, ps.Err().Error(), `"passfile" is not supported`)
	assert.NotContains(t, ps.Err().Error(), testenv.PostgresSuperPassword)
}

// TestVerifyLoginsConcurrentFailures verifies while other connections fail to log in at
// the same time: another role over ::1, 127.0.0.1 and the socket, and the same role into
// another database (a different pg_hba.conf line). Every line reported is this login's
// own; a failed socket login made ambiguous by same-role socket failures is unknown.
func TestVerifyLoginsConcurrentFailures(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	su := pg.Conn(t)
	for _, r := range []string{"mastodon", "other"} {
		_, err := EnsureRole(ctx, su, RoleSpec{Name: r, Password: testPassword}, false)
		require.NoError(t, err)
	}
	six, four := netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("127.0.0.1/32")
	var rules []HBARule
	for _, u := range []struct{ db, user string }{{"mastodon_production", "mastodon"}, {"postgres", "mastodon"}, {"all", "other"}} {
		rules = append(rules,
			HBARule{Type: Local, Databases: []string{u.db}, Users: []string{u.user}, Method: ScramSHA256},
			HBARule{Type: Host, Databases: []string{u.db}, Users: []string{u.user}, Address: six, Method: ScramSHA256},
			HBARule{Type: Host, Databases: []string{u.db}, Users: []string{u.user}, Address: four, Method: ScramSHA256})
	}
	_, err := ApplyHBA(ctx, su, pg.HBAFile, "mastodon", rules, false)
	require.NoError(t, err)
	want := map[Via]int{
		ViaSocket: hbaLineOf(t, pg.HBAFile, "local", "postgres", "mastodon"),
		ViaIPv6:   hbaLineOf(t, pg.HBAFile, "host", "postgres", "mastodon", "::1/128"),
		ViaIPv4:   hbaLineOf(t, pg.HBAFile, "host", "postgres", "mastodon", "127.0.0.1/32"),
	}

	var noise atomic.Int64
	startNoise := func(role, db string, vias ...Via) func() {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, v := range vias {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					VerifyLogins(ctx, VerifyOptions{Role: role, Password: "wrong-password-123456", Database: db,
						Port: pg.Port, SocketDir: pg.Dir, Via: []Via{v}, Timeout: time.Minute})
					noise.Add(1)
				}
			}()
		}
		return func() { cancel(); wg.Wait() }
	}
	verify := func(pw string) []Login {
		return VerifyLogins(ctx, VerifyOptions{Role: "mastodon", Password: pw, Port: pg.Port, SocketDir: pg.Dir,
			ServerLog: pg.Log, LogMarker: su, Timeout: time.Minute})
	}

	// Phase 1: other roles on every way, the same role over TCP into another database.
	stop := startNoise("other", "postgres", ViaIPv6, ViaIPv4, ViaSocket)
	stop2 := startNoise("mastodon", "mastodon_production", ViaIPv6, ViaIPv4)
	for range 4 {
		for _, pw := range []string{"wrong-password-123456", testPassword} {
			ls := verify(pw)
			require.Len(t, ls, 3)
			for _, l := range ls {
				assert.Equal(t, pw == testPassword, l.OK, "%s: %v", l.Via, l.Err)
				assert.Equal(t, want[l.Via], l.HBALine, "%s (ok=%v): %s", l.Via, l.OK, l.HBANote)
				assert.Equal(t, "scram-sha-256", l.Method, l.Via)
			}
		}
	}
	// Phase 2: the same role fails over the socket too: a failed socket login may now
	// be unknown, but is never given the other line.
	stop3 := startNoise("mastodon", "mastodon_production", ViaSocket)
	unknown := 0
	for range 4 {
		for _, l := range verify("wrong-password-123456") {
			require.False(t, l.OK)
			if l.Via == ViaSocket && l.HBALine == 0 {
				unknown++
				assert.Contains(t, l.HBANote, `socket logins as "mastodon" failed at the same time`)
				continue
			}
			assert.Equal(t, want[l.Via], l.HBALine, "%s: %s", l.Via, l.HBANote)
		}
	}
	stop()
	stop2()
	stop3()
	t.Logf("%d concurrent failed logins; %d of 4 socket failures left unknown", noise.Load(), unknown)
	assert.Greater(t, noise.Load(), int64(20), "the other logins ran alongside")
	text := pg.LogText()
	assert.Contains(t, text, `password authentication failed for user "other"`)
}

// TestVerifyLoginsMarkerDropped: with log_min_messages=fatal the server drops the marker
// (and the LOG lines of log_connections): VerifyLogins does not wait for it, and reports
// unknown lines with the reason, never a guess from the FATAL lines alone.
func TestVerifyLoginsMarkerDropped(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t, "log_min_messages=fatal")
	ctx := testCtx(t)
	su := pg.Conn(t)
	_, err := EnsureRole(ctx, su, RoleSpec{Name: "mastodon", Password: testPassword}, false)
	require.NoError(t, err)
	ls := VerifyLogins(ctx, VerifyOptions{Role: "mastodon", Password: "wrong-password-123456", Port: pg.Port, SocketDir: pg.Dir,
		Via: []Via{ViaIPv6, ViaSocket}, ServerLog: pg.Log, LogMarker: su})
	require.Len(t, ls, 2)
	for _, l := range ls {
		assert.False(t, l.OK)
		assert.Zero(t, l.HBALine, l.Via)
		assert.NotEmpty(t, l.HBANote, l.Via)
	}
	assert.Contains(t, ls[0].HBANote, "log_connections")
	assert.Contains(t, ls[1].HBANote, "marker")
	assert.Contains(t, pg.LogText(), "Connection matched pg_hba.conf line", "the FATAL lines are there; they alone don't say whose they are")
	assert.NotContains(t, pg.LogText(), "v6kit-verify-mark-")
}

// TestRunLogLinePrefixWithoutPID: a log_line_prefix without %p (or an empty one) leaves
// the matched lines unknown, and each login says that is why (the log itself is there).
func TestRunLogLinePrefixWithoutPID(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"%m ", ""} {
		t.Run(fmt.Sprintf("%q", prefix), func(t *testing.T) {
			t.Parallel()
			pg := testenv.StartPostgres(t, "log_line_prefix="+prefix)
			res, err := Run(testCtx(t), Config{DSN: pg.DSN(), Password: testPassword, Verify: true, ServerLog: pg.Log}, false)
			require.NoError(t, err, "%v", res.Problems)
			require.Equal(t, prefix, res.Server.LogLinePrefix)
			var paths []string
			for _, p := range res.Problems {
				paths = append(paths, p.Path)
			}
			assert.Contains(t, paths, "log_line_prefix")
			require.Len(t, res.Logins, 2)
			for _, l := range res.Logins {
				assert.True(t, l.OK, "%s: %v", l.Via, l.Err)
				assert.Zero(t, l.HBALine, l.Via)
				assert.Contains(t, l.HBANote, fmt.Sprintf("log_line_prefix %q has no %%p", prefix), l.Via)
			}
		})
	}
}
