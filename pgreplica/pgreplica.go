// Package pgreplica renders a PostgreSQL primary and a streaming read replica for
// Mastodon over IPv6, and the REPLICA_* values that route Mastodon's reads to it.
//
// It exists because the pieces have to agree across two hosts and a Mastodon release:
// the primary's wal settings, a replication slot and a pg_hba "replication" rule for the
// replicas' prefix (scram-sha-256), the replica's primary_conninfo with the primary's
// IPv6 address quoted twice over (once for libpq, once for postgresql.conf) and its
// standby.signal, and REPLICA_DB_* variables that the target release actually reads —
// none before 4.2.0, and from 4.2.0 to 4.5.3 REPLICA_DB_HOST alone does not turn the
// replica on, so [Config.Env] always writes REPLICA_DB_NAME.
//
// [Config.PrimaryConf], [Config.HBA], [Config.SetupSQL] are for the primary;
// [Config.ReplicaConf] and [StandbySignal] for the replica; [Config.Env] for the app hosts.
package pgreplica

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/report"
)

// Sentinels, one per rule.
var (
	ErrPrimary  = errors.New("invalid primary address: give the primary's IPv6 (or IPv4) address without a zone")
	ErrReplica  = errors.New("invalid replica address: give the replica's address without a zone")
	ErrPrefix   = errors.New("invalid replica prefix: give the prefix the replicas connect from, e.g. fd00:db::/64, with no host bits")
	ErrPort     = errors.New("invalid port: use 1-65535")
	ErrName     = errors.New("invalid name: use lower-case letters, digits and '_', starting with a letter, at most 63 bytes")
	ErrPassword = errors.New("invalid replication password: use 16 or more printable ASCII characters without blanks, quotes or backslashes")
	ErrSSLMode  = errors.New("invalid sslmode: use disable, allow, prefer, require, verify-ca or verify-full")
	ErrRelease  = errors.New("this Mastodon release has no read-replica settings in .env.production: upgrade to 4.2 or newer, or leave the replica out of the env")
	ErrDBHost   = errors.New("a DB host starting with ':' becomes a Ruby symbol in config/database.yml: use the replica's non-loopback address or a DNS name")
)

// Config is one primary and one streaming replica. Primary, Replica, ReplicaPrefix and
// Password are required; every other zero value has the default its doc names.
type Config struct {
	// Release is the target Mastodon release. Zero: mastodon.Newest().
	Release mastodon.Release
	// Primary is the primary's address the replica connects to.
	Primary netip.Addr
	// Port is the primary's and the replica's PostgreSQL port. Zero: 5432.
	Port int
	// Replica is the replica's address (its listen_addresses, and REPLICA_DB_HOST).
	Replica netip.Addr
	// ReplicaPrefix is the prefix the replicas connect from: the pg_hba replication rule.
	ReplicaPrefix netip.Prefix
	// User is the replication role. Zero: "replicator".
	User string
	// Password is the replication role's password (it sits in primary_conninfo, so the
	// replica's snippet is written 0600).
	Password string
	// Slot is the physical replication slot. Zero: "mastodon_replica".
	Slot string
	// SSLMode is primary_conninfo's sslmode. Zero: "prefer".
	SSLMode string
	// MaxWalSenders is the primary's max_wal_senders (and max_replication_slots). Zero: 10.
	MaxWalSenders int
	// DBName and DBUser are what the app reads the replica as. Zero: Mastodon's defaults
	// (mastodon_production, mastodon).
	DBName, DBUser string
	// ClientPort is REPLICA_DB_PORT, when the app reaches the replica through a pooler
	// (PgBouncer on 6432, say). Zero: Port.
	ClientPort int
	// PreparedStatements false writes REPLICA_PREPARED_STATEMENTS=false (4.4+), needed
	// when ClientPort is a PgBouncer in transaction mode. Zero (nil): not written.
	PreparedStatements *bool
}

func (c Config) release() mastodon.Release {
	return c.Release.OrNewest()
}

func (c Config) port() int       { return or(c.Port, mastodon.DefaultPostgresPort) }
func (c Config) clientPort() int { return or(c.ClientPort, c.port()) }
func (c Config) user() string    { return orS(c.User, "replicator") }
func (c Config) slot() string    { return orS(c.Slot, "mastodon_replica") }
func (c Config) sslmode() string { return orS(c.SSLMode, "prefer") }
func (c Config) senders() int    { return or(c.MaxWalSenders, 10) }
func (c Config) dbName() string  { return orS(c.DBName, mastodon.DefaultDBName) }
func (c Config) dbUser() string  { return orS(c.DBUser, mastodon.DefaultDBUser) }

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

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func checkAddr(ps *report.Problems, path string, a netip.Addr, sentinel error) {
	if !a.IsValid() || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || a.Is4In6() {
		bad(ps, path, sentinel, "%q: give a unicast address without a zone (IPv4-mapped addresses are written as IPv4)", a)
	}
}

