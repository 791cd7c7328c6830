// Package units renders the systemd units of a Mastodon host: puma (web), one or more
// sidekiq processes split by queue, streaming (one unit before 4.2, templated
// mastodon-streaming@PORT instances behind a shim from 4.2), the prometheus exporter
// (4.6+) and the certificate renewal service and timer that run `v6-certs renew`.
//
// Upstream ships units only as files to copy. This package renders them for the target
// Mastodon release from a typed [Deployment]: BIND in the form each process of that
// release needs (set per unit, never in .env.production), the dist hardening block with
// ReadWritePaths adjusted for the site, Debian or RHEL paths, and the PostgreSQL
// connection [Budget] checked before anything is written. [Deployment.Validate] reports
// every problem at once; [Deployment.Render] returns a [Plan] of [File] values built as
// go-systemd unit options and serialized with unit.Serialize; [Plan.WriteDir] writes
// them atomically (0644) and says which it created, replaced or left unchanged. Every
// value that reaches a unit goes through one escaping function (quoting, % as %%, $ as
// $$ in command arguments); newlines and control characters are refused naming the
// field, and so is a '$' in the path a command line starts with, which systemd
// substitutes in argv[0] but not in the path it runs.
//
// A host may run part of Mastodon ([Deployment.Processes]: a worker-only host, a front
// host with only the renewal timer); the hosts of a split topology are judged together
// as a [Cluster]: one release, exactly one scheduler, every queue served somewhere, and
// one connection budget against the database's max_connections.
//
// [Apply] runs daemon-reload, enable and start/restart through a small [Manager]
// interface; [DBusManager] implements it with go-systemd's dbus package. What is tested
// and what is not: systemd is not PID 1 on the machines the tests run on, so nothing here
// starts a real unit. The call sequence and its D-Bus wire encoding are tested against a
// private dbus-daemon with a fake org.freedesktop.systemd1 manager; the units themselves
// are checked with systemd-analyze verify and security, and their parsed values with
// `systemd --test`.
package units

import (
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/v6kit/v6kit/mastodon"
)

// Layout is a distribution family: it picks the default paths of node, npm, rbenv and
// the system tools, and the names of the PostgreSQL and Redis units.
type Layout string

const (
	// Debian is Debian and Ubuntu (the zero value).
	Debian Layout = "debian"
	// RHEL is the RHEL family: CentOS (the origin story's CentOS 7), Alma, Rocky.
	RHEL Layout = "rhel"
)

// Paths are the paths the units name. Every zero field takes the layout's default.
type Paths struct {
	// Home is the user's home. Empty: /home/USER.
	Home string `json:"home"`
	// App is the Mastodon checkout, the WorkingDirectory. Empty: HOME/live.
	App string `json:"app"`
	// Bundle is the Ruby launcher. Empty: HOME/.rbenv/shims/bundle (rbenv's shim).
	Bundle string `json:"bundle"`
	// Node is node. Empty: /usr/bin/node (Debian's nodejs and NodeSource; RHEL's
	// AppStream module and NodeSource alike).
	Node string `json:"node"`
	// NPM is npm, used by streaming up to 2.7. Empty: /usr/bin/npm.
	NPM string `json:"npm"`
	// Kill is kill(1) for ExecReload. Empty: /bin/kill on Debian, /usr/bin/kill on RHEL.
	Kill string `json:"kill"`
	// Echo is echo(1) for the streaming shim. Empty: /bin/echo on Debian, /usr/bin/echo on RHEL.
	Echo string `json:"echo"`
	// Certs is the v6-certs binary. Empty: /usr/local/bin/v6-certs.
	Certs string `json:"certs"`
	// Jemalloc is the LD_PRELOAD value for releases whose dist units preload jemalloc
	// (3.5+). Empty: the runtime soname libjemalloc.so.2 (Debian's libjemalloc2,
	// EPEL's jemalloc), found by the dynamic linker without the -dev symlink that
	// upstream's bare libjemalloc.so needs. "-" disables the preload.
	Jemalloc string `json:"jemalloc"`
}

// Sandbox chooses the hardening block of the Mastodon units. No block sets
// MemoryDenyWriteExecute, as Mastodon's dist units don't: Node's V8 (streaming) and
// Ruby's YJIT (in puma and sidekiq, when the Ruby runs it) make the code they compile
// executable after writing it, and Node is killed under the setting
// (TestNoMemoryDenyWriteExecute runs it).
type Sandbox string

const (
	// SandboxDist is the block the release's own dist units carry (the zero value): none
	// before 3.4, the first sandbox in 3.4, the full block from 3.5; ReadWritePaths is
	// always adjusted to the app directory and [Deployment.ReadWritePaths].
	SandboxDist Sandbox = ""
	// SandboxFull applies the 3.5+ block whatever the release.
	SandboxFull Sandbox = "full"
	// SandboxNone renders no sandbox.
	SandboxNone Sandbox = "none"
)

// Process is one of the Mastodon processes a host runs (see [Deployment.Processes]).
type Process string

