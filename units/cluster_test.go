package units

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

func hasProblem(ps report.Problems, sev report.Severity, path string, sentinel error, mention string) bool {
	for _, p := range ps {
		if p.Severity == sev && p.Path == path && errors.Is(p, sentinel) && (mention == "" || strings.Contains(p.Message, mention)) {
			return true
		}
	}
	return false
}

func unitNames(p *Plan) []string {
	var n []string
	for _, f := range p.Files {
		n = append(n, f.Name)
	}
	return n
}

// TestProcesses: a host renders, enables and budgets only the processes it runs.
func TestProcesses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		d      Deployment
		units  []string
		start  []string
		budget string
	}{
		{"all-in-one (zero value)", Deployment{Release: mastodon.MustLookup("4.7")},
			[]string{WebUnit, "mastodon-sidekiq.service", StreamingUnit, StreamingTemplate},
			[]string{WebUnit, "mastodon-sidekiq.service", StreamingUnit}, "web 1×2×5 + sidekiq 25 + streaming 1×10 + reserve 5 = 50"},
		{"worker only", Deployment{Release: mastodon.MustLookup("4.7"), Processes: []Process{ProcessSidekiq}},
			[]string{"mastodon-sidekiq.service"}, []string{"mastodon-sidekiq.service"}, "web none + sidekiq 25 + streaming none + reserve 5 = 30"},
		{"web and streaming", Deployment{Release: mastodon.MustLookup("4.7"), Processes: []Process{ProcessWeb, ProcessStreaming}, Streaming: Streaming{Instances: 2}},
			[]string{WebUnit, StreamingUnit, StreamingTemplate}, []string{WebUnit, StreamingUnit}, "web 1×2×5 + sidekiq none + streaming 2×10 + reserve 5 = 35"},
		{"streaming before 4.2", Deployment{Release: mastodon.MustLookup("4.1"), Processes: []Process{ProcessStreaming}},
			[]string{StreamingUnit}, []string{StreamingUnit}, "web none + sidekiq none + streaming 1×10 + reserve 5 = 15"},
		{"none with the renewal timer", Deployment{Release: mastodon.MustLookup("4.7"), Processes: []Process{ProcessNone}, CertRenew: &CertRenew{}},
			[]string{CertRenewUnit, CertRenewTimer}, []string{CertRenewTimer}, "web none + sidekiq none + streaming none + reserve 5 = 5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			plan, err := c.d.Render()
			require.NoError(t, err)
			assert.Equal(t, c.units, unitNames(plan))
			assert.Equal(t, c.start, plan.Start)
			assert.Contains(t, plan.Budget.Formula, c.budget)
			assert.Empty(t, plan.Problems.Warnings(), "%s", plan.Problems)
		})
	}
}

func TestProcessesBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		d       Deployment
		sev     report.Severity
		path    string
		mention string
	}{
		{"unknown", Deployment{Processes: []Process{"puma"}}, report.Error, "processes[0]", `"puma"`},
		{"twice", Deployment{Processes: []Process{ProcessWeb, ProcessWeb}}, report.Error, "processes[1]", "twice"},
		{"none with others", Deployment{Processes: []Process{ProcessNone, ProcessWeb}}, report.Error, "processes[0]", "alone"},
		{"nothing to render", Deployment{Processes: []Process{ProcessNone}}, report.Warning, "processes", "no unit"},
		{"sidekiq list ignored", Deployment{Processes: []Process{ProcessWeb}, Sidekiq: []Sidekiq{{Concurrency: 5}}}, report.Warning, "sidekiq", "does not run sidekiq"},
		{"web settings ignored", Deployment{Processes: []Process{ProcessSidekiq}, Web: Web{Workers: 4}}, report.Warning, "web", "ignored"},
		{"streaming settings ignored", Deployment{Processes: []Process{ProcessSidekiq}, Streaming: Streaming{Instances: 4}}, report.Warning, "streaming", "ignored"},
		{"bind ignored", Deployment{Processes: []Process{ProcessSidekiq}, Bind: mustAddr("::")}, report.Warning, "bind", "ignored"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ps := c.d.Validate()
			assert.True(t, hasProblem(ps, c.sev, c.path, ErrProcesses, c.mention), "%s", ps)
		})
	}
	// A worker-only host's web port may be anything: it is not checked against streaming.
	ps := Deployment{Processes: []Process{ProcessSidekiq, ProcessStreaming}, Web: Web{Port: 4000}}.Validate()
	assert.False(t, hasProblem(ps, report.Error, "streaming.ports[0]", ErrPort, ""), "%s", ps)
}

