package pgconnect_test

import (
	"fmt"

	"github.com/v6kit/v6kit/internal/pgconnect"
)

// A DSN is read without the environment: PGPASSWORD, PGSSLMODE or ~/.pgpass never
// change what it says. The config pgx gets has exactly these settings.
func Example() {
	p, err := pgconnect.ParseDSN("postgres://postgres:secret@[::1]:5433/postgres?sslmode=disable")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p)
	cfg, err := p.Config()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.TLSConfig == nil, len(cfg.Fallbacks), cfg.RuntimeParams)

	_, err = pgconnect.ParseDSN("host=/var/run/postgresql user=postgres service=prod")
	fmt.Println(err)
	// Output:
	// host='::1' port='5433' user='postgres' password='xxxxx' dbname='postgres' sslmode='disable'
	// ::1 5433 postgres postgres true 0 map[]
	// pgconnect: invalid connection setting: the connection string key "service" is not supported; use only host, port, user, password, dbname, sslmode, sslrootcert, sslcert, sslkey, connect_timeout, application_name
}
