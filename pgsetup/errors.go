package pgsetup

import "errors"

// Sentinels: one per rule, each saying how to fix it. Problems and errors returned by
// this package wrap them, so errors.Is(err, pgsetup.ErrX) works.
var (
	// ErrHBASyntax: a pg_hba.conf line can't be parsed; the file is never rewritten.
	ErrHBASyntax = errors.New("pg_hba.conf line can't be parsed: fix or comment out the line, the file is left unchanged")
	// ErrHBABlock: the managed block's markers are missing, doubled or out of order.
	ErrHBABlock = errors.New("managed block markers are broken: keep exactly one BEGIN and one END line per block, or delete both")
	// ErrHBARejected: the server's pg_hba_file_rules view reported an error for the candidate file.
	ErrHBARejected = errors.New("server rejected the candidate pg_hba.conf: the old file was kept")
	// ErrHBAShadowed: a rule above the managed block matches the same connections first.
	ErrHBAShadowed = errors.New("an earlier pg_hba.conf rule matches these connections first: move or remove it")
	// ErrReserved: the role is a superuser or a reserved name, or the database one of PostgreSQL's own.
	ErrReserved = errors.New("refusing PostgreSQL's own role or database: give Mastodon's own role (an ordinary one) and database")
	// ErrName: a role or database name is empty, too long, or holds characters that can't be written safely.
	ErrName = errors.New("invalid role or database name: use 1-63 bytes, no control characters or double quotes")
	// ErrPrefix: an address prefix is invalid or not canonical.
	ErrPrefix = errors.New("invalid address prefix: write an address and a length, such as 2001:db8::/64")
	// ErrMethod: an unsupported or unsafe authentication method.
	ErrMethod = errors.New("unsupported authentication method: use scram-sha-256, peer or trust")
	// ErrTrust: trust lets anyone who reaches the address log in as the role without a password.
	ErrTrust = errors.New("trust authentication lets any local process log in without a password: use scram-sha-256 or peer")
	// ErrPassword: the password is missing, unsafe to store or too weak.
	ErrPassword = errors.New("invalid password: give 16 or more printable ASCII characters in a file readable only by its owner")
	// ErrPasswordFile: the password file can be read by other users.
	ErrPasswordFile = errors.New("password file is readable by other users: chmod 600 it")
	// ErrServerTooOld: the PostgreSQL server is older than the Mastodon release requires.
	ErrServerTooOld = errors.New("PostgreSQL server is older than this Mastodon release requires: upgrade PostgreSQL")
	// ErrNotSuperuser: pgsetup's own connection needs superuser rights.
	ErrNotSuperuser = errors.New("the setup connection is not a superuser: connect as postgres (for example over the socket with peer)")
	// ErrDSN: the setup connection string can't be used as written.
	ErrDSN = errors.New("invalid connection string: write key=value pairs (host, port, user, password, dbname, sslmode, sslrootcert, sslcert, sslkey, connect_timeout, application_name) or a postgres:// URL")
	// ErrLogin: a login as the role failed.
	ErrLogin = errors.New("login as the role failed: check pg_hba.conf and the password")
	// ErrListen: a listen address PostgreSQL can't bind as written, or one given twice.
	ErrListen = errors.New("invalid listen address: give the host's own unicast IP literals, each once, without zone")
	// ErrTuning: a tuning input is out of range.
	ErrTuning = errors.New("invalid tuning input: give RAM of at least 256 MiB, 1 or more CPUs and 1 or more connections")
	// ErrAllDatabases: no database given and none to default to, so the pg_hba.conf rules
	// name all databases.
	ErrAllDatabases = errors.New("no database given: the pg_hba.conf rules allow all databases; give the database to narrow them")
)