// split is the split example's cluster: two web hosts with puma and streaming and a
// share of sidekiq each, a worker host, and a front host with only the renewal timer.
func split() Cluster {
	return Cluster{MaxConnections: 200, Hosts: []Host{
		{"web1", Deployment{Release: mastodon.MustLookup("4.7"), Processes: []Process{ProcessWeb, ProcessStreaming, ProcessSidekiq}, Bind: mustAddr("fd00:1::31"),
			Sidekiq: []Sidekiq{sk("default:8,ingress:4,fasp@25"), sk("scheduler@5")}}},
		{"web2", Deployment{Release: mastodon.MustLookup("4.7"), Processes: []Process{ProcessWeb, ProcessStreaming}, Bind: mustAddr("fd00:1::32")}},
		{"worker1", Deployment{Release: mastodon.MustLookup("4.7"), Processes: []Process{ProcessSidekiq}, Sidekiq: []Sidekiq{sk("push,pull@10"), sk("mailers@5")}}},
		{"front", Deployment{Release: mastodon.MustLookup("4.7"), Processes: []Process{ProcessNone}, CertRenew: &CertRenew{}}},
	}}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := split()
	ps := c.Validate()
	require.NoError(t, ps.Err())
	assert.Empty(t, ps.Warnings(), "every queue is served somewhere, one scheduler: %s", ps)

	// Each host alone would warn about the queues the others serve.
	alone := c.Hosts[0].Deployment.Validate()
	assert.True(t, hasProblem(alone, report.Warning, "sidekiq", ErrUnknownQueue, `"push"`), "%s", alone)

	plans, err := c.Render()
	require.NoError(t, err)
	require.Len(t, plans, 4)
	assert.Equal(t, []string{WebUnit, "mastodon-sidekiq-default-ingress-fasp.service", "mastodon-sidekiq-scheduler.service", StreamingUnit, StreamingTemplate}, unitNames(plans[0]))
	assert.Equal(t, []string{WebUnit, StreamingUnit, StreamingTemplate}, unitNames(plans[1]))
	assert.Equal(t, []string{"mastodon-sidekiq-push-pull.service", "mastodon-sidekiq-mailers.service"}, unitNames(plans[2]))
	assert.Equal(t, []string{CertRenewUnit, CertRenewTimer}, unitNames(plans[3]))
	for _, p := range plans {
		assert.Empty(t, p.Problems.Warnings())
		assert.Equal(t, "web 2×2×5 + sidekiq 25+5+10+5 + streaming 2×10 + reserve 5 = 90 of 197 available (max_connections 200 − 3 superuser-reserved)", p.Budget.Formula)
	}
	b := c.Budget()
	assert.Equal(t, Budget{WebWorkers: 2, WebThreads: 5, WebHosts: 2, Sidekiq: []int{25, 5, 10, 5}, StreamingInstances: 2, StreamingPool: 10, MaxConnections: 200}, b)
}

func TestClusterBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		edit     func(*Cluster)
		sev      report.Severity
		path     string
		sentinel error
		mention  string
	}{
		{"two schedulers", func(c *Cluster) {
			c.Hosts[2].Deployment.Sidekiq = append(c.Hosts[2].Deployment.Sidekiq, sk("scheduler@5"))
		},
			report.Error, "hosts", ErrScheduler, "web1.sidekiq[1], worker1.sidekiq[2]"},
		{"no scheduler", func(c *Cluster) { c.Hosts[0].Deployment.Sidekiq = c.Hosts[0].Deployment.Sidekiq[:1] },
			report.Error, "hosts", ErrScheduler, "no host serves the scheduler"},
		{"an all-queue process and the scheduler elsewhere", func(c *Cluster) { c.Hosts[2].Deployment.Sidekiq = nil },
			report.Error, "hosts", ErrScheduler, "worker1.sidekiq[0]"},
		{"unserved queue", func(c *Cluster) { c.Hosts[2].Deployment.Sidekiq = c.Hosts[2].Deployment.Sidekiq[:1] },
			report.Warning, "hosts", ErrUnknownQueue, `"mailers"`},
		{"no sidekiq anywhere", func(c *Cluster) {
			c.Hosts[0].Deployment.Processes = []Process{ProcessWeb}
			c.Hosts[0].Deployment.Sidekiq = nil
			c.Hosts[2].Deployment.Processes = []Process{ProcessNone}
			c.Hosts[2].Deployment.Sidekiq = nil
		}, report.Error, "hosts", ErrCluster, "no host runs sidekiq"},
		{"two releases", func(c *Cluster) { c.Hosts[1].Deployment.Release = mastodon.MustLookup("4.6") }, report.Error, "web2.mastodon", ErrCluster, "4.6"},
		{"same name", func(c *Cluster) { c.Hosts[1].Name = "web1" }, report.Error, "hosts[1].name", ErrCluster, "hosts[0]"},
		{"bad name", func(c *Cluster) { c.Hosts[1].Name = "web 2" }, report.Error, "hosts[1].name", ErrCluster, `"web 2"`},
		{"host problem under its name", func(c *Cluster) { c.Hosts[2].Deployment.Sidekiq[0].Concurrency = 0 },
			report.Error, "worker1.sidekiq[0].concurrency", ErrConcurrency, ""},
		{"over budget across hosts", func(c *Cluster) { c.MaxConnections = 80 }, report.Error, "budget", ErrOverBudget, "over by 13"},
		{"web hosts differ", func(c *Cluster) { c.Hosts[1].Deployment.Web.Workers = 4 }, report.Warning, "budget.web", ErrOverBudget, "web1 2×5, web2 4×5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cl := split()
			c.edit(&cl)
			ps := cl.Validate()
			assert.True(t, hasProblem(ps, c.sev, c.path, c.sentinel, c.mention), "%s", ps)
			if c.sev == report.Error {
				_, err := cl.Render()
				require.Error(t, err)
			}
		})
	}
	// The budget counts differing web hosts at the largest.
	cl := split()
	cl.Hosts[1].Deployment.Web.Workers = 4
	assert.Equal(t, 2*4*5, cl.Budget().Compute().Web)
	_, err := Cluster{}.Render()
	require.ErrorIs(t, err, ErrCluster)
}
