package pgreplica_test

import (
	"fmt"
	"net/netip"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgreplica"
)

func Example() {
	c := pgreplica.Config{
		Release:       mastodon.MustLookup("4.5.3"),
		Primary:       netip.MustParseAddr("fd00:db::11"),
		Replica:       netip.MustParseAddr("fd00:db::12"),
		ReplicaPrefix: netip.MustParsePrefix("fd00:db::/64"),
		Password:      "replication-secret-0123456789",
	}
	fmt.Println(c.HBA()[0])
	env, _ := c.Env()
	for _, e := range env {
		fmt.Printf("%s=%s\n", e.Key, e.Value)
	}
	// Output:
	// host      replication             replicator      fd00:db::/64            scram-sha-256
	// REPLICA_DB_HOST=fd00:db::12
	// REPLICA_DB_PORT=5432
	// REPLICA_DB_NAME=mastodon_production
	// REPLICA_DB_USER=mastodon
	// REPLICA_DB_TASKS=false
}
