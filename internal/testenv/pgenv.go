package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// PostgresHostileEnv sets, for the rest of the test, every PG* environment variable
// pgx and libpq read to a value that would change or break a connection: a wrong
// password (also through PGPASSFILE and a service in PGSERVICEFILE), another host, port,
// user and database, sslmode=require with missing certificate files, a 1 ms
// statement_timeout in PGOPTIONS, read-only sessions, channel binding required, pgx's
// simple protocol (in the service), and a HOME whose ~/.pgpass and ~/.postgresql hold
// wrong data. Code that builds its
// connections from explicit settings (internal/pgconnect) is unaffected, as are
// [StartPostgres] and [Postgres.Conn]. Tests calling it can't be parallel (t.Setenv).
func PostgresHostileEnv(t testing.TB) {
	t.Helper()
	d := TempDir(t)
	home := filepath.Join(d, "home")
	if err := os.MkdirAll(filepath.Join(home, ".postgresql"), 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"pgpass":                          "*:*:*:*:wrong-from-pgpassfile\n",
		"home/.pgpass":                    "*:*:*:*:wrong-from-home-pgpass\n",
		"home/.postgresql/root.crt":       "not PEM\n",
		"home/.postgresql/postgresql.crt": "not PEM\n",
		"home/.postgresql/postgresql.key": "not PEM\n",
		"home/.pg_service.conf":           "[other]\nhost=/nonexistent\n",
		"services": "[hostile]\nhost=/nonexistent\nport=1\nuser=nobody\ndbname=nope\npassword=wrong-from-service\n" +
			"sslmode=verify-full\noptions=-c statement_timeout=1\ntarget_session_attrs=standby\ndefault_query_exec_mode=simple_protocol\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{
		"PGHOST": "/nonexistent", "PGHOSTADDR": "192.0.2.1", "PGPORT": "1", "PGDATABASE": "nope", "PGUSER": "nobody",
		"PGPASSWORD": "wrong", "PGPASSFILE": filepath.Join(d, "pgpass"), "PGAPPNAME": "hostile", "PGCONNECT_TIMEOUT": "1",
		"PGSSLMODE": "require", "PGSSLKEY": "/nonexistent/key", "PGSSLCERT": "/nonexistent/cert", "PGSSLCERTMODE": "require",
		"PGSSLSNI": "0", "PGSSLROOTCERT": "/nonexistent/root.crt", "PGSSLPASSWORD": "x", "PGSSLNEGOTIATION": "direct",
		"PGTARGETSESSIONATTRS": "read-only", "PGSERVICE": "hostile", "PGSERVICEFILE": filepath.Join(d, "services"),
		"PGTZ": "Pacific/Chatham", "PGOPTIONS": "-c statement_timeout=1", "PGMINPROTOCOLVERSION": "3.2",
		"PGMAXPROTOCOLVERSION": "3.2", "PGCHANNELBINDING": "require", "PGREQUIREAUTH": "password", "HOME": home,
	} {
		t.Setenv(k, v)
	}
}
