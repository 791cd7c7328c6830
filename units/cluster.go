package units

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/v6kit/v6kit/report"
)

// Host is one host of a [Cluster]: a name for problem paths and its deployment.
type Host struct {
	// Name labels the host ("web1"): problems of its deployment are reported under it.
	Name string `json:"name"`
	// Deployment is what the host runs; [Deployment.Processes] says which processes.
	Deployment Deployment `json:"deployment"`
}

// Cluster is every host of one Mastodon instance (a split topology: web hosts, worker
// hosts, a front host with only the renewal timer), judged together. What one host
// cannot judge alone is checked across all of them: one Mastodon release everywhere,
// exactly one sidekiq process serving the scheduler, every queue of the release served
// by some host, and one connection [Budget] against the database's max_connections.
// Each host's own MaxConnections and Reserve are ignored in favour of the cluster's.
type Cluster struct {
	// Hosts are the hosts, in the order they are reported and rendered.
	Hosts []Host `json:"hosts"`
	// MaxConnections is the database's max_connections. Zero: 100, PostgreSQL's default.
	MaxConnections int `json:"max_connections"`
	// Reserve is the budget's reserve for admins and tootctl. Zero: 5.
	Reserve int `json:"reserve"`
}

var hostNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// hostPath is the problem prefix of host i.
func (c Cluster) hostPath(i int) string {
	if n := c.Hosts[i].Name; n != "" {
		return n
	}
	return fmt.Sprintf("hosts[%d]", i)
}

// Validate reports every problem of every host (under the host's name) and of the
// cluster as a whole: hosts on different releases, repeated or unusable host names, no
// host running sidekiq, zero or several scheduler processes, a queue no host serves
// (a warning), web or streaming hosts with different pool settings (a warning: the
// budget counts the largest), and the combined budget over max_connections.
func (c Cluster) Validate() report.Problems {
	_, ps := c.build()
	return ps.Sorted()
}

// Render validates the cluster and renders every host's units, one [Plan] per host in
// the order of Hosts. Each plan's Problems hold its host's warnings, without the ones
// only the cluster can judge (a queue another host serves), and its Budget is the
// cluster's. On any error of any host or of the cluster it returns nil and an error
// listing every problem.
func (c Cluster) Render() ([]*Plan, error) {
	plans, ps := c.build()
	ps = ps.Sorted()
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return plans, nil
}

