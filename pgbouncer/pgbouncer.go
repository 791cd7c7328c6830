// Package pgbouncer renders PgBouncer for Mastodon — pgbouncer.ini in transaction pooling
// mode listening on IPv6, and its userlist.txt — together with the .env.production values
// the app needs behind it and the two-sided connection budget.
//
// It exists because PgBouncer in front of Mastodon is three settings that must move
// together (pool_mode = transaction, DB_PORT=6432, PREPARED_STATEMENTS=false; migrations
// go to 5432 directly) and a budget with two sides: the app's pools against
// max_client_conn, PgBouncer's server pools against PostgreSQL's max_connections
// ([units.PoolerBudget]). The userlist holds the role's SCRAM verifier — the same one
// PostgreSQL stores — so PgBouncer never holds the password and logs in to the server
// with the client's SCRAM keys.
package pgbouncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/files"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

// Sentinels, one per rule.
var (
	ErrListen   = errors.New("invalid listen address: give addresses of this host without a zone")
	ErrServer   = errors.New("invalid server address: give PostgreSQL's address without a zone")
	ErrPort     = errors.New("invalid port: use 1-65535")
	ErrName     = errors.New("invalid name: use lower-case letters, digits and '_', starting with a letter, at most 63 bytes")
	ErrVerifier = errors.New("invalid verifier: give the role's SCRAM-SHA-256 verifier (pgsetup.SCRAMVerifier), the one PostgreSQL stores")
	ErrSocket   = errors.New("invalid unix socket directory: give an absolute path without blanks or quotes")
	ErrClientIP = errors.New("invalid client address for DB_HOST: give one of the listen addresses that is not loopback, or a DNS name")
)

// Config is one PgBouncer in front of one Mastodon database. Verifier is required.
type Config struct {
	// Release is the target Mastodon release. Zero: mastodon.Newest().
	Release mastodon.Release
	// Listen are the addresses PgBouncer listens on. Zero: ::1.
	Listen []netip.Addr
	// Port is listen_port. Zero: 6432.
	Port int
	// Server is PostgreSQL's address. Zero: ::1.
	Server netip.Addr
	// ServerPort is PostgreSQL's port. Zero: 5432.
	ServerPort int
	// DBName and User are the database and role. Zero: mastodon_production, mastodon.
	DBName, User string
	// Verifier is the role's SCRAM-SHA-256 verifier, written to userlist.txt.
	Verifier string
	// Pool holds max_client_conn, default_pool_size and reserve_pool_size (its Pools is
	// 1: one database, one user) and the app's pools, checked on both sides.
	Pool units.PoolerBudget
	// SocketDir is unix_socket_dir. Zero: /var/run/postgresql (Debian's).
	SocketDir string
	// UserlistPath is auth_file. Zero: /etc/pgbouncer/userlist.txt.
	UserlistPath string
	// ClientAddr is DB_HOST for the app hosts. Zero: the first non-loopback listen address.
	ClientAddr netip.Addr
}

func (c Config) release() mastodon.Release {
	return c.Release.OrNewest()
}

var loop6 = netip.MustParseAddr("::1")

func (c Config) listen() []netip.Addr {
	if len(c.Listen) == 0 {
		return []netip.Addr{loop6}
	}
	return c.Listen
}
func (c Config) port() int            { return or(c.Port, mastodon.DefaultPgBouncerPort) }
func (c Config) serverPort() int      { return or(c.ServerPort, mastodon.DefaultPostgresPort) }
func (c Config) dbName() string       { return orS(c.DBName, mastodon.DefaultDBName) }
func (c Config) user() string         { return orS(c.User, mastodon.DefaultDBUser) }
func (c Config) socketDir() string    { return orS(c.SocketDir, "/var/run/postgresql") }
func (c Config) userlistPath() string { return orS(c.UserlistPath, "/etc/pgbouncer/userlist.txt") }
func (c Config) server() netip.Addr {
	if c.Server.IsValid() {
		return c.Server
	}
	return loop6
}