const (
	// ProcessWeb is puma: mastodon-web.service.
	ProcessWeb Process = "web"
	// ProcessSidekiq is every sidekiq process of [Deployment.Sidekiq].
	ProcessSidekiq Process = "sidekiq"
	// ProcessStreaming is the streaming server (its unit, or the shim and its instances).
	ProcessStreaming Process = "streaming"
	// ProcessNone, alone, means no Mastodon process at all: a front nginx host or a
	// database host that gets only the certificate renewal timer (or the exporter).
	ProcessNone Process = "none"
)

// Deployment is the typed model of a Mastodon host's processes. The zero value is the
// newest release, all-in-one on Debian: user mastodon, web and streaming on 127.0.0.1,
// one sidekiq process for every queue, one streaming instance.
type Deployment struct {
	// Release is the target Mastodon release ([mastodon.Lookup]). Zero: [mastodon.Newest].
	Release mastodon.Release `json:"mastodon"`
	// Processes chooses which Mastodon processes this host runs: any of web, sidekiq and
	// streaming (a worker-only host is [ProcessSidekiq] alone), or [ProcessNone] alone for
	// a host with only the renewal timer. Units, enable and start lists and the
	// connection budget cover only these. Empty: all three, the all-in-one host.
	Processes []Process `json:"processes,omitempty"`
	// Layout is the distribution family. Empty: Debian.
	Layout Layout `json:"layout"`
	// User runs every Mastodon process. Empty: mastodon.
	User string `json:"user"`
	// Paths overrides the layout's paths.
	Paths Paths `json:"paths"`
	// Bind is what web and streaming listen on, written per unit in each process's form
	// (puma [::], streaming bare :: before 4.3). Zero: 127.0.0.1, the dist default.
	Bind netip.Addr `json:"bind"`
	// Web is puma.
	Web Web `json:"web"`
	// Sidekiq lists the sidekiq processes. Empty: one process for every queue of the
	// release with the dist concurrency (5 for 1.6, 25 from 2.6).
	Sidekiq []Sidekiq `json:"sidekiq"`
	// Streaming is the streaming server.
	Streaming Streaming `json:"streaming"`
	// Exporter adds mastodon-prometheus-exporter.service (4.6+). Nil: none.
	Exporter *Exporter `json:"exporter,omitempty"`
	// CertRenew adds v6kit-cert-renew.service and .timer. Nil: none.
	CertRenew *CertRenew `json:"cert_renew,omitempty"`
	// ReadWritePaths are written to outside the app directory (a media path, a socket
	// directory); they join the app directory in every sandboxed unit's ReadWritePaths.
	ReadWritePaths []string `json:"read_write_paths,omitempty"`
	// Env is extra environment for every Mastodon unit (not secrets: unit files are
	// world-readable), e.g. RUBY_YJIT_ENABLE=1.
	Env []Var `json:"env,omitempty"`
	// LocalServices orders the units after the layout's PostgreSQL and Redis units
	// (After= and Wants=), for an all-in-one host.
	LocalServices bool `json:"local_services"`
	// Sandbox chooses the hardening block. Empty: the release's dist block.
	Sandbox Sandbox `json:"sandbox"`
	// MaxConnections is PostgreSQL's max_connections for the connection budget.
	// Zero: 100, PostgreSQL's default.
	MaxConnections int `json:"max_connections"`
	// Reserve is the connection budget's reserve for admins and tootctl. Zero: 5.
	Reserve int `json:"reserve"`
}

// Var is one environment variable.
type Var struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Web is puma.
type Web struct {
	// Port is PORT. Zero: 3000.
	Port int `json:"port"`
	// Workers is WEB_CONCURRENCY. Zero: 2.
	Workers int `json:"workers"`
	// Threads is MAX_THREADS, each worker's database pool. Zero: 5.
	Threads int `json:"threads"`
}

// Queue is a sidekiq queue with its weight (zero: unweighted).
type Queue struct {
	Name   string `json:"name"`
	Weight int    `json:"weight,omitempty"`
}

// Sidekiq is one sidekiq process.
type Sidekiq struct {
	// Name is the unit's suffix: mastodon-sidekiq-NAME.service. Empty: the queue names
	// joined with '-', or plain mastodon-sidekiq.service for the only process.
	Name string `json:"name,omitempty"`
	// Queues are the queues it serves, as -q NAME[,WEIGHT]. Empty: every queue, read from
	// config/sidekiq.yml (the dist unit's form).
	Queues []Queue `json:"queues,omitempty"`
	// Concurrency is -c and DB_POOL; it must be positive.
	Concurrency int `json:"concurrency"`
}

// Streaming is the streaming server.
type Streaming struct {
	// Instances is how many processes run: mastodon-streaming@PORT instances from 4.2,
	// STREAMING_CLUSTER_NUM workers of one unit before. Zero: 1.
	Instances int `json:"instances"`
	// Ports are the instances' ports (4.2+; one port before). Empty: 4000, 4001, …
	Ports []int `json:"ports,omitempty"`
	// Pool is each process's DB_POOL. Zero: 10, Mastodon's default.
	Pool int `json:"pool"`
}

