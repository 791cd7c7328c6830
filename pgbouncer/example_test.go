package pgbouncer_test

import (
	"fmt"
	"net/netip"

	"github.com/v6kit/v6kit/pgbouncer"
	"github.com/v6kit/v6kit/units"
)

func Example() {
	c := pgbouncer.Config{
		Listen:   []netip.Addr{netip.MustParseAddr("fd00:db::11")},
		Server:   netip.MustParseAddr("fd00:db::11"),
		Verifier: "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$c3RvcmVk:c2VydmVy",
		Pool: units.PoolerBudget{
			Clients:       units.Budget{WebHosts: 2, Sidekiq: []int{25, 25}, StreamingInstances: 2},
			MaxClientConn: 200, DefaultPoolSize: 30, MaxConnections: 100,
		},
	}
	b := c.Budget()
	fmt.Println(b.ClientFormula)
	fmt.Println(b.ServerFormula)
	env, _ := c.Env()
	for _, e := range env {
		fmt.Printf("%s=%s\n", e.Key, e.Value)
	}
	fmt.Println(c.MigrateCommand())
	// Output:
	// clients: web 2×2×5 + sidekiq 25+25 + streaming 2×10 = 90 of max_client_conn 200
	// server: 1 pool(s) × (default_pool_size 30 + reserve_pool_size 0) + direct 5 = 35 of 97 available (max_connections 100 − 3 superuser-reserved)
	// DB_HOST=fd00:db::11
	// DB_PORT=6432
	// PREPARED_STATEMENTS=false
	// RAILS_ENV=production DB_HOST=fd00:db::11 DB_PORT=5432 bundle exec rails db:migrate
}