func (c Cluster) build() ([]*Plan, report.Problems) {
	var ps report.Problems
	if len(c.Hosts) == 0 {
		ps.Errorf("hosts", ErrCluster, "a cluster needs at least one host")
		return nil, ps
	}
	var plans []*Plan
	var specs []spec
	names := map[string]int{}
	for i, h := range c.Hosts {
		path := c.hostPath(i)
		if h.Name != "" {
			if !hostNameRe.MatchString(h.Name) {
				ps.Errorf(fmt.Sprintf("hosts[%d].name", i), ErrCluster, "host name %q: use letters, digits, '_', '-' and '.'", h.Name)
			}
			if j, dup := names[h.Name]; dup {
				ps.Errorf(fmt.Sprintf("hosts[%d].name", i), ErrCluster, "host name %q is also hosts[%d]'s: give each host its own name", h.Name, j)
			}
			names[h.Name] = i
		}
		plan, s, hps := h.Deployment.buildSpec(true)
		sorted := hps.Sorted()
		plan.Problems = sorted
		ps.Append(path, sorted)
		plans = append(plans, plan)
		specs = append(specs, s)
	}

	// One release.
	rel := specs[0].rel
	for i, s := range specs[1:] {
		if s.rel != rel {
			ps.Errorf(c.hostPath(i+1)+".mastodon", ErrCluster, "Mastodon %s differs from %s's %s: run one release on every host", s.rel, c.hostPath(0), rel)
		}
	}

	// Sidekiq across hosts: every queue served, exactly one scheduler.
	served := map[string]bool{}
	var schedulers []string
	processes := 0
	for i, s := range specs {
		if !s.sidekiq1 {
			continue
		}
		processes += len(s.sidekiq)
		for q := range s.served {
			served[q] = true
		}
		for _, f := range s.schedulers {
			schedulers = append(schedulers, c.hostPath(i)+"."+f)
		}
	}
	switch {
	case processes == 0:
		ps.Errorf("hosts", ErrCluster, "no host runs sidekiq: Mastodon's background jobs (federation, mail, media) would never run; give one host the sidekiq process")
	case len(schedulers) > 1:
		ps.Errorf("hosts", ErrScheduler, "%s all serve the scheduler queue: scheduled jobs would be enqueued by each of them; keep scheduler in exactly one process on one host", strings.Join(schedulers, ", "))
	case len(schedulers) == 0 && rel.HasQueue("scheduler"):
		ps.Errorf("hosts", ErrScheduler, "no host serves the scheduler queue of Mastodon %s: scheduled jobs (cleanup, trends, …) would never run; add scheduler to exactly one process", rel)
	}
	if !rel.SchedulerIsQueue() && processes > 1 {
		ps.Warnf("hosts", ErrScheduler, "before Mastodon 3.3 every sidekiq process loads the schedule: %d processes across the cluster run each scheduled job %d times", processes, processes)
	}
	if processes > 0 {
		for _, q := range rel.Queues() {
			if !served[q.Name] && q.Name != "scheduler" {
				ps.Warnf("hosts", ErrUnknownQueue, "no host serves queue %q of Mastodon %s: its jobs would never run; add it to one process", q.Name, rel)
			}
		}
	}

	// One budget, once every host's numbers are sane.
	if !ps.HasErrors() {
		b, bps := c.budget()
		ps = append(ps, bps...)
		for _, p := range b.Validate() {
			if p.Severity == report.Error || p.Severity == report.Warning {
				ps.Add(p)
			}
		}
		r := b.Compute()
		for _, p := range plans {
			p.Budget = r
		}
	}
	return plans, ps
}

// Budget returns the cluster's connection budget: the web pool of every web host, every
// sidekiq process of every host, every streaming process, against MaxConnections. Web
// hosts (and streaming hosts) with different settings are counted at the largest
// workers, threads and pool among them, an upper bound; [Cluster.Validate] warns then.
func (c Cluster) Budget() Budget {
	b, _ := c.budget()
	return b
}

func (c Cluster) budget() (Budget, report.Problems) {
	var ps report.Problems
	b := Budget{MaxConnections: c.MaxConnections, Reserve: c.Reserve}
	type pool struct{ host, what string }
	var webs, pools []pool
	for i, h := range c.Hosts {
		d := h.Deployment
		hb := d.Budget()
		if d.Runs(ProcessWeb) {
			b.WebHosts++
			w, t := fallback(hb.WebWorkers, 2), fallback(hb.WebThreads, 5)
			b.WebWorkers, b.WebThreads = max(b.WebWorkers, w), max(b.WebThreads, t)
			webs = append(webs, pool{c.hostPath(i), fmt.Sprintf("%d×%d", w, t)})
		}
		if d.Runs(ProcessStreaming) {
			b.StreamingInstances += hb.StreamingInstances
			p := fallback(hb.StreamingPool, 10)
			b.StreamingPool = max(b.StreamingPool, p)
			pools = append(pools, pool{c.hostPath(i), fmt.Sprint(p)})
		}
		b.Sidekiq = append(b.Sidekiq, hb.Sidekiq...)
	}
	if b.WebHosts == 0 {
		b.NoWeb = true
	}
	differ := func(list []pool, what, field string) {
		if len(list) < 2 || !slices.ContainsFunc(list, func(p pool) bool { return p.what != list[0].what }) {
			return
		}
		var all []string
		for _, p := range list {
			all = append(all, p.host+" "+p.what)
		}
		ps.Warnf("budget."+field, ErrOverBudget, "%s differ (%s): the budget counts every host at the largest; give them the same settings for an exact budget", what, strings.Join(all, ", "))
	}
	differ(webs, "web hosts' workers×threads", "web")
	differ(pools, "streaming hosts' DB_POOL", "streaming_pool")
	return b, ps
}
