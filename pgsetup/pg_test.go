package pgsetup

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/pgconnect"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }

const testPassword = "Ex4mple pass'w\"ord; DROP ROLE postgres;--"

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestRunAllInOne is the origin story's all-in-one host done right: scram-sha-256 over
// ::1 and 127.0.0.1 instead of trust, run twice to prove the second run changes nothing.
func TestRunAllInOne(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	before, err := os.ReadFile(pg.HBAFile)
	require.NoError(t, err)
	c := Config{DSN: pg.DSN(), Role: "mastodon", Database: "mastodon_production", Password: testPassword,
		Verify: true, ServerLog: pg.Log, Budget: units.Budget{Sidekiq: []int{25}, StreamingInstances: 1}}

	res, err := Run(ctx, c, false)
	require.NoError(t, err, "%v", res.Problems)
	assert.Equal(t, 15, res.Server.Major)
	assert.True(t, res.HBA.Changed)
	assert.True(t, res.HBA.Reloaded)
	assert.NotEmpty(t, res.HBA.Backup)
	var what []string
	for _, ch := range res.Changes {
		what = append(what, ch.What)
		assert.NotContains(t, ch.Detail, "Ex4mple", "the plaintext password never appears in a change")
	}
	assert.Equal(t, []string{"pg_hba.conf managed block", "create role", "set password", "create database"}, what)

	// Logins over ::1 and 127.0.0.1 worked with scram-sha-256, and the log named the
	// managed block's lines.
	after, err := os.ReadFile(pg.HBAFile)
	require.NoError(t, err)
	lines := strings.Split(string(after), "\n")
	require.Len(t, res.Logins, 2)
	for _, l := range res.Logins {
		require.True(t, l.OK, "%s: %v\n%s", l.Via, l.Err, pg.LogText())
		assert.Equal(t, "scram-sha-256", l.Method, l.Via)
		require.Positive(t, l.HBALine, "%s: matched line not found in the log", l.Via)
		assert.Contains(t, lines[l.HBALine-1], map[Via]string{ViaIPv6: " ::1/128 ", ViaIPv4: " 127.0.0.1/32 "}[l.Via])
		assert.Contains(t, lines[l.HBALine-1], "mastodon_production,postgres mastodon")
	}
	assert.Equal(t, report.Info, res.Problems.Sorted()[len(res.Problems)-1].Severity)

	// Every line of the original file is still there, in order.
	assert.Equal(t, string(before), removeBlock(t, string(after), "mastodon"))

	// The server stored a SCRAM verifier; the plaintext never reached the log.
	su := pg.Conn(t)
	var stored string
	var login, createdb bool
	require.NoError(t, su.QueryRow(ctx, `SELECT rolpassword, rolcanlogin, rolcreatedb FROM pg_authid WHERE rolname='mastodon'`).Scan(&stored, &login, &createdb))
	assert.True(t, strings.HasPrefix(stored, "SCRAM-SHA-256$4096:"))
	assert.True(t, VerifierMatches(stored, testPassword))
	assert.True(t, login && createdb)
	var owner string
	require.NoError(t, su.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname='mastodon_production'`).Scan(&owner))
	assert.Equal(t, "mastodon", owner)
	assert.NotContains(t, pg.LogText(), "Ex4mple")

	// Budget against the live max_connections (100, 3 reserved): 10 + 25 + 10 + 5.
	assert.Equal(t, 97, res.Budget.Available)
	assert.Equal(t, 50, res.Budget.Total)

	// Second run: nothing to change, the file is not rewritten, the server not reloaded.
	st1, _ := os.Stat(pg.HBAFile)
	res2, err := Run(ctx, c, false)
	require.NoError(t, err, "%v", res2.Problems)
	assert.Empty(t, res2.Changes)
	assert.False(t, res2.HBA.Changed)
	assert.False(t, res2.HBA.Reloaded)
	st2, _ := os.Stat(pg.HBAFile)
	assert.Equal(t, st1.ModTime(), st2.ModTime())
	again, _ := os.ReadFile(pg.HBAFile)
	assert.Equal(t, string(after), string(again))
	var stored2 string
	require.NoError(t, su.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname='mastodon'`).Scan(&stored2))
	assert.Equal(t, stored, stored2, "the verifier (and its salt) is kept when the password is unchanged")

	// A wrong password fails over ::1, and the log names the line that was tried.
	bad := VerifyLogins(ctx, VerifyOptions{Role: "mastodon", Password: "wrong-password-123456", Port: pg.Port,
		SocketDir: pg.Dir, Via: []Via{ViaIPv6}, ServerLog: pg.Log})
	require.Len(t, bad, 1)
	assert.False(t, bad[0].OK)
	assert.ErrorIs(t, bad[0].Err, ErrLogin)
	assert.Contains(t, bad[0].Err.Error(), "28P01")
	assert.Contains(t, lines[bad[0].HBALine-1], " ::1/128 ")
}