func or(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orS(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// pool is the budget with this PgBouncer's one pool.
func (c Config) pool() units.PoolerBudget {
	p := c.Pool
	p.Pools = 1
	return p
}

var (
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)
	pathRE     = regexp.MustCompile(`^/[A-Za-z0-9_./-]*$`)
)

func (c Config) clientAddr() netip.Addr {
	if c.ClientAddr.IsValid() {
		return c.ClientAddr
	}
	for _, a := range c.listen() {
		if !a.IsLoopback() {
			return a
		}
	}
	return c.listen()[0]
}

// Validate reports every problem at once, the budget's included.
func (c Config) Validate() report.Problems {
	var ps report.Problems
	for i, a := range c.Listen {
		path := fmt.Sprintf("listen[%d]", i)
		switch {
		case !a.IsValid() || a.Zone() != "" || a.IsMulticast() || a.Is4In6():
			bad(&ps, path, ErrListen, "%q", a)
		case slices.Contains(c.Listen[:i], a):
			bad(&ps, path, ErrListen, "%s is listed twice", a)
		}
	}
	if s := c.Server; s.IsValid() && (s.Zone() != "" || s.IsUnspecified() || s.IsMulticast() || s.Is4In6()) {
		bad(&ps, "server", ErrServer, "%q", s)
	}
	for path, v := range map[string]int{"port": c.Port, "server_port": c.ServerPort} {
		if v < 0 || v > 65535 {
			bad(&ps, path, ErrPort, "%d", v)
		}
	}
	if c.port() == c.serverPort() && slices.Contains(c.listen(), c.server()) {
		bad(&ps, "port", ErrPort, "PgBouncer and PostgreSQL would both listen on [%s]:%d; keep PgBouncer on 6432", c.server(), c.port())
	}
	for path, v := range map[string]string{"db_name": c.dbName(), "user": c.user()} {
		if !nameRE.MatchString(v) {
			bad(&ps, path, ErrName, "%q", v)
		}
	}
	if !verifierRE.MatchString(c.Verifier) {
		bad(&ps, "verifier", ErrVerifier, "got %d characters not of the form SCRAM-SHA-256$iter:salt$stored:server", len(c.Verifier))
	}
	for path, v := range map[string]string{"socket_dir": c.socketDir(), "userlist_path": c.userlistPath()} {
		if !pathRE.MatchString(v) {
			bad(&ps, path, ErrSocket, "%q", v)
		}
	}
	if c.ClientAddr.IsValid() && !slices.Contains(c.listen(), c.ClientAddr) {
		bad(&ps, "client_addr", ErrClientIP, "%s is not one of %v", c.ClientAddr, c.listen())
	}
	ps = append(ps, c.pool().Validate()...)
	return ps.Sorted()
}

// Budget is the two-sided budget this configuration is checked against.
func (c Config) Budget() units.PoolerReport { return c.pool().Compute() }

// Write validates the configuration and renders pgbouncer.ini.
func (c Config) Write(w io.Writer) error {
	if err := c.Validate().Err(); err != nil {
		return err
	}
	p := c.pool()
	r := p.Compute()
	var b bytes.Buffer
	b.WriteString("; PgBouncer for Mastodon, generated by v6kit pgbouncer.\n")
	fmt.Fprintf(&b, "; %s\n; %s\n", r.ClientFormula, r.ServerFormula)
	b.WriteString("[databases]\n")
	fmt.Fprintf(&b, "%s = host=%s port=%d dbname=%s\n", c.dbName(), c.server(), c.serverPort(), c.dbName())
	b.WriteString("\n[pgbouncer]\n")
	ls := make([]string, len(c.listen()))
	for i, a := range c.listen() {
		ls[i] = a.String()
	}
	fmt.Fprintf(&b, "listen_addr = %s\nlisten_port = %d\n", strings.Join(ls, ","), c.port())
	fmt.Fprintf(&b, "unix_socket_dir = %s\n", c.socketDir())
	b.WriteString("auth_type = scram-sha-256\n")
	fmt.Fprintf(&b, "auth_file = %s\n", c.userlistPath())
	b.WriteString("; Mastodon sets PREPARED_STATEMENTS=false: a transaction may get another server connection.\n")
	b.WriteString("pool_mode = transaction\n")
	fmt.Fprintf(&b, "max_client_conn = %d\n", r.MaxClientConn)
	fmt.Fprintf(&b, "default_pool_size = %d\n", or(p.DefaultPoolSize, 20))
	fmt.Fprintf(&b, "reserve_pool_size = %d\n", p.ReservePoolSize)
	fmt.Fprintf(&b, "max_db_connections = %d\n", r.PerPool)
	b.WriteString("; Rails sets no application_name since 4.1.1; keep the client's in pg_stat_activity.\n")
	b.WriteString("application_name_add_host = 1\n")
	b.WriteString("ignore_startup_parameters = extra_float_digits\n")
	_, err := w.Write(b.Bytes())
	return err
}

// Userlist renders userlist.txt: the role and its SCRAM verifier. Write it 0640, owned
// by PgBouncer's group.
func (c Config) Userlist() ([]byte, error) {
	if err := c.Validate().Err(); err != nil {
		return nil, err
	}
	return []byte(strconv.Quote(c.user()) + " " + strconv.Quote(c.Verifier) + "\n"), nil
}

// Bytes is Write into a byte slice.
func (c Config) Bytes() ([]byte, error) {
	var b bytes.Buffer
	err := c.Write(&b)
	return b.Bytes(), err
}

// WriteFiles validates the configuration and writes pgbouncer.ini and userlist.txt
// (both 0640) all or nothing, by the rules of package files: each file under its own
// lock and both under the set's lock (.v6kit-pgbouncer.lock beside ini), so a second
// run waits, then writes the pair in turn; both are staged before either is replaced,
// and a failed replacement puts back the other. It returns one Result per file (ini,
// then userlist); what an interrupted run left behind is said in the first one's Notes.
func (c Config) WriteFiles(ini, userlist string) ([]files.Result, error) {
	a, err := c.Bytes()
	if err != nil {
		return nil, err
	}
	u, err := c.Userlist()
	if err != nil {
		return nil, err
	}
	res, err := fsutil.WriteSet(context.Background(), "pgbouncer", filepath.Dir(ini), fsutil.LockOptions{}, []fsutil.SetFile{
		{Path: ini, Data: a, Opt: fsutil.Options{Mode: 0o640, Secret: true}},
		{Path: userlist, Data: u, Opt: fsutil.Options{Mode: 0o640, Secret: true}},
	})
	if err != nil {
		return res, fmt.Errorf("pgbouncer: write %s and %s: %w", ini, userlist, err)
	}
	return res, nil
}

// EnvVar is one .env.production entry; envfile.Var(e) converts it.
type EnvVar struct {
	Key, Value string
}

// Env returns what the app hosts set to go through PgBouncer: DB_HOST, DB_PORT,
// PREPARED_STATEMENTS=false. Migrations bypass it: see [Config.MigrateCommand].
func (c Config) Env() ([]EnvVar, report.Problems) {
	ps := c.Validate()
	if ps.HasErrors() {
		return nil, ps
	}
	a := c.clientAddr()
	if a.IsLoopback() && len(c.Listen) > 0 {
		ps.Warnf("client_addr", ErrClientIP, "DB_HOST %s reaches PgBouncer only from its own host", a)
	}
	if c.release().DBHostColonBroken() && strings.HasPrefix(a.String(), ":") {
		bad(&ps, "client_addr", ErrClientIP, "DB_HOST %s starts with ':', which config/database.yml turns into a Ruby symbol", a)
		return nil, ps
	}
	env := []EnvVar{{"DB_HOST", a.String()}, {"DB_PORT", strconv.Itoa(c.port())}}
	if c.release().PgBouncerNeedsPreparedStatementsOff() {
		env = append(env, EnvVar{"PREPARED_STATEMENTS", "false"})
	}
	return env, ps
}

// MigrateCommand is the migration command, straight to PostgreSQL (DB_HOST=Server,
// DB_PORT=ServerPort): DDL and advisory locks need a session.
func (c Config) MigrateCommand() string {
	cmd := c.release().PgBouncerMigrateCommand()
	return strings.Replace(cmd, "DB_PORT=5432", fmt.Sprintf("DB_HOST=%s DB_PORT=%d", c.server(), c.serverPort()), 1)
}

// bad adds an error whose message ends with the rule's fix (the sentinel's text).
func bad(ps *report.Problems, path string, sentinel error, format string, args ...any) {
	ps.Errorf(path, sentinel, "%s: %v", fmt.Sprintf(format, args...), sentinel)
}
