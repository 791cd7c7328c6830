package pgsetup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/internal/pgconnect"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

// ServerInfo is what pgsetup reads from the live server.
type ServerInfo struct {
	// VersionNum is server_version_num (150010 for 15.10, 90624 for 9.6.24); Major is
	// its first number (15, or 9 for 9.x).
	VersionNum int `json:"version_num"`
	Major      int `json:"major"`
	// Version is server_version as the server prints it.
	Version string `json:"version"`
	// HBAFile is the pg_hba.conf the server reads (hba_file).
	HBAFile string `json:"hba_file"`
	// MaxConnections and SuperuserReserved are the live connection limits.
	MaxConnections    int `json:"max_connections"`
	SuperuserReserved int `json:"superuser_reserved_connections"`
	// LogConnections says whether logins are logged (needed to tell the matched pg_hba line).
	LogConnections bool `json:"log_connections"`
	// LogLinePrefix is log_line_prefix (it must hold %p for the matched lines to be told).
	LogLinePrefix string `json:"log_line_prefix"`
	// Port and SocketDir are where the server listens (port, first unix_socket_directories entry).
	Port      int    `json:"port"`
	SocketDir string `json:"socket_dir"`
	// Superuser says whether the setup connection is a superuser's.
	Superuser bool `json:"superuser"`
}