// TestRunCheckChangesNothing is --check: the result lists the changes, nothing happens.
func TestRunCheckChangesNothing(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	before, err := os.ReadFile(pg.HBAFile)
	require.NoError(t, err)
	res, err := Run(ctx, Config{DSN: pg.DSN(), Database: "mastodon_production", Password: testPassword}, true)
	require.NoError(t, err)
	assert.True(t, res.DryRun)
	assert.Contains(t, res.HBA.Diff, "+host      mastodon_production,postgres mastodon        ::1/128                 scram-sha-256")
	assert.Len(t, res.Changes, 4)
	after, _ := os.ReadFile(pg.HBAFile)
	assert.Equal(t, string(before), string(after))
	var n int
	require.NoError(t, pg.Conn(t).QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname='mastodon'`).Scan(&n))
	assert.Zero(t, n)
	assert.Positive(t, res.Budget.Available)
}

// TestApplyHBARejectedKeepsOldFile: a rule our parser accepts but the server refuses
// (map= on scram-sha-256) is caught by pg_hba_file_rules; the old file stays.
func TestApplyHBARejectedKeepsOldFile(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	su := pg.Conn(t)
	before, err := os.ReadFile(pg.HBAFile)
	require.NoError(t, err)
	st, _ := os.Stat(pg.HBAFile)
	rules := []HBARule{{Type: Host, Users: []string{"mastodon"}, Address: netip.MustParsePrefix("::1/128"), Method: ScramSHA256, Options: []string{"map=nope"}}}
	res, err := ApplyHBA(ctx, su, pg.HBAFile, "mastodon", rules, false)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrHBARejected)
	ps := report.AsProblems(err)
	require.Len(t, ps, 1)
	assert.Regexp(t, `^pg_hba\.conf:\d+$`, ps[0].Path)
	assert.Contains(t, ps[0].Message, `"map"`)
	assert.Contains(t, ps[0].Message, "map=nope")
	assert.False(t, res.Changed)
	assert.Empty(t, res.Backup)
	after, _ := os.ReadFile(pg.HBAFile)
	assert.Equal(t, string(before), string(after))
	st2, _ := os.Stat(pg.HBAFile)
	assert.Equal(t, st.Mode(), st2.Mode())
	entries, _ := os.ReadDir(pg.DataDir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".v6kit-lock") { // the lock file stays (empty)
			assert.NotContains(t, e.Name(), "pg_hba.conf.", "no backup or temp file is left behind")
		}
	}
	// The server still works with the old rules.
	var one int
	require.NoError(t, su.QueryRow(ctx, "SELECT 1").Scan(&one))
}

// TestApplyHBAUnparseableNeverRewritten: a file pgsetup can't parse is left alone.
func TestApplyHBAUnparseableNeverRewritten(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	su := pg.Conn(t)
	old, err := os.ReadFile(pg.HBAFile)
	require.NoError(t, err)
	broken := append(old, []byte("host all all ::1/129 scram-sha-256\n")...)
	require.NoError(t, os.WriteFile(pg.HBAFile, broken, 0o600))
	_, err = ApplyHBA(ctx, su, "", "mastodon", Config{}.HBARules(), false)
	require.ErrorIs(t, err, ErrHBASyntax)
	assert.Contains(t, err.Error(), "::1/129")
	after, _ := os.ReadFile(pg.HBAFile)
	assert.Equal(t, string(broken), string(after))
}

// TestRunServerTooOld simulates a minimum above the server's 15: nothing is changed.
func TestRunServerTooOld(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	before, _ := os.ReadFile(pg.HBAFile)
	res, err := Run(ctx, Config{DSN: pg.DSN(), MinPostgres: 16, Password: testPassword}, false)
	require.ErrorIs(t, err, ErrServerTooOld)
	assert.Contains(t, err.Error(), "needs 16 or newer")
	assert.Empty(t, res.Changes)
	after, _ := os.ReadFile(pg.HBAFile)
	assert.Equal(t, string(before), string(after))
	var n int
	require.NoError(t, pg.Conn(t).QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname='mastodon'`).Scan(&n))
	assert.Zero(t, n)
}

