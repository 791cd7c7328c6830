// Package pgsetup sets up PostgreSQL for a Mastodon host over IPv6: a managed block of
// pg_hba.conf rules ([HBAFile], [HBARule]), the role and its database through pgx, logins
// verified over ::1, 127.0.0.1 and the socket, the server version checked against the
// Mastodon release, a tuning snippet ([Tuning]), the listen_addresses snippet written as
// IP literals ([Listen]) and the connection budget against the live max_connections.
//
// It exists because every installer in the field either leaves pg_hba.conf alone or sets
// "trust" for loopback, creates the role by hand, and never checks that web, sidekiq and
// streaming pools fit max_connections. pgsetup's defaults are peer over the socket for the
// Mastodon OS user and scram-sha-256 over ::1/128 and 127.0.0.1/32; the password is sent
// to the server only as a SCRAM verifier computed here, so the plaintext never reaches
// the server or its logs; every candidate pg_hba.conf is checked by the server's own
// pg_hba_file_rules before it is reloaded, and the old file is put back on any error.
// Its connections are built from [Config] alone (internal/pgconnect): PG* environment
// variables, ~/.pgpass and service files never change them. [VerifyLogins] reports the
// pg_hba.conf line a login matched only from that login's own log lines, else "unknown"
// with the reason.
package pgsetup

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/v6kit/v6kit/internal/pgconnect"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

// Config is what pgsetup sets up. The zero value (plus a DSN) sets up role "mastodon"
// with peer over the socket and scram-sha-256 over ::1 and 127.0.0.1, for the newest
// Mastodon release.
type Config struct {
	// DSN is the superuser connection pgsetup itself uses ("host=/var/run/postgresql
	// user=postgres", or a URL). Required by [Run]. Only what it says counts: PG*
	// environment variables, ~/.pgpass and service files are never read; a missing host
	// is /var/run/postgresql, a missing user the OS user, sslmode prefer (libpq's
	// defaults). Keys that would read files or change the session (service, passfile,
	// options …) are refused.
	DSN string
	// Role is the role Mastodon logs in as (DB_USER). Empty: "mastodon".
	Role string
	// Database is created, owned by Role, when set (DB_NAME, e.g. "mastodon_production").
	// Empty: no database is created (Mastodon's db:setup creates it, the role has
	// CREATEDB). The pg_hba rules name this database and "postgres" (where Mastodon's
	// setup connects first), or "all" when empty.
	Database string
	// OSUser is the operating-system user Mastodon runs as, who logs in over the socket
	// with peer. Empty: Role. Peer needs the two to be equal (no pg_ident map is written).
	OSUser string
	// Auth is the method of the TCP rules: scram-sha-256 (empty), trust (loopback only,
	// with a warning), or peer (socket only: no TCP rules are written).
	Auth Method
	// Allow lists remote prefixes of app hosts (split topologies), given scram-sha-256
	// rules next to the loopback ones. Empty: loopback only.
	Allow []netip.Prefix
	// NoIPv4 leaves out the 127.0.0.1/32 rule (IPv6-only hosts). Zero: both loopbacks.
	NoIPv4 bool
	// Password is the role's password; pgsetup sends only its SCRAM verifier. Empty:
	// the password is left as it is (a new role gets none: socket peer only).
	Password string
	// HBAPath is the pg_hba.conf to manage. Empty: the server's hba_file setting, which
	// works when pgsetup runs on the database host.
	HBAPath string
	// SkipHBA leaves pg_hba.conf alone (a managed database service).
	SkipHBA bool
	// Release is the target Mastodon release (minimum PostgreSQL version). Zero:
	// [mastodon.Newest].
	Release mastodon.Release
	// MinPostgres overrides the release's minimum PostgreSQL major version. Zero: from Mastodon.
	MinPostgres int
	// Budget is the deployment's connection pools; MaxConnections and SuperuserReserved
	// are taken from the live server.
	Budget units.Budget
	// ServerLog is the server's log file, read to tell which pg_hba line each login
	// matched (needs log_connections=on). Empty: pg_current_logfile() when the server
	// runs a logging collector, else the line stays unknown.
	ServerLog string
	// Verify logs in as the role over ::1, 127.0.0.1 and the socket (where this process
	// can: peer admits only the OS user, and scram-sha-256 over TCP needs Password; a
	// login left out is noted as info) after the changes, at the server's port and
	// first socket directory.
	Verify bool
	// NoWait makes [Run] fail at once, naming the holder's PID, when another run holds
	// pg_hba.conf's lock (--no-wait); otherwise it waits, bounded.
	NoWait bool `json:"-"`
	// Waiting, if set, is told once that another run (pid, 0 if unknown) holds lock,
	// before [Run] waits for it.
	Waiting func(lock string, pid int) `json:"-"`
}