// Inspect reads the server's version, hba_file, limits and listeners.
func Inspect(ctx context.Context, conn *pgx.Conn) (ServerInfo, error) {
	var s ServerInfo
	var vnum, maxc, sur, port, logc, sockets string
	err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num'), current_setting('server_version'),
		current_setting('hba_file'), current_setting('max_connections'), current_setting('superuser_reserved_connections'),
		current_setting('port'), current_setting('log_connections'), current_setting('unix_socket_directories'),
		current_setting('log_line_prefix'), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`).
		Scan(&vnum, &s.Version, &s.HBAFile, &maxc, &sur, &port, &logc, &sockets, &s.LogLinePrefix, &s.Superuser)
	if err != nil {
		return s, fmt.Errorf("pgsetup: inspect server: %w", superuserHint(err))
	}
	s.VersionNum, _ = strconv.Atoi(vnum)
	s.Major = s.VersionNum / 10000
	s.MaxConnections, _ = strconv.Atoi(maxc)
	s.SuperuserReserved, _ = strconv.Atoi(sur)
	s.Port, _ = strconv.Atoi(port)
	s.LogConnections = logc == "on"
	if d, _, _ := strings.Cut(sockets, ","); strings.TrimSpace(d) != "" {
		s.SocketDir = strings.TrimSpace(d)
	}
	return s, nil
}

// CheckVersion reports an error when the server's major version is below min (0: no
// minimum; [Config.MinPostgresMajor] is the release's minimum or its override). rel
// names the release in the message; zero: [mastodon.Newest].
func CheckVersion(s ServerInfo, min int, rel mastodon.Release) report.Problems {
	mastodonVersion := rel.OrNewest().String()
	var ps report.Problems
	if min == 0 {
		ps.Infof("server_version", "Mastodon %s has no PostgreSQL minimum; the server runs %s", mastodonVersion, s.Version)
		return ps
	}
	minNum := min * 10000
	if min == 9 { // Mastodon's "9.5"
		minNum = 90500
	}
	if s.VersionNum < minNum {
		want := fmt.Sprint(min)
		if min == 9 {
			want = "9.5"
		}
		ps.Errorf("server_version", ErrServerTooOld, "the server runs PostgreSQL %s; Mastodon %s needs %s or newer: upgrade PostgreSQL before installing", s.Version, mastodonVersion, want)
	}
	return ps
}

// HBAResult says what [ApplyHBA] did to pg_hba.conf.
type HBAResult struct {
	// Path is the file.
	Path string `json:"path"`
	// Changed is false when the block was already as wanted (nothing written, no reload).
	Changed bool `json:"changed"`
	// Diff shows the change (empty when none).
	Diff string `json:"diff,omitempty"`
	// Backup is the copy of the previous file, when one was written.
	Backup string `json:"backup,omitempty"`
	// Reloaded says whether pg_reload_conf() was called.
	Reloaded bool `json:"reloaded"`
	// Problems holds warnings and notes about the placement of the block.
	Problems report.Problems `json:"-"`
}

// hbaFileRule is one row of pg_hba_file_rules with an error.
type hbaFileRule struct {
	line int
	err  string
}

// ApplyHBA puts rules into the managed block called name of the pg_hba.conf at path,
// which must be the file the server reads (hba_file). A file that can't be parsed is
// never rewritten. The candidate is written atomically (owner and mode kept, the old file
// backed up), checked with the server's pg_hba_file_rules view, and on any error the old
// bytes are put back and the error names each bad line; otherwise the server reloads
// with pg_reload_conf(). Nothing is written or reloaded when the block is unchanged or
// under dryRun. conn must be a superuser's.
func ApplyHBA(ctx context.Context, conn *pgx.Conn, path, name string, rules []HBARule, dryRun bool) (HBAResult, error) {
	return applyHBA(ctx, conn, path, name, rules, dryRun, fsutil.LockOptions{})
}

func applyHBA(ctx context.Context, conn *pgx.Conn, path, name string, rules []HBARule, dryRun bool, lo fsutil.LockOptions) (res HBAResult, err error) {
	res = HBAResult{Path: path}
	var serverFile string
	if err := conn.QueryRow(ctx, `SELECT current_setting('hba_file')`).Scan(&serverFile); err != nil {
		return res, fmt.Errorf("pgsetup: read hba_file: %w", superuserHint(err))
	}
	if path == "" {
		path, res.Path = serverFile, serverFile
	}
	if !sameFile(path, serverFile) {
		return res, fmt.Errorf("pgsetup: %s is not the file the server reads (hba_file = %s): pgsetup checks every change with the server, so it manages only that file", path, serverFile)
	}
	// Held from the read to the end of the server's check: a second run waits.
	lk, err := fsutil.LockFile(ctx, path, lo)
	if err != nil {
		return res, fmt.Errorf("pgsetup: %w", err)
	}
	defer func() {
		if err != nil {
			lk.Abandon() // a refused run leaves no lock file of its own behind
		} else {
			lk.Unlock()
		}
	}()
	old, exists, err := fsutil.ReadExisting(path)
	if err == nil && !exists {
		err = fs.ErrNotExist
	}
	if err != nil {
		return res, fmt.Errorf("pgsetup: read %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("pgsetup: stat %s: %w", path, err)
	}
	f, err := ParseHBA(old)
	if err != nil {
		return res, fmt.Errorf("pgsetup: %s left unchanged: %w", path, err)
	}
	changed, ps := f.SetBlock(name, rules)
	res.Problems = ps
	if err := ps.Err(); err != nil {
		return res, fmt.Errorf("pgsetup: %s left unchanged: %w", path, err)
	}
	if !changed {
		return res, nil
	}
	candidate := f.Bytes()
	res.Changed = true
	res.Diff = Diff(path, old, candidate)
	if dryRun {
		return res, nil
	}
	w, err := fsutil.WriteFile(path, candidate, fsutil.Options{KeepMode: true, BackupDir: true})
	if err != nil {
		return res, fmt.Errorf("pgsetup: write %s: %w", path, err)
	}
	res.Backup = w.Backup
	keepOwner(path, st)
	if w.Backup != "" {
		keepOwner(w.Backup, st)
	}
	bad, qerr := hbaErrors(ctx, conn)
	if qerr != nil || len(bad) > 0 {
		if _, err := fsutil.WriteFile(path, old, fsutil.Options{KeepMode: true}); err != nil {
			return res, fmt.Errorf("pgsetup: the server rejected %s and restoring the old content failed (a copy is in %s): %w", path, w.Backup, err)
		}
		keepOwner(path, st)
		if w.Backup != "" {
			_ = os.Remove(w.Backup)
			res.Backup = ""
		}
		res.Changed = false
		if qerr != nil {
			return res, fmt.Errorf("pgsetup: check %s with pg_hba_file_rules (old file kept): %w", path, superuserHint(qerr))
		}
		lines := strings.Split(string(candidate), "\n")
		var ps report.Problems
		for _, b := range bad {
			text := ""
			if b.line >= 1 && b.line <= len(lines) {
				text = strings.TrimSpace(lines[b.line-1])
			}
			ps.Errorf(fmt.Sprintf("pg_hba.conf:%d", b.line), ErrHBARejected, "%s in %q (old file kept)", b.err, text)
		}
		return res, ps.Err()
	}
	if _, err := conn.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		return res, fmt.Errorf("pgsetup: pg_reload_conf: %w", err)
	}
	res.Reloaded = true
	return res, nil
}

func hbaErrors(ctx context.Context, conn *pgx.Conn) ([]hbaFileRule, error) {
	rows, err := conn.Query(ctx, `SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number`)
	if err != nil {
		return nil, err
	}
	var out []hbaFileRule
	for rows.Next() {
		var line *int32
		var msg string
		if err := rows.Scan(&line, &msg); err != nil {
			return nil, err
		}
		r := hbaFileRule{err: msg}
		if line != nil {
			r.line = int(*line)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(sa, sb)
}

// keepOwner gives a rewritten file its previous owner (fsutil writes as the caller).
func keepOwner(path string, st fs.FileInfo) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		_ = os.Lchown(path, int(sys.Uid), int(sys.Gid))
	}
}

// LiveBudget fills the budget's MaxConnections and SuperuserReserved from the server and
// returns its arithmetic and judgement ([units.Budget.Validate]).
func LiveBudget(s ServerInfo, b units.Budget) (units.BudgetReport, report.Problems) {
	b.MaxConnections = s.MaxConnections
	b.SuperuserReserved = s.SuperuserReserved
	return b.Compute(), b.Validate()
}

// Via is how a verification login reaches the server.
type Via string

// The three ways [VerifyLogins] logs in.
const (
	ViaIPv6   Via = "::1"
	ViaIPv4   Via = "127.0.0.1"
	ViaSocket Via = "socket"
)

// Login is the outcome of one verification login.
type Login struct {
	Via Via `json:"via"`
	// OK says whether the login succeeded; Err says why not (Error is its text, for JSON).
	OK    bool   `json:"ok"`
	Err   error  `json:"-"`
	Error string `json:"error,omitempty"`
	// Method and HBALine are what the server log says this login matched
	// ("scram-sha-256", line 4), for failed logins too; empty and 0 when the log does not
	// tell for certain, and HBANote then says why. A line is never guessed from another
	// connection's log lines.
	Method  string `json:"method,omitempty"`
	HBALine int    `json:"hba_line,omitempty"`
	HBANote string `json:"hba_note,omitempty"`
}

// VerifyOptions says how to log in as the role.
type VerifyOptions struct {
	Role, Password string
	// Database is the database to log into. Empty: "postgres".
	Database string
	// Port and SocketDir locate the server.
	Port      int
	SocketDir string
	// Via lists the ways to try. Empty: ::1, 127.0.0.1 and the socket.
	Via []Via
	// ServerLog is the server's log file (log_connections=on); empty: lines stay unknown.
	ServerLog string
	// LogLinePrefix is the server's log_line_prefix, which must hold %p (or %c) for
	// the lines of a login to be told from those of concurrent connections. Empty:
	// PostgreSQL's default, [DefaultLogLinePrefix].
	LogLinePrefix string
	// LogMarker is a connection to the same server (any role) through which a unique
	// line is written to the log (RAISE LOG) after each login, so the log is read
	// exactly up to there. Nil (or log_min_messages fatal or panic, which drops the
	// line): the log is read for up to 3 s, and the line of a failed socket login stays
	// unknown (it has no client port to be recognised by).
	LogMarker *pgx.Conn
	// Timeout bounds each login. Zero: 15 s.
	Timeout time.Duration
}

// VerifyLogins logs in as the role over each way in opts.Via and reports, for each,
// whether it worked and, from the server log, which pg_hba.conf line it matched.
//
// The lines of a login are recognised with certainty or not at all: a successful login
// by its backend PID (BackendKeyData), a failed TCP login by its client address and
// port in "connection received: host=… port=…" (needs log_connections=on), a failed
// socket login only when it is the role's one failed socket login between the start and
// the marker. Each login sends application_name "v6kit-verify-<random>", which the
// server logs with a successful login. The connections depend on opts alone, never on
// PG* environment variables or ~/.pgpass.
func VerifyLogins(ctx context.Context, opts VerifyOptions) []Login {
	vias := opts.Via
	if len(vias) == 0 {
		vias = []Via{ViaIPv6, ViaIPv4, ViaSocket}
	}
	db := opts.Database
	if db == "" {
		db = "postgres"
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	prefix := opts.LogLinePrefix
	if prefix == "" {
		prefix = DefaultLogLinePrefix
	}
	lp, lpErr := parseLogPrefix(prefix)
	marker := opts.LogMarker
	if marker != nil {
		// RAISE LOG reaches the log unless log_min_messages is fatal or panic.
		var level string
		if err := marker.QueryRow(ctx, "SELECT current_setting('log_min_messages')").Scan(&level); err != nil || level == "fatal" || level == "panic" {
			marker = nil
		}
	}
	var out []Login
	for _, v := range vias {
		l := Login{Via: v}
		host := string(v)
		if v == ViaSocket {
			host = opts.SocketDir
		}
		var client netip.AddrPort
		reached := false
		dialer := &net.Dialer{}
		p := pgconnect.Params{Host: host, Port: uint16(opts.Port), User: opts.Role, Password: opts.Password, Database: db,
			SSLMode: pgconnect.SSLDisable, ApplicationName: "v6kit-verify-" + randomHex(6), ConnectTimeout: timeout,
			DialFunc: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dialer.DialContext(ctx, network, addr)
				if err == nil {
					reached = true
					if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
						client = a.AddrPort()
					}
				}
				return c, err
			}}
		cfg, err := p.Config()
		if err != nil {
			l.Err = fmt.Errorf("%w: as %q over %s: %w", ErrLogin, opts.Role, v, err)
			l.Error = l.Err.Error()
			out = append(out, l)
			continue
		}
		off := logSize(opts.ServerLog)
		cctx, cancel := context.WithTimeout(ctx, timeout)
		conn, err := pgx.ConnectConfig(cctx, cfg)
		var pid uint32
		if err == nil {
			pid = conn.PgConn().PID()
			var one int
			err = conn.QueryRow(cctx, "SELECT 1").Scan(&one)
			_ = conn.Close(cctx)
		}
		cancel()
		if err != nil {
			l.Err = fmt.Errorf("%w: as %q over %s: %w", ErrLogin, opts.Role, v, err)
			l.Error = l.Err.Error()
		} else {
			l.OK = true
		}
		switch {
		case opts.ServerLog == "":
			l.HBANote = "no server log to read"
		case lpErr != nil:
			l.HBANote = lpErr.Error()
		default:
			a := attempt{ok: l.OK, pid: int(pid), client: client, socket: v == ViaSocket, role: opts.Role, reached: reached}
			r := readAttribution(ctx, opts.ServerLog, off, lp, marker, a)
			l.Method, l.HBALine, l.HBANote = r.method, r.line, r.why
		}
		out = append(out, l)
	}
	return out
}

func logSize(name string) int64 {
	if name == "" {
		return 0
	}
	st, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return st.Size()
}

// readAttribution reads the log after off until the login's lines decide the matter:
// up to the marker line when marker is set (for at most 15 s: it comes unless the server
// is overloaded), else for at most 3 s.
func readAttribution(ctx context.Context, name string, off int64, lp *logPrefix, marker *pgx.Conn, a attempt) attribution {
	wait, mark := 3*time.Second, ""
	if marker != nil {
		mark = "v6kit-verify-mark-" + randomHex(8)
		if _, err := marker.Exec(ctx, "DO $$BEGIN RAISE LOG '"+mark+"'; END$$"); err != nil {
			mark = ""
		} else {
			wait = 15 * time.Second
		}
	}
	deadline := time.Now().Add(wait)
	for {
		v, err := readLog(name, off, lp, mark)
		if err != nil {
			return attribution{why: err.Error()}
		}
		r := v.attribute(a)
		if r.done {
			return r
		}
		if time.Now().After(deadline) {
			r.method, r.line = "", 0
			if r.why == "" {
				r.why = "the server log did not show this login in time"
			}
			return r
		}
		select {
		case <-ctx.Done():
			return attribution{why: ctx.Err().Error()}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readLog(name string, off int64, lp *logPrefix, marker string) (logView, error) {
	f, err := os.Open(name)
	if err != nil {
		return logView{}, fmt.Errorf("read the server log: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() < off {
		return logView{}, fmt.Errorf("the server log %s shrank (rotated?) during the login", name)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return logView{}, fmt.Errorf("read the server log: %w", err)
	}
	return scanLogLines(f, lp, marker), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Result is everything [Run] did or, under a dry run, would do.
type Result struct {
	DryRun  bool       `json:"dry_run"`
	Server  ServerInfo `json:"server"`
	HBA     HBAResult  `json:"hba"`
	Changes []Change   `json:"changes"`
	// Database is the database Run chose when Config.Database was empty: the one the
	// role owns. Empty when given, or when the role owns none or several.
	Database string             `json:"database,omitempty"`
	Budget   units.BudgetReport `json:"budget"`
	Logins   []Login            `json:"logins,omitempty"`
	Problems report.Problems    `json:"problems"`
}

// preflight refuses, before anything is changed, a role that exists as a superuser (or
// with replication or BYPASSRLS) and a database that exists owned by another role.
func preflight(ctx context.Context, conn *pgx.Conn, c Config) error {
	var super, repl, bypass bool
	err := conn.QueryRow(ctx, `SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1`, c.role()).Scan(&super, &repl, &bypass)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("pgsetup: read role %q: %w", c.role(), superuserHint(err))
	case super || repl || bypass:
		return fmt.Errorf("pgsetup: role %q is a superuser or has REPLICATION or BYPASSRLS: %w; nothing was changed", c.role(), ErrReserved)
	}
	if c.Database != "" {
		var owner string
		err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, c.Database).Scan(&owner)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("pgsetup: read database %q: %w", c.Database, err)
		case owner != c.role():
			return fmt.Errorf("pgsetup: database %q exists and is owned by %q, not %q: run ALTER DATABASE %s OWNER TO %s if Mastodon should own it; nothing was changed",
				c.Database, owner, c.role(), pgx.Identifier{c.Database}.Sanitize(), pgx.Identifier{c.role()}.Sanitize())
		}
	}
	return nil
}

// Run sets up PostgreSQL for Mastodon as c says: validate, connect with c.DSN, check the
// server version, the pg_hba.conf managed block, the role, the database, the budget
// against the live max_connections, and (c.Verify) logins as the role. Under dryRun
// nothing is written, created or reloaded; the result says what would change. The error
// is nil only when everything worked; the result is filled as far as Run got.
func Run(ctx context.Context, c Config, dryRun bool) (*Result, error) {
	res := &Result{DryRun: dryRun}
	res.Problems = c.Validate()
	if err := res.Problems.Err(); err != nil {
		return res, err
	}
	if c.DSN == "" {
		return res, fmt.Errorf("pgsetup: no DSN: give the superuser connection, e.g. \"host=/var/run/postgresql user=postgres\"")
	}
	params, err := pgconnect.ParseDSN(c.DSN)
	if err != nil {
		return res, fmt.Errorf("pgsetup: dsn: %w", err)
	}
	cfg, err := params.Config()
	if err != nil {
		return res, fmt.Errorf("pgsetup: dsn: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("pgsetup: connect as superuser: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if res.Server, err = Inspect(ctx, conn); err != nil {
		return res, err
	}
	if !res.Server.Superuser {
		return res, fmt.Errorf("pgsetup: %w", ErrNotSuperuser)
	}
	vp := CheckVersion(res.Server, c.MinPostgresMajor(), c.release())
	res.Problems = append(res.Problems, vp...)
	if err := vp.Err(); err != nil {
		return res, err
	}
	if c.Database == "" {
		owned, err := ownedDatabases(ctx, conn, c.role())
		if err != nil {
			return res, err
		}
		if len(owned) == 1 {
			c.Database = owned[0]
			res.Database = owned[0]
			res.Problems.Infof("database", "no database given: using %s, the database role %s owns", owned[0], c.role())
		} else {
			why := "owns no database"
			if len(owned) > 1 {
				why = "owns several (" + strings.Join(owned, ", ") + ")"
			}
			res.Problems.Warnf("database", ErrAllDatabases, "no database given and role %s %s: the pg_hba.conf rules allow it all databases, wider than Mastodon needs; give the database (DB_NAME, e.g. mastodon_production) to narrow them", c.role(), why)
		}
	}
	// Every check runs before the first change.
	if err := preflight(ctx, conn, c); err != nil {
		return res, err
	}
	if !c.SkipHBA {
		res.HBA, err = applyHBA(ctx, conn, c.HBAPath, c.BlockName(), c.HBARules(), dryRun, fsutil.LockOptions{NoWait: c.NoWait, Waiting: c.Waiting})
		res.Problems = append(res.Problems, res.HBA.Problems...)
		if err != nil {
			return res, err
		}
		if res.HBA.Changed {
			res.Changes = append(res.Changes, Change{What: "pg_hba.conf managed block", Detail: res.HBA.Path})
		}
	}
	ch, err := EnsureRole(ctx, conn, RoleSpec{Name: c.role(), Password: c.Password}, dryRun)
	res.Changes = append(res.Changes, ch...)
	if err != nil {
		return res, err
	}
	if c.Database != "" {
		ch, err := EnsureDatabase(ctx, conn, c.Database, c.role(), dryRun)
		res.Changes = append(res.Changes, ch...)
		if err != nil {
			return res, err
		}
	}
	var bp report.Problems
	res.Budget, bp = LiveBudget(res.Server, c.Budget)
	res.Problems = append(res.Problems, bp...)
	if c.Verify && !dryRun {
		if !res.Server.LogConnections {
			res.Problems.Infof("log_connections", "log_connections is off: the matched pg_hba.conf lines can't be told")
		}
		if c.ServerLog == "" {
			c.ServerLog = currentLogfile(ctx, conn)
		}
		// Checked here, as the server has it: VerifyLogins takes an empty prefix for the default.
		_, prefixErr := parseLogPrefix(res.Server.LogLinePrefix)
		if prefixErr != nil {
			res.Problems.Infof("log_line_prefix", "%v, so the matched pg_hba.conf lines are not reported", prefixErr)
			c.ServerLog = ""
		}
		via, note := c.verifyVia()
		if note != "" {
			res.Problems.Infof("verify", "%s", note)
		}
		if len(via) > 0 { // an empty Via would make VerifyLogins try every way
			res.Logins = VerifyLogins(ctx, VerifyOptions{Role: c.role(), Password: c.Password, Database: c.Database,
				Port: res.Server.Port, SocketDir: res.Server.SocketDir, ServerLog: c.ServerLog, Via: via,
				LogLinePrefix: res.Server.LogLinePrefix, LogMarker: conn})
		}
		if prefixErr != nil { // the log was not read for it: say why, not "no server log to read"
			for i := range res.Logins {
				res.Logins[i].HBANote = prefixErr.Error()
			}
		}
		var errs []error
		for _, l := range res.Logins {
			if !l.OK {
				errs = append(errs, l.Err)
			}
		}
		if len(errs) > 0 {
			return res, errors.Join(errs...)
		}
	}
	return res, nil
}

// currentLogfile is the server's log file when a logging collector writes one and it is
// readable from here (pgsetup runs on the database host), else "".
func currentLogfile(ctx context.Context, conn *pgx.Conn) string {
	var name, dataDir *string
	if err := conn.QueryRow(ctx, `SELECT pg_current_logfile('stderr'), current_setting('data_directory')`).Scan(&name, &dataDir); err != nil || name == nil || dataDir == nil {
		return ""
	}
	p := *name
	if !filepath.IsAbs(p) {
		p = filepath.Join(*dataDir, p)
	}
	if f, err := os.Open(p); err == nil {
		f.Close()
		return p
	}
	return ""
}

// verifyVia lists the logins that can work from this process: TCP unless the rules are
// socket-only, and the socket when peer would accept this OS user (or trust is on).
// Without a password, scram-sha-256 can't admit anyone over TCP: those logins are left
// out with a note rather than reported as failures.
func (c Config) verifyVia() (v []Via, note string) {
	var notes []string
	switch {
	case c.auth() == Peer:
	case c.auth() == ScramSHA256 && c.Password == "":
		notes = append(notes, "TCP logins not tried: no password given, so scram-sha-256 over ::1 and 127.0.0.1 can't admit the role; give --password-file to verify them")
	default:
		v = append(v, ViaIPv6)
		if !c.NoIPv4 {
			v = append(v, ViaIPv4)
		}
	}
	if u, err := user.Current(); c.auth() == Trust || err == nil && u.Username == c.osUser() {
		v = append(v, ViaSocket)
	} else {
		notes = append(notes, fmt.Sprintf("socket login not tried: peer lets in only the OS user %q, and this process runs as another user", c.osUser()))
	}
	return v, strings.Join(notes, "; ")
}

// ownedDatabases lists the databases role owns, by name (none when the role doesn't
// exist yet).
func ownedDatabases(ctx context.Context, conn *pgx.Conn, role string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = $1 AND d.datallowconn AND NOT d.datistemplate ORDER BY 1", role)
	if err != nil {
		return nil, fmt.Errorf("pgsetup: list the databases %s owns: %w", role, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgsetup: list the databases %s owns: %w", role, err)
	}
	return names, nil
}
