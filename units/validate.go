package units

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/v6kit/v6kit/internal/pathlimit"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

var (
	userRe     = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,30}[$]?$`)
	queueRe    = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	unitPartRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	envNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sonameRe   = regexp.MustCompile(`^[A-Za-z0-9_.+-]+\.so(\.[0-9]+)*$`)
	unitNameRe = regexp.MustCompile(`^[A-Za-z0-9:_.\\@%-]+\.(service|target)$`)
)

// reservedEnv are the variables the units set themselves.
var reservedEnv = []string{"RAILS_ENV", "NODE_ENV", "PORT", "BIND", "SOCKET", "WEB_CONCURRENCY", "MAX_THREADS",
	"DB_POOL", "MALLOC_ARENA_MAX", "LD_PRELOAD", "STREAMING_CLUSTER_NUM"}

// spec is a Deployment with every default resolved; build renders from it.
type spec struct {
	rel        mastodon.Release
	web1       bool // runs puma
	streaming1 bool // runs streaming
	sidekiq1   bool // runs sidekiq
	served     map[string]bool
	schedulers []string
	layout     Layout
	user       string
	paths      Paths
	bind       netip.Addr
	web        Web
	sidekiq    []sidekiqSpec
	instances  int
	ports      []int
	pool       int
	exporter   *Exporter
	renew      *CertRenew
	rw         []string
	env        []Var
	sandbox    Sandbox
	local      bool
}

type sidekiqSpec struct {
	unit  string // unit name
	label string // human label for Description
	Sidekiq
}

// checkPath reports a path that is not absolute, not clean, or holds characters a unit
// file cannot carry unquoted.
func checkPath(ps *report.Problems, field, p string) bool {
	switch {
	case !path.IsAbs(p):
		ps.Errorf(field, ErrPath, "%q is a relative path: give an absolute path such as /home/mastodon/live", p)
	case path.Clean(p) != p:
		ps.Errorf(field, ErrPath, "%q is not clean: write it as %q", p, path.Clean(p))
	case strings.ContainsAny(p, " \t\"'\\;"):
		ps.Errorf(field, ErrPath, "%q holds a space, quote, backslash or ';': choose a path without them", p)
	default:
		if err := checkValue(field, p); err != nil {
			ps.Errorf(field, ErrPath, "%v", err)
			return false
		}
		if err := pathlimit.Check(p); err != nil {
			ps.Errorf(field, ErrPath, "%v", err)
			return false
		}
		return true
	}
	return false
}

// checkCommandPath refuses '$' in a path that starts a command line (ExecStart=,
// ExecReload=): systemd substitutes variables in argv[0] ("$$" becomes "$", "${X}" is
// expanded) but runs the path as written (systemd/systemd#1274, #23235), so no
// escaping keeps the two the same. '%' is fine: specifiers are resolved in both, and
// every command path is written with '%' doubled. derived says the path is the default
// under paths.home.
func checkCommandPath(ps *report.Problems, field, p string, derived bool) {
	if !strings.Contains(p, "$") {
		return
	}
	hint := "choose a path without '$'"
	if derived {
		hint = "it is the default under paths.home (from the user name): set paths.bundle, or a home, without '$'"
	}
	ps.Errorf(field, ErrPath, "%q holds '$': systemd substitutes variables in a command's first word but runs the path unsubstituted, so no escaping keeps them the same; %s", p, hint)
}

// sidekiqs returns the effective sidekiq processes: one for every queue when none is given.
func (d Deployment) sidekiqs() []Sidekiq {
	if len(d.Sidekiq) > 0 {
		return d.Sidekiq
	}
	rel := d.Release.OrNewest()
	return []Sidekiq{{Concurrency: rel.DistSidekiqConcurrency()}}
}

// Validate reports every problem of the deployment at once, each with the path of its
// field (sidekiq[1].queues[0], streaming.ports[2], …): unknown version or layout,
// invalid user, relative or unsafe paths, values with newlines or control characters,
// two processes serving scheduler, unknown or unserved queues (warnings), counts below
// one, port collisions between web, streaming instances and the exporter, and a
// connection budget over max_connections.
func (d Deployment) Validate() report.Problems {
	_, ps := d.build(false)
	return ps.Sorted()
}

// resolve applies the defaults and checks the model; build then renders and adds the
// escaping problems. In a cluster, what only the whole cluster can judge (unserved
// queues, the number of schedulers, the connection budget) is left to [Cluster].
func (d Deployment) resolve(inCluster bool) (spec, report.Problems) {
	var ps report.Problems
	s := spec{rel: d.Release.OrNewest(), layout: fallback(d.Layout, Debian), user: fallback(d.User, "mastodon"),
		bind: d.Bind, web: d.Web, exporter: d.Exporter, renew: d.CertRenew, sandbox: d.Sandbox, local: d.LocalServices,
		web1: d.Runs(ProcessWeb), streaming1: d.Runs(ProcessStreaming), sidekiq1: d.Runs(ProcessSidekiq)}
	checkProcesses(&ps, d.Processes)
	if err := d.Release.Check(); err != nil {
		ps.Errorf("mastodon", ErrVersion, "%v", err)
		s.rel = mastodon.Newest()
	}
	if s.layout != Debian && s.layout != RHEL {
		ps.Errorf("layout", ErrLayout, "layout %q is unknown: use debian or rhel", d.Layout)
	}
	switch s.sandbox {
	case SandboxDist, SandboxFull, SandboxNone:
	default:
		ps.Errorf("sandbox", ErrValue, "sandbox %q is unknown: use \"\" (the release's dist block), full or none", d.Sandbox)
	}
	if !userRe.MatchString(s.user) {
		ps.Errorf("user", ErrUser, "%q is not a valid Unix user name: use lowercase letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters", s.user)
	} else if s.user == "root" {
		ps.Warnf("user", ErrUser, "running Mastodon as root defeats the sandbox: create a dedicated user such as mastodon")
	}

	// Paths.
	s.paths = d.resolvedPaths()
	for _, f := range []struct{ name, v string }{
		{"paths.home", s.paths.Home}, {"paths.app", s.paths.App}, {"paths.bundle", s.paths.Bundle},
		{"paths.node", s.paths.Node}, {"paths.npm", s.paths.NPM}, {"paths.kill", s.paths.Kill},
		{"paths.echo", s.paths.Echo}, {"paths.certs", s.paths.Certs},
	} {
		if checkPath(&ps, f.name, f.v) && f.name != "paths.home" && f.name != "paths.app" {
			checkCommandPath(&ps, f.name, f.v, f.name == "paths.bundle" && d.Paths.Bundle == "")
		}
	}
	if j := s.paths.Jemalloc; j != "-" && !sonameRe.MatchString(j) {
		if strings.HasPrefix(j, "/") {
			if checkPath(&ps, "paths.jemalloc", j) && strings.Contains(j, ":") {
				// ld.so splits LD_PRELOAD at ':' and spaces: /opt/a:b would preload two libraries.
				ps.Errorf("paths.jemalloc", ErrPath, "%q holds ':', where the dynamic linker splits LD_PRELOAD into two libraries: choose a path without ':'", j)
			}
		} else {
			ps.Errorf("paths.jemalloc", ErrPath, "%q is neither a soname (libjemalloc.so.2) nor an absolute path: give one, or \"-\" to disable the preload", j)
		}
	}
	s.rw = []string{s.paths.App}
	for i, p := range d.ReadWritePaths {
		f := fmt.Sprintf("read_write_paths[%d]", i)
		if !checkPath(&ps, f, p) {
			continue
		}
		if within(p, s.paths.App) || slices.ContainsFunc(s.rw, func(q string) bool { return within(p, q) }) {
			ps.Infof(f, "%s is already writable (inside %s)", p, s.paths.App)
			continue
		}
		s.rw = append(s.rw, p)
	}

	// Bind.
	if !s.bind.IsValid() {
		s.bind = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	if s.bind.Zone() != "" {
		ps.Errorf("bind", ErrBind, "%s has a zone: BIND cannot carry one; bind to :: or a global address", s.bind)
	}
	s.bind = s.bind.Unmap()
	if !s.web1 && !s.streaming1 && d.Bind.IsValid() {
		ps.Warnf("bind", ErrProcesses, "bind %s is ignored: this host runs neither web nor streaming", d.Bind)
	}
	if s.bind != netip.AddrFrom4([4]byte{127, 0, 0, 1}) && (s.web1 || s.streaming1) {
		if s.web1 && !s.rel.PumaHasBind() {
			ps.Warnf("bind", ErrBind, "Mastodon %s's puma ignores BIND and listens on 0.0.0.0:PORT (IPv4 only); %s applies only from 2.9.3", s.rel, s.bind)
		}
		if s.streaming1 && !s.rel.StreamingHasBind() {
			ps.Warnf("bind", ErrBind, "Mastodon %s's streaming ignores BIND and listens on Node's any-address; %s applies only from 2.1", s.rel, s.bind)
		}
	}

	// Web.
	s.web.Port = fallback(d.Web.Port, mastodon.DefaultWebPort)
	checkCount(&ps, "web.workers", d.Web.Workers)
	checkCount(&ps, "web.threads", d.Web.Threads)
	s.web.Workers = fallback(d.Web.Workers, mastodon.DefaultWebConcurrency)
	s.web.Threads = fallback(d.Web.Threads, mastodon.DefaultMaxThreads)

	if !s.web1 && d.Web != (Web{}) {
		ps.Warnf("web", ErrProcesses, "web settings are ignored: this host does not run web (processes %s)", processList(d.Processes))
	}
	if s.sidekiq1 {
		s.sidekiq, s.served, s.schedulers = d.resolveSidekiq(&ps, s.rel, inCluster)
	} else if len(d.Sidekiq) > 0 {
		ps.Warnf("sidekiq", ErrProcesses, "%d sidekiq processes are listed but this host does not run sidekiq (processes %s): add sidekiq to processes or drop the list", len(d.Sidekiq), processList(d.Processes))
	}
	if !s.streaming1 && (d.Streaming.Instances != 0 || d.Streaming.Pool != 0 || len(d.Streaming.Ports) > 0) {
		ps.Warnf("streaming", ErrProcesses, "streaming settings are ignored: this host does not run streaming (processes %s)", processList(d.Processes))
	}

	// Streaming.
	checkCount(&ps, "streaming.instances", d.Streaming.Instances)
	checkCount(&ps, "streaming.pool", d.Streaming.Pool)
	s.instances = max(fallback(d.Streaming.Instances, 1), 1)
	s.pool = fallback(d.Streaming.Pool, mastodon.DefaultStreamingDBPool)
	n := s.instances
	if !s.rel.StreamingTemplated() {
		n = 1
	}
	for i := range n {
		s.ports = append(s.ports, mastodon.DefaultStreamingPort+i)
	}
	switch {
	case len(d.Streaming.Ports) == 0:
	case !s.rel.StreamingTemplated() && len(d.Streaming.Ports) != 1:
		ps.Errorf("streaming.ports", ErrPort, "Mastodon %s runs streaming as one unit with STREAMING_CLUSTER_NUM workers on one port: give one port, not %d", s.rel, len(d.Streaming.Ports))
	case s.rel.StreamingTemplated() && len(d.Streaming.Ports) != s.instances:
		ps.Errorf("streaming.ports", ErrPort, "%d ports for %d streaming instances: give one port per instance, or none for 4000, 4001, …", len(d.Streaming.Ports), s.instances)
	default:
		s.ports = d.Streaming.Ports
	}
	if s.streaming1 && s.rel.StreamingTemplated() && s.instances > 1 && s.bind.IsUnspecified() {
		ps.Infof("bind", "all %d streaming instances bind to the unspecified address (BIND=%s), each on its own port: list every port in nginx's streaming upstream", s.instances, s.bind)
	}

	// Ports: distinct and in range.
	seen := map[int]string{}
	addPort := func(field string, p int) {
		if p < 1 || p > 65535 {
			ps.Errorf(field, ErrPort, "port %d is out of range: use 1 to 65535", p)
			return
		}
		if other, ok := seen[p]; ok {
			ps.Errorf(field, ErrPort, "port %d is already used by %s: give each listener its own port", p, other)
			return
		}
		seen[p] = field
	}
	if s.web1 {
		addPort("web.port", s.web.Port)
	}
	if s.streaming1 {
		for i, p := range s.ports {
			addPort(fmt.Sprintf("streaming.ports[%d]", i), p)
		}
	}
	if s.exporter != nil {
		e := *s.exporter
		if !s.rel.HasPrometheusExporter() {
			ps.Errorf("exporter", ErrExporter, "Mastodon %s has no prometheus exporter (it ships from 4.6): remove the exporter", s.rel)
		}
		e.Port = fallback(e.Port, mastodon.DefaultExporterPort)
		if !e.Bind.IsValid() {
			e.Bind = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		if e.Bind.Zone() != "" {
			ps.Errorf("exporter.bind", ErrBind, "%s has a zone: bind the exporter to a loopback or global address", e.Bind)
		}
		addPort("exporter.port", e.Port)
		s.exporter = &e
	}

	// Certificate renewal.
	if s.renew != nil {
		r := *s.renew
		r.OnCalendar = fallback(r.OnCalendar, "daily")
		if err := checkValue("cert_renew.on_calendar", r.OnCalendar); err != nil {
			ps.Errorf("cert_renew.on_calendar", ErrTimer, "%v", err)
		}
		if r.RandomizedDelay < 0 {
			ps.Errorf("cert_renew.randomized_delay", ErrTimer, "randomized delay %s is negative: use zero (1h) or a positive duration", r.RandomizedDelay)
		}
		if r.RandomizedDelay == 0 {
			r.RandomizedDelay = defaultRandomizedDelay
		}
		if err := checkValue("cert_renew.deploy_hook", r.DeployHook); r.DeployHook != "" && err != nil {
			ps.Errorf("cert_renew.deploy_hook", ErrValue, "%v", err)
		}
		if r.OnFailure != "" && !unitNameRe.MatchString(r.OnFailure) {
			ps.Errorf("cert_renew.on_failure", ErrUnitName, "%q is not a unit name: give one such as notify-failure@%%n.service", r.OnFailure)
		}
		s.renew = &r
	}

	if !s.web1 && !s.streaming1 && !s.sidekiq1 && s.exporter == nil && s.renew == nil {
		ps.Warnf("processes", ErrProcesses, "processes none without exporter or cert_renew: there is no unit to render")
	}

	// Environment.
	for i, v := range d.Env {
		f := fmt.Sprintf("env[%d]", i)
		switch {
		case !envNameRe.MatchString(v.Name):
			ps.Errorf(f+".name", ErrEnvName, "%q is not a variable name: use letters, digits and '_', not starting with a digit", v.Name)
		case slices.Contains(reservedEnv, v.Name):
			ps.Errorf(f+".name", ErrEnvName, "%s is set by the units themselves: use the matching Deployment field", v.Name)
		case mastodon.IsSecret(v.Name):
			ps.Errorf(f+".name", ErrSecretInUnit, "%s is a secret and unit files are world-readable: keep it in .env.production (mode 0600)", v.Name)
		}
		s.env = append(s.env, v)
	}

	// Connection budget, once the numbers are sane.
	if !ps.HasErrors() && !inCluster {
		for _, p := range d.Budget().Validate() {
			if p.Severity == report.Error || p.Severity == report.Warning {
				ps.Add(p)
			}
		}
	}
	return s, ps
}

const defaultRandomizedDelay = time.Hour

func checkCount(ps *report.Problems, field string, v int) {
	if v < 0 {
		ps.Errorf(field, ErrConcurrency, "%d is negative: use a positive number, or zero for Mastodon's default", v)
	}
}

// within reports whether p is q or below it.
func within(p, q string) bool {
	return p == q || strings.HasPrefix(p, strings.TrimSuffix(q, "/")+"/")
}

// resolveSidekiq names the processes and checks their queues against the release. It
// returns the queues served and the processes serving the scheduler (by field path).
func (d Deployment) resolveSidekiq(ps *report.Problems, rel mastodon.Release, inCluster bool) (out []sidekiqSpec, served map[string]bool, schedulers []string) {
	procs := d.sidekiqs()
	served = map[string]bool{}
	units := map[string]string{}
	for i, p := range procs {
		f := fmt.Sprintf("sidekiq[%d]", i)
		if p.Concurrency <= 0 {
			ps.Errorf(f+".concurrency", ErrConcurrency, "concurrency %d: each sidekiq process needs at least 1 thread (the dist unit uses %d)", p.Concurrency, rel.DistSidekiqConcurrency())
		}
		var names []string
		for j, q := range p.Queues {
			qf := fmt.Sprintf("%s.queues[%d]", f, j)
			switch {
			case !queueRe.MatchString(q.Name):
				ps.Errorf(qf, ErrQueue, "queue name %q holds a space or a character sidekiq's -q cannot take: use letters, digits, '_' and '-'", q.Name)
				continue
			case strings.HasPrefix(q.Name, "-"):
				ps.Errorf(qf, ErrQueue, "queue name %q starts with '-', so `sidekiq -q %s` reads like an option to anyone (and any tool) parsing the unit: Mastodon's queues start with a letter; start the name with a letter, a digit or '_'", q.Name, q.Name)
				continue
			case q.Weight < 0:
				ps.Errorf(qf, ErrQueue, "queue %s has weight %d: use a positive weight, or none", q.Name, q.Weight)
			case slices.Contains(names, q.Name):
				ps.Errorf(qf, ErrQueue, "queue %s is listed twice in this process: list it once", q.Name)
				continue
			}
			names = append(names, q.Name)
			if !rel.HasQueue(q.Name) {
				ps.Warnf(qf, ErrUnknownQueue, "Mastodon %s has no queue %q (its queues: %s): nothing will be enqueued there", rel, q.Name, queueNames(rel))
			}
			served[q.Name] = true
			if q.Name == "scheduler" {
				schedulers = append(schedulers, f)
			}
		}
		if len(p.Queues) == 0 {
			for _, q := range rel.Queues() {
				served[q.Name] = true
			}
			if rel.HasQueue("scheduler") {
				schedulers = append(schedulers, f)
			}
		}
		label := "all queues"
		unitName := "mastodon-sidekiq.service"
		name := p.Name
		if name == "" && len(names) > 0 {
			name = strings.Join(names, "-")
		}
		if len(names) > 0 {
			label = strings.Join(names, ", ")
		}
		if len(procs) > 1 || p.Name != "" {
			if name == "" {
				name = "all"
			}
			if !unitPartRe.MatchString(name) {
				ps.Errorf(f+".name", ErrUnitName, "%q cannot be part of a unit name: use letters, digits, '_', '-' and '.'", name)
			}
			unitName = "mastodon-sidekiq-" + name + ".service"
		}
		if other, ok := units[unitName]; ok {
			ps.Errorf(f+".name", ErrUnitName, "unit %s is also rendered for %s: give one of them a distinct name", unitName, other)
		}
		units[unitName] = f
		out = append(out, sidekiqSpec{unit: unitName, label: label, Sidekiq: p})
	}
	if inCluster {
		return out, served, schedulers
	}
	if len(schedulers) > 1 {
		ps.Errorf("sidekiq", ErrScheduler, "%s all serve the scheduler queue: scheduled jobs would be enqueued by each of them; keep scheduler in exactly one process", strings.Join(schedulers, ", "))
	}
	if !rel.SchedulerIsQueue() && len(procs) > 1 {
		ps.Warnf("sidekiq", ErrScheduler, "before Mastodon 3.3 every sidekiq process loads the schedule: %d processes run each scheduled job %d times", len(procs), len(procs))
	}
	for _, q := range rel.Queues() {
		if !served[q.Name] {
			ps.Warnf("sidekiq", ErrUnknownQueue, "no process serves queue %q of Mastodon %s: its jobs would never run; add it to one process", q.Name, rel)
		}
	}
	return out, served, schedulers
}

// checkProcesses reports unknown or repeated process names, and none mixed with others.
func checkProcesses(ps *report.Problems, procs []Process) {
	for i, p := range procs {
		f := fmt.Sprintf("processes[%d]", i)
		switch p {
		case ProcessWeb, ProcessSidekiq, ProcessStreaming:
		case ProcessNone:
			if len(procs) > 1 {
				ps.Errorf(f, ErrProcesses, "none means no Mastodon process: give it alone, or list web, sidekiq and streaming without it")
			}
		default:
			ps.Errorf(f, ErrProcesses, "%q is not a Mastodon process: use web, sidekiq, streaming, or none alone", p)
		}
		if slices.Contains(procs[:i], p) {
			ps.Errorf(f, ErrProcesses, "%s is listed twice: list each process once", p)
		}
	}
}

// processList prints the processes for messages ("web, sidekiq, streaming" when empty).
func processList(procs []Process) string {
	if len(procs) == 0 {
		return "web, sidekiq, streaming"
	}
	var n []string
	for _, p := range procs {
		n = append(n, string(p))
	}
	return strings.Join(n, ", ")
}

func queueNames(rel mastodon.Release) string {
	var n []string
	for _, q := range rel.Queues() {
		n = append(n, q.Name)
	}
	return strings.Join(n, ", ")
}
