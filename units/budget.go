package units

import (
	"fmt"
	"strings"

	"github.com/v6kit/v6kit/report"
)

// Budget is the PostgreSQL connection budget of a Mastodon deployment: every process
// that holds a connection pool, against the server's max_connections. It is the one
// function both units (at render time) and pgsetup (against a live server) use.
type Budget struct {
	// WebWorkers is puma's WEB_CONCURRENCY per web host. Zero: Mastodon's default, 2.
	WebWorkers int
	// WebThreads is puma's MAX_THREADS, the pool of each worker. Zero: Mastodon's default, 5.
	WebThreads int
	// WebHosts is how many hosts run the web service. Zero: 1 (unless NoWeb).
	WebHosts int
	// NoWeb means no host in the budget runs puma (a worker-only host's own budget):
	// the web pool is 0 whatever WebWorkers, WebThreads and WebHosts say.
	NoWeb bool
	// Sidekiq is the concurrency (= DB_POOL) of each sidekiq process, across all hosts.
	Sidekiq []int
	// StreamingInstances is how many streaming processes run, across all hosts.
	StreamingInstances int
	// StreamingPool is each streaming process's DB_POOL. Zero: Mastodon's default, 10.
	StreamingPool int
	// Reserve is kept free for admins, migrations and tootctl. Zero: 5.
	// PostgreSQL's own superuser_reserved_connections (3 by default) comes on top.
	Reserve int
	// MaxConnections is PostgreSQL's max_connections. Zero: 100, PostgreSQL's default.
	MaxConnections int
	// SuperuserReserved is PostgreSQL's superuser_reserved_connections. Zero: 3.
	SuperuserReserved int
}

// BudgetReport is the arithmetic of a [Budget], ready to print.
type BudgetReport struct {
	Web       int `json:"web"`
	Sidekiq   int `json:"sidekiq"`
	Streaming int `json:"streaming"`
	Reserve   int `json:"reserve"`
	// Total is what the deployment may open at peak, reserve included.
	Total int `json:"total"`
	// Available is max_connections minus superuser_reserved_connections.
	Available int `json:"available"`
	// Headroom is Available - Total; negative means over budget.
	Headroom int `json:"headroom"`
	// Formula spells out the sum.
	Formula string `json:"formula"`
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// ErrOverBudget means the deployment can open more connections than PostgreSQL allows.
var ErrOverBudget = fmt.Errorf("connection budget exceeds max_connections")

// Compute returns the budget's arithmetic without judging it.
func (b Budget) Compute() BudgetReport {
	workers := orDefault(b.WebWorkers, 2)
	threads := orDefault(b.WebThreads, 5)
	hosts := orDefault(b.WebHosts, 1)
	if b.NoWeb {
		hosts = 0
	}
	pool := orDefault(b.StreamingPool, 10)
	r := BudgetReport{
		Web:       hosts * workers * threads,
		Streaming: b.StreamingInstances * pool,
		Reserve:   orDefault(b.Reserve, 5),
	}
	var sk []string
	for _, c := range b.Sidekiq {
		r.Sidekiq += c
		sk = append(sk, fmt.Sprint(c))
	}
	r.Total = r.Web + r.Sidekiq + r.Streaming + r.Reserve
	r.Available = orDefault(b.MaxConnections, 100) - orDefault(b.SuperuserReserved, 3)
	r.Headroom = r.Available - r.Total
	// A process a host does not run reads "none", not a product with a zero in it.
	web, sidekiq, streaming := "none", "none", "none"
	if hosts > 0 {
		web = fmt.Sprintf("%d×%d×%d", hosts, workers, threads)
	}
	if len(sk) > 0 {
		sidekiq = strings.Join(sk, "+")
	}
	if b.StreamingInstances > 0 {
		streaming = fmt.Sprintf("%d×%d", b.StreamingInstances, pool)
	}
	r.Formula = fmt.Sprintf("web %s + sidekiq %s + streaming %s + reserve %d = %d of %d available (max_connections %d − %d superuser-reserved)",
		web, sidekiq, streaming, r.Reserve, r.Total, r.Available,
		orDefault(b.MaxConnections, 100), orDefault(b.SuperuserReserved, 3))
	return r
}

// Validate reports negative numbers and an over-budget total; the error names which
// numbers to lower (or max_connections to raise).
func (b Budget) Validate() report.Problems {
	var ps report.Problems
	for name, v := range map[string]int{"web_workers": b.WebWorkers, "web_threads": b.WebThreads, "web_hosts": b.WebHosts,
		"streaming_instances": b.StreamingInstances, "streaming_pool": b.StreamingPool, "reserve": b.Reserve, "max_connections": b.MaxConnections} {
		if v < 0 {
			ps.Errorf("budget."+name, ErrOverBudget, "%s is %d: it must be zero (the default) or positive", name, v)
		}
	}
	for i, c := range b.Sidekiq {
		if c <= 0 {
			ps.Errorf(fmt.Sprintf("budget.sidekiq[%d]", i), ErrOverBudget, "sidekiq concurrency is %d: it must be at least 1", c)
		}
	}
	if ps.HasErrors() {
		return ps.Sorted()
	}
	r := b.Compute()
	if r.Headroom < 0 {
		ps.Errorf("budget", ErrOverBudget,
			"%s: over by %d; lower web workers or threads (%d), sidekiq concurrency (%d), or streaming instances (%d), or raise max_connections",
			r.Formula, -r.Headroom, r.Web, r.Sidekiq, r.Streaming)
	} else if r.Headroom*10 < r.Available {
		ps.Warnf("budget", ErrOverBudget, "%s: less than 10%% headroom left", r.Formula)
	}
	return ps
}