// Validate reports every problem at once.
func (c Config) Validate() report.Problems {
	var ps report.Problems
	checkAddr(&ps, "primary", c.Primary, ErrPrimary)
	checkAddr(&ps, "replica", c.Replica, ErrReplica)
	p := c.ReplicaPrefix
	switch {
	case !p.IsValid() || p != p.Masked():
		bad(&ps, "replica_prefix", ErrPrefix, "%q", p)
	case c.Replica.IsValid() && !p.Contains(c.Replica):
		bad(&ps, "replica_prefix", ErrPrefix, "%s does not contain the replica %s: the primary would refuse its replication login", p, c.Replica)
	}
	for path, v := range map[string]int{"port": c.Port, "client_port": c.ClientPort} {
		if v < 0 || v > 65535 {
			bad(&ps, path, ErrPort, "%d", v)
		}
	}
	if c.MaxWalSenders < 0 {
		bad(&ps, "max_wal_senders", ErrPort, "%d: it must be zero (10) or positive", c.MaxWalSenders)
	}
	for path, v := range map[string]string{"user": c.user(), "slot": c.slot(), "db_name": c.dbName(), "db_user": c.dbUser()} {
		if !nameRE.MatchString(v) {
			bad(&ps, path, ErrName, "%q", v)
		}
	}
	switch pw := c.Password; {
	case strings.ContainsFunc(pw, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"'\`, r) }):
		bad(&ps, "password", ErrPassword, "the password holds blanks, quotes, backslashes, control or non-ASCII characters")
	case len(pw) < 16:
		bad(&ps, "password", ErrPassword, "the password has %d characters", len(pw))
	}
	switch c.sslmode() {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		bad(&ps, "sslmode", ErrSSLMode, "%q", c.SSLMode)
	}
	return ps.Sorted()
}

// conninfoQuote quotes a libpq keyword/value: single quotes, backslash-escaped.
func conninfoQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// confQuote quotes a postgresql.conf string value (” doubles a quote).
func confQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// PrimaryConninfo is the replica's primary_conninfo value (libpq keyword/value form,
// before postgresql.conf quoting): host is the primary's bare address, quoted.
func (c Config) PrimaryConninfo() string {
	kv := [][2]string{{"host", c.Primary.String()}, {"port", strconv.Itoa(c.port())}, {"user", c.user()},
		{"password", c.Password}, {"application_name", c.slot()}, {"sslmode", c.sslmode()}}
	parts := make([]string, len(kv))
	for i, p := range kv {
		parts[i] = p[0] + "=" + conninfoQuote(p[1])
	}
	return strings.Join(parts, " ")
}

func header(b *bytes.Buffer, what string) {
	fmt.Fprintf(b, "# %s, generated by v6kit pgreplica.\n", what)
}

// PrimaryConf renders the primary's postgresql.conf snippet (conf.d): listen on the
// primary's address and ::1, wal_level replica, wal senders and slots.
func (c Config) PrimaryConf() ([]byte, error) {
	if err := c.Validate().Err(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header(&b, "PostgreSQL primary for a streaming replica")
	fmt.Fprintf(&b, "listen_addresses = %s\n", confQuote(listen(c.Primary)))
	fmt.Fprintf(&b, "port = %d\n", c.port())
	b.WriteString("wal_level = replica\n")
	fmt.Fprintf(&b, "max_wal_senders = %d\nmax_replication_slots = %d\n", c.senders(), c.senders())
	b.WriteString("# The slot keeps WAL until the replica has it; watch pg_replication_slots on a replica that stays away.\n")
	b.WriteString("wal_keep_size = '256MB'\n")
	return b.Bytes(), nil
}

func listen(a netip.Addr) string {
	if a.IsLoopback() {
		return a.String()
	}
	if a.Is4() {
		return "127.0.0.1, " + a.String()
	}
	return "::1, " + a.String()
}

// HBA is the primary's pg_hba rule for replication: the replication role from the
// replicas' prefix, scram-sha-256.
func (c Config) HBA() []pgsetup.HBARule {
	return []pgsetup.HBARule{{Type: pgsetup.Host, Databases: []string{"replication"}, Users: []string{c.user()},
		Address: c.ReplicaPrefix, Method: pgsetup.ScramSHA256}}
}

// SetupSQL is what the primary's superuser runs once: the replication role (given the
// password's SCRAM verifier, so the password never reaches the server's log) and the slot.
// verifier is pgsetup.SCRAMVerifier(c.Password, nil).
func (c Config) SetupSQL(verifier string) ([]string, error) {
	if err := c.Validate().Err(); err != nil {
		return nil, err
	}
	if !pgsetup.VerifierMatches(verifier, c.Password) {
		return nil, fmt.Errorf("pgreplica: the verifier was not made from the replication password: compute it with pgsetup.SCRAMVerifier")
	}
	u := c.user()
	return []string{
		fmt.Sprintf(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN CREATE ROLE %s WITH REPLICATION LOGIN; END IF; END $$`, confQuote(u), u),
		fmt.Sprintf("ALTER ROLE %s WITH REPLICATION LOGIN PASSWORD %s", u, confQuote(verifier)),
		fmt.Sprintf("SELECT pg_create_physical_replication_slot(%s) WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = %s)", confQuote(c.slot()), confQuote(c.slot())),
	}, nil
}

// ReplicaConf renders the replica's postgresql.conf snippet: primary_conninfo (holding
// the replication password: write it 0600), the slot, hot_standby, and listen on the
// replica's address. The data directory also needs [StandbySignal].
func (c Config) ReplicaConf() ([]byte, error) {
	if err := c.Validate().Err(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header(&b, "PostgreSQL streaming replica")
	fmt.Fprintf(&b, "listen_addresses = %s\n", confQuote(listen(c.Replica)))
	fmt.Fprintf(&b, "port = %d\n", c.port())
	fmt.Fprintf(&b, "primary_conninfo = %s\n", confQuote(c.PrimaryConninfo()))
	fmt.Fprintf(&b, "primary_slot_name = %s\n", confQuote(c.slot()))
	b.WriteString("hot_standby = on\n")
	b.WriteString("# Mastodon's reads may run long; tell the primary which rows they still see.\nhot_standby_feedback = on\n")
	return b.Bytes(), nil
}

// StandbySignal is the name of the empty file in the replica's data directory that makes
// PostgreSQL (12+) start as a standby.
const StandbySignal = "standby.signal"

// EnvVar is one .env.production entry; envfile.Var(e) converts it.
type EnvVar struct {
	Key, Value string
}

// Env returns the REPLICA_* entries that route the release's reads to the replica:
// REPLICA_DB_HOST, _PORT, _NAME (always: 4.2.0 … 4.5.3 ignore HOST alone), _USER, and
// REPLICA_PREPARED_STATEMENTS when set and read (4.4+). REPLICA_DB_PASS is left to
// fall back to DB_PASS (same role on both). Before 4.2 it is [ErrRelease].
func (c Config) Env() ([]EnvVar, report.Problems) {
	ps := c.Validate()
	if ps.HasErrors() {
		return nil, ps
	}
	rel := c.release()
	if !rel.ReplicaEnv() {
		bad(&ps, "release", ErrRelease, "Mastodon %s reads no REPLICA_* variables (added in 4.2.0; before, a replica needs the makara gem and a hand-edited config/database.yml)", rel)
		return nil, ps
	}
	host := c.Replica.String()
	if rel.DBHostColonBroken() && strings.HasPrefix(host, ":") {
		bad(&ps, "replica", ErrDBHost, "REPLICA_DB_HOST %s", host)
		return nil, ps
	}
	env := []EnvVar{{"REPLICA_DB_HOST", host}, {"REPLICA_DB_PORT", strconv.Itoa(c.clientPort())},
		{"REPLICA_DB_NAME", c.dbName()}, {"REPLICA_DB_USER", c.dbUser()}}
	if c.PreparedStatements != nil && !*c.PreparedStatements {
		if rel.ReplicaPreparedStatements() {
			env = append(env, EnvVar{"REPLICA_PREPARED_STATEMENTS", "false"})
		} else {
			ps.Warnf("prepared_statements", ErrRelease, "Mastodon %s has no REPLICA_PREPARED_STATEMENTS (4.4.0+): the replica follows PREPARED_STATEMENTS, so set PREPARED_STATEMENTS=false too", rel)
		}
	}
	if rel.ReplicaDBTasks() {
		// db:migrate must not try to write to a read-only standby.
		env = append(env, EnvVar{"REPLICA_DB_TASKS", "false"})
	}
	return env, ps
}

// bad adds an error whose message ends with the rule's fix (the sentinel's text).
func bad(ps *report.Problems, path string, sentinel error, format string, args ...any) {
	ps.Errorf(path, sentinel, "%s: %v", fmt.Sprintf(format, args...), sentinel)
}