func (c Config) role() string {
	if c.Role == "" {
		return mastodon.DefaultDBUser
	}
	return c.Role
}

func (c Config) osUser() string {
	if c.OSUser == "" {
		return c.role()
	}
	return c.OSUser
}

func (c Config) auth() Method {
	if c.Auth == "" {
		return ScramSHA256
	}
	return c.Auth
}

func (c Config) release() mastodon.Release {
	return c.Release.OrNewest()
}

// MinPostgresMajor is the minimum PostgreSQL major version in force: MinPostgres, else
// the Mastodon release's (0: no minimum).
func (c Config) MinPostgresMajor() int {
	if c.MinPostgres != 0 {
		return c.MinPostgres
	}
	return c.release().MinPostgres()
}

// BlockName is the name of the managed pg_hba.conf block: "mastodon" plus the role when
// it is not "mastodon", so several roles can each own a block.
func (c Config) BlockName() string {
	if c.role() == "mastodon" {
		return "mastodon"
	}
	return "mastodon role " + c.role()
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() report.Problems {
	var ps report.Problems
	if c.DSN != "" {
		if _, err := pgconnect.ParseDSN(c.DSN); err != nil {
			ps.Errorf("dsn", ErrDSN, "%s", strings.TrimPrefix(err.Error(), "pgconnect: "))
		}
	}
	checkName(&ps, "role", c.Role, "mastodon")
	if r := strings.ToLower(c.role()); slices.Contains(reservedRoles, r) {
		ps.Errorf("role", ErrReserved, "%q is PostgreSQL's own (a superuser or a reserved role name): Mastodon's role must be an ordinary role such as \"mastodon\"", c.role())
	}
	if c.Database != "" {
		checkName(&ps, "database", c.Database, "")
		if d := strings.ToLower(c.Database); d == "postgres" || strings.HasPrefix(d, "template") {
			ps.Errorf("database", ErrReserved, "%q is one of PostgreSQL's own databases (postgres, template0, template1): give Mastodon's, such as \"mastodon_production\"", c.Database)
		}
	}
	switch c.auth() {
	case ScramSHA256:
	case Peer:
		if len(c.Allow) > 0 {
			ps.Errorf("allow", ErrMethod, "peer works over the local socket only; remote prefixes need scram-sha-256")
		}
	case Trust:
		ps.Warnf("auth", ErrTrust, "trust over ::1 and 127.0.0.1 lets every process and user on this host log in as %q without a password, and read or destroy the whole Mastodon database; use scram-sha-256", c.role())
		if len(c.Allow) > 0 {
			ps.Errorf("allow", ErrTrust, "trust is never written for remote prefixes: anyone on %s could log in as %q; use scram-sha-256", c.Allow[0], c.role())
		}
	default:
		ps.Errorf("auth", ErrMethod, "%q: use scram-sha-256, peer or trust", c.Auth)
	}
	if c.osUser() != c.role() {
		ps.Errorf("os_user", ErrName, "peer needs the OS user (%q) to equal the role (%q); name the role after the OS user", c.osUser(), c.role())
	}
	for i, p := range c.Allow {
		path := fmt.Sprintf("allow[%d]", i)
		switch {
		case !p.IsValid():
			ps.Errorf(path, ErrPrefix, "invalid prefix")
		case p != p.Masked():
			ps.Errorf(path, ErrPrefix, "%s has host bits set: write %s", p, p.Masked())
		case p.Addr().Zone() != "":
			ps.Errorf(path, ErrPrefix, "%s has a zone; write the prefix without %%%s", p, p.Addr().Zone())
		case p.Bits() == 0:
			ps.Errorf(path, ErrPrefix, "%s matches every address; give the app hosts' prefix", p)
		case p.Addr().Is4() && p.Bits() < 8 || p.Addr().Is6() && p.Bits() < 16:
			ps.Warnf(path, ErrPrefix, "%s is very wide; give the app hosts' own prefix", p)
		}
	}
	if c.Password != "" {
		ps = append(ps, checkPassword("password", c.Password)...)
	}
	if c.MinPostgres < 0 {
		ps.Errorf("min_postgres", ErrServerTooOld, "min_postgres is %d: give a major version such as 14, or 0 for the Mastodon release's", c.MinPostgres)
	}
	return ps
}

// reservedRoles are names Mastodon's role must never have: the bootstrap superuser and
// the names PostgreSQL reserves (pg_* is refused by checkName).
var reservedRoles = []string{"postgres", "public", "none", "current_user", "current_role", "session_user"}

func checkName(ps *report.Problems, path, name, def string) {
	if name == "" && def != "" {
		name = def
	}
	checkHBAName(ps, path, name)
	if slices.Contains(hbaKeywords, name) || strings.HasPrefix(name, "+") || strings.HasPrefix(name, "@") || strings.HasPrefix(name, "pg_") {
		ps.Errorf(path, ErrName, "%q is a pg_hba.conf keyword or a reserved prefix; choose another name", name)
	}
	if endsInBackslash(name) {
		ps.Errorf(path, ErrName, "%q ends in a backslash, which would continue the managed block's marker line in pg_hba.conf onto the next line; choose another name", name)
	}
}

func checkPassword(path, pw string) report.Problems {
	var ps report.Problems
	if strings.ContainsFunc(pw, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
		ps.Errorf(path, ErrPassword, "the password holds control or non-ASCII characters (SCRAM's SASLprep would change it); use printable ASCII")
	} else if len(pw) < 16 {
		ps.Warnf(path, ErrPassword, "the password has %d characters; use 16 or more random ones", len(pw))
	}
	return ps
}

// HBARules returns the managed block's rules for this configuration: peer over the
// socket for the role, then scram-sha-256 (or trust) rules for ::1/128, 127.0.0.1/32 and
// each Allow prefix.
func (c Config) HBARules() []HBARule {
	dbs := []string{"all"}
	if c.Database != "" {
		dbs = []string{c.Database, mastodon.SetupDatabase}
	}
	users := []string{c.role()}
	local := Peer
	if c.auth() == Trust {
		local = Trust
	}
	rules := []HBARule{{Type: Local, Databases: dbs, Users: users, Method: local}}
	if c.auth() == Peer {
		return rules
	}
	prefixes := []netip.Prefix{netip.MustParsePrefix("::1/128")}
	if !c.NoIPv4 {
		prefixes = append(prefixes, netip.MustParsePrefix("127.0.0.1/32"))
	}
	for _, p := range c.Allow {
		if !slices.Contains(prefixes, p) {
			prefixes = append(prefixes, p)
		}
	}
	for _, p := range prefixes {
		m := c.auth()
		if !p.Addr().IsLoopback() {
			m = ScramSHA256
		}
		rules = append(rules, HBARule{Type: Host, Databases: dbs, Users: users, Address: p, Method: m})
	}
	return rules
}