// TestHostileNames: names with quotes, spaces and SQL are created literally (quoted with
// pgx.Identifier), never injected; names over 63 bytes are refused.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	su := pg.Conn(t)
	for _, name := range []string{`Robert'); DROP ROLE postgres; --`, `x"; DROP DATABASE postgres; --`, "Mastodon Admin", "ünïcode"} {
		for range 2 {
			_, err := EnsureRole(ctx, su, RoleSpec{Name: name, Password: testPassword}, false)
			if strings.Contains(name, `"`) {
				require.ErrorIs(t, err, ErrName, name)
				continue
			}
			require.NoError(t, err, name)
			_, err = EnsureDatabase(ctx, su, name+" db", name, false)
			require.NoError(t, err, name)
		}
	}
	var n int
	require.NoError(t, su.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = ANY($1)`,
		[]string{`Robert'); DROP ROLE postgres; --`, "Mastodon Admin", "ünïcode", "postgres"}).Scan(&n))
	assert.Equal(t, 4, n)
	require.NoError(t, su.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname IN ('postgres', 'Mastodon Admin db')`).Scan(&n))
	assert.Equal(t, 2, n)

	long := strings.Repeat("m", 64)
	_, err := EnsureRole(ctx, su, RoleSpec{Name: long}, false)
	require.ErrorIs(t, err, ErrName)
	assert.Contains(t, err.Error(), "63")
	_, err = EnsureDatabase(ctx, su, long, "postgres", false)
	require.ErrorIs(t, err, ErrName)

	// A database owned by someone else is reported, not taken over.
	_, err = EnsureDatabase(ctx, su, "postgres", "Mastodon Admin", false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `owned by "postgres"`)
}

// TestVerifySocket logs in over the socket too (with a scram local rule, since this
// test's OS user is not the role, which peer would need).
func TestVerifySocket(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	su := pg.Conn(t)
	_, err := EnsureRole(ctx, su, RoleSpec{Name: "mastodon", Password: testPassword}, false)
	require.NoError(t, err)
	rules := []HBARule{
		{Type: Local, Users: []string{"mastodon"}, Method: ScramSHA256},
		{Type: Host, Users: []string{"mastodon"}, Address: netip.MustParsePrefix("::1/128"), Method: ScramSHA256},
		{Type: Host, Users: []string{"mastodon"}, Address: netip.MustParsePrefix("127.0.0.1/32"), Method: Reject},
	}
	for range 2 {
		_, err = ApplyHBA(ctx, su, pg.HBAFile, "mastodon", rules, false)
		require.NoError(t, err)
	}
	hba, _ := os.ReadFile(pg.HBAFile)
	lines := strings.Split(string(hba), "\n")
	logins := VerifyLogins(ctx, VerifyOptions{Role: "mastodon", Password: testPassword, Port: pg.Port, SocketDir: pg.Dir, ServerLog: pg.Log})
	require.Len(t, logins, 3)
	assert.True(t, logins[0].OK, "%v", logins[0].Err)
	assert.False(t, logins[1].OK, "127.0.0.1 is rejected")
	assert.Contains(t, logins[1].Err.Error(), "pg_hba.conf rejects connection")
	assert.True(t, logins[2].OK, "%v", logins[2].Err)
	assert.Equal(t, "scram-sha-256", logins[2].Method)
	assert.True(t, strings.HasPrefix(lines[logins[2].HBALine-1], "local"))
}

func TestLiveBudgetOver(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	info, err := Inspect(testCtx(t), pg.Conn(t))
	require.NoError(t, err)
	r, ps := LiveBudget(info, units.Budget{WebWorkers: 4, WebThreads: 5, Sidekiq: []int{25, 25, 25}, StreamingInstances: 2})
	assert.Equal(t, 20+75+20+5, r.Total)
	require.True(t, ps.HasErrors())
	assert.ErrorIs(t, ps.Err(), units.ErrOverBudget)
	assert.Contains(t, ps.Err().Error(), "max_connections 100")
}

func TestEnsureRoleNeedsSuperuser(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	su := pg.Conn(t)
	_, err := EnsureRole(ctx, su, RoleSpec{Name: "mastodon", Password: testPassword}, false)
	require.NoError(t, err)
	_, err = ApplyHBA(ctx, su, pg.HBAFile, "mastodon", Config{}.HBARules(), false)
	require.NoError(t, err)
	cfg, err := pgconnect.Params{Host: "::1", Port: uint16(pg.Port), User: "mastodon", Password: testPassword,
		Database: "postgres", SSLMode: pgconnect.SSLDisable}.Config()
	require.NoError(t, err)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = EnsureRole(ctx, conn, RoleSpec{Name: "other"}, false)
	require.ErrorIs(t, err, ErrNotSuperuser)
}

// TestRunTrustOnRequest: trust is written only when asked for, with the warning, and
// the role then logs in over ::1 without a password.
func TestRunTrustOnRequest(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	res, err := Run(ctx, Config{DSN: pg.DSN(), Auth: Trust, NoIPv4: true, Verify: true, ServerLog: pg.Log}, false)
	require.NoError(t, err)
	w := res.Problems.Warnings()
	require.Len(t, w, 2)
	assert.ErrorIs(t, w[1], ErrAllDatabases, "no database given, none owned: the widening is named")
	assert.ErrorIs(t, w[0], ErrTrust)
	assert.Contains(t, w[0].Message, "without a password")
	var vias []Via
	for _, l := range res.Logins {
		assert.True(t, l.OK, "%s: %v", l.Via, l.Err)
		vias = append(vias, l.Via)
	}
	assert.Equal(t, []Via{ViaIPv6, ViaSocket}, vias, "no 127.0.0.1 rule on an IPv6-only host; trust admits the socket")
	hba, _ := os.ReadFile(pg.HBAFile)
	assert.NotContains(t, string(hba), "mastodon        127.0.0.1/32")
}

// TestApplyHBAOnlyTheServersFile: pgsetup manages only the file the server reads, since
// it can't check any other with pg_hba_file_rules.
func TestApplyHBAOnlyTheServersFile(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	other := pg.Dir + "/other_hba.conf"
	require.NoError(t, os.WriteFile(other, []byte("local all all peer\n"), 0o600))
	_, err := ApplyHBA(testCtx(t), pg.Conn(t), other, "mastodon", Config{}.HBARules(), false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not the file the server reads")
	b, _ := os.ReadFile(other)
	assert.Equal(t, "local all all peer\n", string(b))
}

// TestRunFindsCollectorLog: without ServerLog, Run reads the logging collector's file
// (pg_current_logfile) to tell the matched pg_hba lines.
func TestRunFindsCollectorLog(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t, "logging_collector=on", "log_directory=log")
	res, err := Run(testCtx(t), Config{DSN: pg.DSN(), Password: testPassword, Verify: true}, false)
	require.NoError(t, err)
	require.Len(t, res.Logins, 2)
	for _, l := range res.Logins {
		assert.True(t, l.OK, "%v", l.Err)
		assert.Equal(t, "scram-sha-256", l.Method)
		assert.Positive(t, l.HBALine)
	}
}

// TestRunWithoutPasswordVerifies: the docs' default (no password: peer over the socket
// only) must not end in failed TCP logins that no password could have passed.
func TestRunWithoutPasswordVerifies(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	res, err := Run(testCtx(t), Config{DSN: pg.DSN(), Verify: true, ServerLog: pg.Log}, false)
	require.NoError(t, err)
	for _, l := range res.Logins {
		assert.NotEqual(t, ViaIPv6, l.Via, "no TCP login without a password")
		assert.NotEqual(t, ViaIPv4, l.Via, "no TCP login without a password")
	}
	var notes []string
	for _, p := range res.Problems {
		notes = append(notes, p.Message)
	}
	assert.Contains(t, strings.Join(notes, "\n"), "no password")
}

// TestParseHBAAgreesWithServerOnContinuations: the lines ParseHBA takes for rules are
// exactly the server's (pg_hba_file_rules), with comments continued by a backslash.
func TestParseHBAAgreesWithServerOnContinuations(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	data := "local all all trust\n# a note \\\nhost all all ::1/128 trust\n  # two \\ \n# lines \\\nhost all all 0.0.0.0/0 trust\nhost all all 127.0.0.1/32 trust\n"
	require.NoError(t, os.WriteFile(pg.HBAFile, []byte(data), 0o600))
	f, err := ParseHBA([]byte(data))
	require.NoError(t, err)
	_, ours := f.Rules()
	rows, err := pg.Conn(t).Query(testCtx(t), `SELECT line_number FROM pg_hba_file_rules WHERE error IS NULL ORDER BY line_number`)
	require.NoError(t, err)
	server, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (int, error) {
		var n int32
		err := r.Scan(&n)
		return int(n), err
	})
	require.NoError(t, err)
	assert.Equal(t, server, ours)
	assert.Equal(t, []int{1, 7}, ours)
}

// TestRunDefaultsToOwnedDatabase: without a database, Run narrows the rules to the one
// the role owns instead of silently rewriting them to all (issue 12, defect 7), and
// warns, naming the widening, when there is none to default to.
func TestRunDefaultsToOwnedDatabase(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	ctx := testCtx(t)
	c := Config{DSN: pg.DSN(), Role: "mastodon", Database: "mastodon_production", Password: testPassword}
	_, err := Run(ctx, c, false)
	require.NoError(t, err)
	before, err := os.ReadFile(pg.HBAFile)
	require.NoError(t, err)

	c.Database = ""
	res, err := Run(ctx, c, false)
	require.NoError(t, err, "%v", res.Problems)
	assert.Equal(t, "mastodon_production", res.Database)
	assert.False(t, res.HBA.Changed, "the block stays narrowed to the owned database")
	after, _ := os.ReadFile(pg.HBAFile)
	assert.Equal(t, string(before), string(after))
	assert.Empty(t, res.Problems.Warnings())

	res, err = Run(ctx, Config{DSN: pg.DSN(), Role: "other", Password: testPassword}, true)
	require.NoError(t, err)
	w := res.Problems.Warnings()
	require.Len(t, w, 1)
	assert.ErrorIs(t, w[0], ErrAllDatabases)
	assert.Equal(t, "database", w[0].Path)
	assert.Contains(t, w[0].Message, "role other owns no database: the pg_hba.conf rules allow it all databases")
}
