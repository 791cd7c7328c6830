package units

import (
	"fmt"
	"strings"

	"github.com/v6kit/v6kit/report"
)

// PoolerBudget is the connection budget of a deployment behind PgBouncer in transaction
// mode, which has two sides: the app's pools are PgBouncer's clients (against
// max_client_conn), and PgBouncer's server pools plus whatever bypasses it (migrations,
// tootctl, replication) are PostgreSQL's connections (against max_connections).
type PoolerBudget struct {
	// Clients are the app's pools (web, sidekiq, streaming on every host). Its Reserve,
	// MaxConnections and SuperuserReserved are not used: see Direct and the fields below.
	Clients Budget
	// MaxClientConn is PgBouncer's max_client_conn. Zero: 100, PgBouncer's default.
	MaxClientConn int
	// DefaultPoolSize is PgBouncer's default_pool_size: server connections per
	// (database, user) pool. Zero: 20, PgBouncer's default.
	DefaultPoolSize int
	// ReservePoolSize is PgBouncer's reserve_pool_size, extra server connections per pool
	// under load. Zero: none.
	ReservePoolSize int
	// Pools is how many (database, user) pairs PgBouncer serves. Zero: 1.
	Pools int
	// Direct is what reaches PostgreSQL without PgBouncer: migrations on 5432, tootctl,
	// replication, admins. Zero: 5.
	Direct int
	// MaxConnections is PostgreSQL's max_connections. Zero: 100.
	MaxConnections int
	// SuperuserReserved is PostgreSQL's superuser_reserved_connections. Zero: 3.
	SuperuserReserved int
}

// PoolerReport is the arithmetic of a [PoolerBudget], ready to print.
type PoolerReport struct {
	// Clients is what the app's pools may open to PgBouncer at peak.
	Clients int
	// MaxClientConn is PgBouncer's limit; ClientHeadroom = MaxClientConn - Clients.
	MaxClientConn, ClientHeadroom int
	// PerPool is default_pool_size + reserve_pool_size, what one pool may open.
	PerPool int
	// Server is Pools×PerPool + Direct, what PostgreSQL sees at peak.
	Server int
	// Available is max_connections − superuser_reserved_connections;
	// ServerHeadroom = Available − Server.
	Available, ServerHeadroom int
	// ClientFormula and ServerFormula spell out the two sums.
	ClientFormula, ServerFormula string
}

// Compute returns both sides' arithmetic without judging it.
func (b PoolerBudget) Compute() PoolerReport {
	c := b.Clients
	cr := c.Compute()
	r := PoolerReport{
		Clients:       cr.Web + cr.Sidekiq + cr.Streaming,
		MaxClientConn: orDefault(b.MaxClientConn, 100),
		PerPool:       orDefault(b.DefaultPoolSize, 20) + b.ReservePoolSize,
	}
	r.ClientHeadroom = r.MaxClientConn - r.Clients
	pools := orDefault(b.Pools, 1)
	direct := orDefault(b.Direct, 5)
	r.Server = pools*r.PerPool + direct
	maxc, sup := orDefault(b.MaxConnections, 100), orDefault(b.SuperuserReserved, 3)
	r.Available = maxc - sup
	r.ServerHeadroom = r.Available - r.Server
	web, sk, st := parts(c)
	r.ClientFormula = fmt.Sprintf("clients: web %s + sidekiq %s + streaming %s = %d of max_client_conn %d",
		web, sk, st, r.Clients, r.MaxClientConn)
	r.ServerFormula = fmt.Sprintf("server: %d pool(s) × (default_pool_size %d + reserve_pool_size %d) + direct %d = %d of %d available (max_connections %d − %d superuser-reserved)",
		pools, orDefault(b.DefaultPoolSize, 20), b.ReservePoolSize, direct, r.Server, r.Available, maxc, sup)
	return r
}

// parts renders a Budget's three terms as Budget.Compute's formula does.
func parts(b Budget) (web, sidekiq, streaming string) {
	web, sidekiq, streaming = "none", "none", "none"
	if hosts := orDefault(b.WebHosts, 1); !b.NoWeb {
		web = fmt.Sprintf("%d×%d×%d", hosts, orDefault(b.WebWorkers, 2), orDefault(b.WebThreads, 5))
	}
	if len(b.Sidekiq) > 0 {
		sk := make([]string, len(b.Sidekiq))
		for i, c := range b.Sidekiq {
			sk[i] = fmt.Sprint(c)
		}
		sidekiq = strings.Join(sk, "+")
	}
	if b.StreamingInstances > 0 {
		streaming = fmt.Sprintf("%d×%d", b.StreamingInstances, orDefault(b.StreamingPool, 10))
	}
	return web, sidekiq, streaming
}

// Validate reports negative numbers and either side over budget: the message names the
// side, the sum, and what to lower or raise.
func (b PoolerBudget) Validate() report.Problems {
	var ps report.Problems
	c := b.Clients
	c.Reserve, c.MaxConnections, c.SuperuserReserved = 0, 0, 0
	for _, p := range c.Validate().Errors() {
		if p.Path != "budget" { // the single-server verdict does not apply behind PgBouncer
			p.Path = "pooler." + p.Path
			ps.Add(p)
		}
	}
	for name, v := range map[string]int{"max_client_conn": b.MaxClientConn, "default_pool_size": b.DefaultPoolSize,
		"reserve_pool_size": b.ReservePoolSize, "pools": b.Pools, "direct": b.Direct,
		"max_connections": b.MaxConnections, "superuser_reserved": b.SuperuserReserved} {
		if v < 0 {
			ps.Errorf("pooler."+name, ErrOverBudget, "%s is %d: it must be zero (the default) or positive", name, v)
		}
	}
	if ps.HasErrors() {
		return ps.Sorted()
	}
	r := b.Compute()
	if r.ClientHeadroom < 0 {
		ps.Errorf("pooler.clients", ErrOverBudget, "%s: over by %d; raise PgBouncer's max_client_conn or lower the app's pools (web threads, sidekiq concurrency, streaming DB_POOL)",
			r.ClientFormula, -r.ClientHeadroom)
	}
	if r.ServerHeadroom < 0 {
		ps.Errorf("pooler.server", ErrOverBudget, "%s: over by %d; lower default_pool_size or reserve_pool_size, or raise PostgreSQL's max_connections",
			r.ServerFormula, -r.ServerHeadroom)
	}
	return ps.Sorted()
}