// Exporter is the prometheus exporter (4.6+).
type Exporter struct {
	// Bind is -b. Zero: 127.0.0.1.
	Bind netip.Addr `json:"bind"`
	// Port is -p. Zero: 9394.
	Port int `json:"port"`
}

// CertRenew is the certificate renewal service and its timer.
type CertRenew struct {
	// Args follow `v6-certs renew`.
	Args []string `json:"args,omitempty"`
	// OnCalendar is the timer's schedule. Empty: daily.
	OnCalendar string `json:"on_calendar,omitempty"`
	// RandomizedDelay spreads the runs. Zero: 1h.
	RandomizedDelay time.Duration `json:"randomized_delay,omitempty"`
	// OnFailure is a unit started when a renewal fails (a mail or chat hook). Empty: none.
	OnFailure string `json:"on_failure,omitempty"`
	// DeployHook is a shell command v6-certs runs once after certificates changed
	// (`--deploy-hook CMD`), instead of reloading nginx. Empty: none.
	DeployHook string `json:"deploy_hook,omitempty"`
	// NoReload leaves the deploy step out: renewed certificates are then served only
	// after something else reloads nginx. Zero (false): the service runs
	// `v6-certs renew … --reload-nginx` (nginx -t, then reload nginx.service), unless
	// DeployHook is set or Args already hold --reload-nginx or --deploy-hook.
	NoReload bool `json:"no_reload,omitempty"`
}

// deployArgs are the arguments appended after Args: the deploy step.
func (r CertRenew) deployArgs() []string {
	for _, a := range r.Args {
		if a == "--reload-nginx" || a == "--deploy-hook" || strings.HasPrefix(a, "--deploy-hook=") || strings.HasPrefix(a, "--reload-nginx=") {
			return nil
		}
	}
	switch {
	case r.DeployHook != "":
		return []string{"--deploy-hook", r.DeployHook}
	case r.NoReload:
		return nil
	}
	return []string{"--reload-nginx"}
}

// layoutDefaults are the paths and unit names a layout implies.
type layoutDefaults struct {
	kill, echo, postgres, redis string
}

func (l Layout) defaults() layoutDefaults {
	if l == RHEL {
		// RHEL family: coreutils and procps-ng in /usr/bin; redis.service (AppStream/EPEL);
		// postgresql.service (AppStream; PGDG names it postgresql-NN.service).
		return layoutDefaults{kill: "/usr/bin/kill", echo: "/usr/bin/echo", postgres: "postgresql.service", redis: "redis.service"}
	}
	return layoutDefaults{kill: "/bin/kill", echo: "/bin/echo", postgres: "postgresql.service", redis: "redis-server.service"}
}

func fallback[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// resolvedPaths returns p with every empty field set from the layout and user.
func (d Deployment) resolvedPaths() Paths {
	p := d.Paths
	ld := d.Layout.defaults()
	p.Home = fallback(p.Home, path.Join("/home", fallback(d.User, "mastodon")))
	p.App = fallback(p.App, path.Join(p.Home, "live"))
	p.Bundle = fallback(p.Bundle, path.Join(p.Home, ".rbenv/shims/bundle"))
	p.Node = fallback(p.Node, "/usr/bin/node")
	p.NPM = fallback(p.NPM, "/usr/bin/npm")
	p.Kill = fallback(p.Kill, ld.kill)
	p.Echo = fallback(p.Echo, ld.echo)
	p.Certs = fallback(p.Certs, "/usr/local/bin/v6-certs")
	p.Jemalloc = fallback(p.Jemalloc, "libjemalloc.so.2")
	return p
}

// Runs reports whether the deployment runs process p (every process when
// [Deployment.Processes] is empty).
func (d Deployment) Runs(p Process) bool {
	if len(d.Processes) == 0 {
		return p != ProcessNone
	}
	for _, x := range d.Processes {
		if x == p {
			return true
		}
	}
	return false
}

// Budget returns the deployment's PostgreSQL connection budget: web workers × threads,
// every sidekiq concurrency, streaming processes × pool, reserve, against MaxConnections.
// Only the processes the host runs count: a worker-only host has no web or streaming pool.
func (d Deployment) Budget() Budget {
	b := Budget{
		WebWorkers:     d.Web.Workers,
		WebThreads:     d.Web.Threads,
		StreamingPool:  d.Streaming.Pool,
		Reserve:        d.Reserve,
		MaxConnections: d.MaxConnections,
	}
	if !d.Runs(ProcessWeb) {
		b.NoWeb = true
	}
	if d.Runs(ProcessStreaming) {
		b.StreamingInstances = fallback(d.Streaming.Instances, 1)
	}
	if d.Runs(ProcessSidekiq) {
		for _, s := range d.sidekiqs() {
			b.Sidekiq = append(b.Sidekiq, s.Concurrency)
		}
	}
	return b
}
