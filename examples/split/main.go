// Command split renders the origin story's "what next": Mastodon spread over five
// IPv6-only hosts on a private ULA network, one bundle per host under --out/HOSTNAME/.
//
//	front   nginx (public IPv6), the certificate and its renewal timer
//	web1    puma + streaming, sidekiq default/ingress/… and the one scheduler
//	web2    puma + streaming, sidekiq push/pull and mailers
//	db1     PostgreSQL, pg_hba open to the app hosts' prefix only
//	redis1  Redis bound to ::1 and its ULA address, with a password
//
//	go run ./examples/split --out ./cluster
//
// The connection budget of every pool on every host is checked against db1's
// max_connections, every sidekiq queue must be served by exactly one host's process
// set, and nothing is written unless all five bundles are valid. web1 and web2 share
// one .env.production (same secrets); re-running keeps them.
package main

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/nginxconf"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/redisconf"
	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

// cluster is the example topology. Every address is a ULA (fd00::/8) literal.
type cluster struct {
	Release                mastodon.Release
	LocalDomain, WebDomain string
	AdminEmail             string
	AppPrefix              netip.Prefix // web1 and web2 live here; pg_hba and Redis admit it
	Front, Web1, Web2      netip.Addr
	DB, Redis              netip.Addr
	MaxConnections         int
	// Home is the mastodon user's home on every host (web1's and web2's checkout and
	// .env.production, front's webroot). Empty: /home/mastodon.
	Home string
	// LetsEncrypt is front's certificate directory. Empty: /etc/letsencrypt.
	LetsEncrypt string
	// ACMEServer is the ACME directory URL front's certificate comes from. Empty: Let's
	// Encrypt production.
	ACMEServer string
	// NginxCache is front's proxy_cache_path. Empty: /var/cache/nginx.
	NginxCache string
	RAM        int64
	CPUs       int
	Rand       io.Reader
}

var example = cluster{
	LocalDomain:    "example.org",
	WebDomain:      "social.example.org",
	AdminEmail:     "admin@example.org",
	AppPrefix:      netip.MustParsePrefix("fd7a:6b69:7400:10::/64"),
	Front:          netip.MustParseAddr("fd7a:6b69:7400:10::80"),
	Web1:           netip.MustParseAddr("fd7a:6b69:7400:10::31"),
	Web2:           netip.MustParseAddr("fd7a:6b69:7400:10::32"),
	DB:             netip.MustParseAddr("fd7a:6b69:7400:20::5"),
	Redis:          netip.MustParseAddr("fd7a:6b69:7400:20::6"),
	MaxConnections: 200,
	RAM:            16 << 30,
	CPUs:           8,
}

func main() { os.Exit(bundle.Main("split", run)) }

func run(args []string, stdout, stderr io.Writer) int {
	c := example
	cmd := bundle.NewClusterCommand("split", "split --out DIR [--diff] [flags]", &c.Release, stdout, stderr)
	fs := cmd.Flags
	fs.StringVar(&c.LocalDomain, "domain", c.LocalDomain, "LOCAL_DOMAIN")
	fs.StringVar(&c.WebDomain, "web-domain", c.WebDomain, "WEB_DOMAIN")
	fs.StringVar(&c.AdminEmail, "email", c.AdminEmail, "Let's Encrypt contact")
	fs.TextVar(&c.AppPrefix, "app-prefix", c.AppPrefix, "the app hosts' IPv6 prefix (pg_hba and Redis admit it)")
	for _, a := range []struct {
		name string
		p    *netip.Addr
	}{{"front", &c.Front}, {"web1", &c.Web1}, {"web2", &c.Web2}, {"db", &c.DB}, {"redis", &c.Redis}} {
		fs.TextVar(a.p, a.name+"-addr", *a.p, "IPv6 address of "+a.name)
	}
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "db1's max_connections")
	fs.StringVar(&c.Home, "home", c.Home, "home of the mastodon user on every host (default /home/mastodon)")
	fs.StringVar(&c.LetsEncrypt, "letsencrypt", c.LetsEncrypt, "front's certificate directory in certbot's layout (default /etc/letsencrypt)")
	fs.StringVar(&c.ACMEServer, "acme-server", c.ACMEServer, "ACME directory URL (default Let's Encrypt production)")
	fs.StringVar(&c.NginxCache, "nginx-cache", c.NginxCache, "front's nginx proxy_cache_path (default /var/cache/nginx)")
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	trees, budget := c.compose(cmd.Tree)
	if cmd.Diff {
		return bundle.DiffTrees(stdout, stderr, trees...)
	}
	return bundle.Finish(stdout, stderr, budget, []bundle.Line{
		{Label: "Mastodon", Value: c.release().String() + " on 5 IPv6-only hosts"},
		{Label: "LOCAL_DOMAIN / WEB_DOMAIN", Value: c.LocalDomain + " / " + c.WebDomain},
	}, trees...)
}

func (c cluster) release() mastodon.Release { return c.Release.OrNewest() }

// The process layout across hosts: puma and streaming on both web hosts, sidekiq
// split by queue with one scheduler.
func (c cluster) sidekiq(rel mastodon.Release) (web1, web2 []units.Sidekiq) {
	split := bundle.SplitSidekiq(rel) // default+ingress+… @25, push+pull @10, mailers @5, scheduler @5
	for _, sk := range split {
		if slices.ContainsFunc(sk.Queues, func(q units.Queue) bool {
			return q.Name == "push" || q.Name == "pull" || q.Name == "mailers"
		}) {
			web2 = append(web2, sk)
		} else {
			web1 = append(web1, sk)
		}
	}
	return web1, web2
}

// compose renders every host's bundle into host(NAME)'s tree.
func (c cluster) compose(host func(name string) *bundle.Tree) ([]*bundle.Tree, units.BudgetReport) {
	front, web1, web2, db, rds := host("front"), host("web1"), host("web2"), host("db1"), host("redis1")
	trees := []*bundle.Tree{front, web1, web2, db, rds}
	var budget units.BudgetReport

	if err := c.Release.Check(); err != nil {
		front.Problems.Errorf("mastodon", err, "%v", err)
		return trees, budget
	}
	rel := c.release()
	c.checkAddrs(&front.Problems)
	h := c.host(rel)

	// Shared secrets: the role's and Redis' passwords live in the app hosts'
	// .env.production (web1's is the source of truth) and are copied to db1 and redis1.
	envPath := h.EnvPath()
	existing := web1.ExistingEnv(envPath)
	if existing == nil {
		existing = web2.ExistingEnv(envPath) // web1 was wiped: take the secrets from web2
	}
	dbPass, err1 := bundle.KeepSecret(existing, "DB_PASS", c.Rand)
	redisPass, err2 := bundle.KeepSecret(existing, "REDIS_PASSWORD", c.Rand)
	if existing != nil {
		if u, ok := existing.Get("REDIS_URL"); ok {
			redisPass = redisPasswordFromURL(u, redisPass)
		}
	}
	for _, err := range []error{err1, err2} {
		if err != nil {
			web1.Problems.Errorf("secrets", envfile.ErrSecretFormat, "%v", err)
		}
	}

	// redis1: ::1 plus its ULA address, with a password (it is off loopback).
	redis := redisconf.Config{Release: rel, Family: redisconf.IPv6Only, Bind: []netip.Addr{c.Redis}, Password: redisPass, ClientAddr: c.Redis}
	rds.Redis(bundle.RedisPath, redis)
	redisEnv, ps := redis.Env()
	rds.Problem("redis.env", ps)

	// web1 and web2: one .env.production, PostgreSQL and Redis over the ULA network.
	env := envfile.Config{
		LocalDomain: c.LocalDomain,
		WebDomain:   c.WebDomain,
		DB:          envfile.DB{Host: c.DB.String(), Password: dbPass},
		// Rails believes X-Forwarded-For only from the front host.
		TrustedProxyIP: []netip.Prefix{netip.PrefixFrom(c.Front, 128)},
	}
	for _, v := range redisEnv {
		if v.Key == "REDIS_URL" {
			env.Redis.URL = v.Value
		} else {
			env.Extra = append(env.Extra, envfile.Var{Key: v.Key, Value: v.Value})
		}
	}
	envFile := web1.EnvFrom(envPath, existing, env, envfile.Options{Release: rel, Rand: c.Rand})
	if envFile != nil {
		if f, ok := web1.File(envPath); ok {
			if other := web2.ExistingEnv(envPath); other != nil && !sameSecrets(other, envFile, rel) {
				web2.Problems.Errorf(envPath, envfile.ErrRotate, "web2's secrets differ from web1's: copy web1's .env.production to web2 (or move one away) before re-rendering")
			}
			web2.Add(f)
		}
	}

	// Units: each web host runs puma and streaming bound to its own ULA address, plus
	// its share of sidekiq; front runs no Mastodon process, only the renewal timer that
	// reloads its nginx. The hosts are validated as one cluster: every queue served
	// somewhere, exactly one scheduler, one connection budget against db1's
	// max_connections.
	sk1, sk2 := c.sidekiq(rel)
	app := []units.Process{units.ProcessWeb, units.ProcessStreaming, units.ProcessSidekiq}
	paths := units.Paths{Home: c.Home}
	cluster := units.Cluster{MaxConnections: c.MaxConnections, Hosts: []units.Host{
		{Name: "web1", Deployment: units.Deployment{Release: rel, Paths: paths, Processes: app, Bind: c.Web1, Sidekiq: sk1}},
		{Name: "web2", Deployment: units.Deployment{Release: rel, Paths: paths, Processes: app, Bind: c.Web2, Sidekiq: sk2}},
		{Name: "front", Deployment: units.Deployment{Release: rel, Paths: paths, Processes: []units.Process{units.ProcessNone},
			CertRenew: &units.CertRenew{Args: h.RenewArgs()}}},
	}}
	b := cluster.Budget()
	budget = b.Compute()

	// db1: pg_hba admits the app prefix with scram-sha-256 (and ::1), PostgreSQL listens
	// on its ULA address, the tuning is sized for the budget.
	pg := pgsetup.Config{Role: "mastodon", Database: "mastodon_production", Password: dbPass, NoIPv4: true,
		Allow: []netip.Prefix{c.AppPrefix}, Release: rel, Budget: b}
	db.HBA(bundle.HBAPath, bundle.HBABlockPath, pg)
	db.Add(bundle.File{Path: bundle.DBPasswordPath, Data: []byte(dbPass + "\n"), Mode: 0o600, Secret: true})
	db.Tuning(bundle.TuningPath, pgsetup.Tuning{RAM: c.RAM, CPUs: c.CPUs, Connections: c.MaxConnections})
	db.Listen(bundle.ListenPath, pgsetup.Listen{NoIPv4: true, Addrs: []netip.Addr{c.DB}}) // ::1 and the address the app hosts reach

	// front: nginx balances both web hosts (puma and streaming on each), holds the
	// certificate and renews it.
	cert, key := h.CertPaths()
	webHosts := []netip.Addr{c.Web1, c.Web2}
	site := nginxconf.Site{Domain: c.LocalDomain, WebDomain: c.WebDomain, Release: rel, Cert: cert, Key: key,
		Root: h.Webroot(), CachePath: c.NginxCache,
		Web: nginxconf.Backend{Addrs: webHosts}, Streaming: nginxconf.Backend{Addrs: webHosts}}
	front.Site(bundle.SitePath, site)
	front.Bootstrap(bundle.BootstrapPath, site)

	// Every host's units, after its other files (the install steps follow this order).
	plans := bundle.ClusterUnits(bundle.UnitDir, cluster, []*bundle.Tree{web1, web2, front}, front)

	// NEXT-STEPS.md and INSTALL-STEPS.json per host, from the same step data, once every
	// value that reaches their command lines is known to be one clean argument.
	if !c.checkValues(&front.Problems) {
		return trees, budget
	}
	for _, t := range trees {
		info := bundle.Info{Release: rel, PG: pg, Redis: redis, CertCommand: h.CertCommand()}
		for i, name := range []string{"web1", "web2", "front"} {
			if t.Name == name && i < len(plans) {
				info.Deployment, info.Plan = cluster.Hosts[i].Deployment, plans[i]
			}
		}
		t.AddSteps(c.stepsDoc(t, h, c.steps(t, h, info)))
	}
	return trees, budget
}

// host is what the certificate, the webroot and the home-relative paths derive from.
func (c cluster) host(rel mastodon.Release) bundle.Host {
	return bundle.Host{Release: rel, LocalDomain: c.LocalDomain, WebDomain: c.WebDomain, AdminEmail: c.AdminEmail,
		Home: c.Home, LetsEncrypt: c.LetsEncrypt, ACMEServer: c.ACMEServer, NginxCache: c.NginxCache}
}

// checkAddrs refuses addresses outside the ULA range and app hosts outside AppPrefix.
func (c cluster) checkAddrs(ps *report.Problems) {
	ula := netip.MustParsePrefix("fc00::/7")
	for _, a := range []struct {
		name string
		addr netip.Addr
	}{{"front", c.Front}, {"web1", c.Web1}, {"web2", c.Web2}, {"db", c.DB}, {"redis", c.Redis}} {
		if !a.addr.Is6() || a.addr.Is4In6() || a.addr.Zone() != "" {
			ps.Errorf(a.name+"-addr", redisconf.ErrAddr, "%s is not an IPv6 address without zone", a.addr)
		} else if !ula.Contains(a.addr) {
			ps.Warnf(a.name+"-addr", redisconf.ErrAddr, "%s is not a ULA (fc00::/7): make sure PostgreSQL and Redis are not reachable from the internet", a.addr)
		}
	}
	for _, a := range []netip.Addr{c.Web1, c.Web2} {
		if !c.AppPrefix.Contains(a) {
			ps.Errorf("app-prefix", pgsetup.ErrPrefix, "web host %s is outside --app-prefix %s: pg_hba.conf would refuse it", a, c.AppPrefix)
		}
	}
}

// sameSecrets reports whether two .env.production files hold the same secrets.
func sameSecrets(a, b *envfile.File, rel mastodon.Release) bool {
	return len(envfile.Generated(a, b, rel)) == 0
}

// redisPasswordFromURL takes the password of redis://:PASSWORD@host/ so it survives.
func redisPasswordFromURL(u, fallback string) string {
	const p = "redis://:"
	if len(u) > len(p) && u[:len(p)] == p {
		rest := u[len(p):]
		for i := 0; i < len(rest); i++ {
			if rest[i] == '@' {
				return rest[:i]
			}
		}
	}
	return fallback
}

// checkValues records every flag value that reaches a command line of the hosts'
// steps and is not one clean argument of its kind; false when there was one.
func (c cluster) checkValues(ps *report.Problems) bool {
	ok := true
	check := func(flag string, kind bundle.ArgKind, v string) {
		if err := bundle.CheckArg(kind, v); err != nil {
			ps.Errorf("--"+flag, err, "%v", err)
			ok = false
		}
	}
	check("domain", bundle.ArgHostName, c.LocalDomain)
	check("web-domain", bundle.ArgHostName, c.WebDomain)
	check("email", bundle.ArgEmail, c.AdminEmail)
	for _, f := range []struct{ flag, v string }{{"home", c.Home}, {"letsencrypt", c.LetsEncrypt}, {"nginx-cache", c.NginxCache}} {
		if f.v != "" {
			check(f.flag, bundle.ArgConfigPath, f.v)
		}
	}
	if c.ACMEServer != "" {
		check("acme-server", bundle.ArgHTTPSURL, c.ACMEServer)
	}
	return ok
}

// steps are host t's install steps: the all-in-one host's steps ([bundle.Host.Steps])
// that belong on t, with the checks that would read a local database replaced and the
// split's own steps (front's webroot, db1's v6-pgsetup, redis1's restart) added.
func (c cluster) steps(t *bundle.Tree, h bundle.Host, info bundle.Info) []bundle.Step {
	rel := info.Release
	keep := map[string][]string{
		"web1":   {"node", "user", "checkout", "ruby", "corepack", "gems", "yarn", "db-setup", "assets", "units", "owner"},
		"web2":   {"node", "user", "checkout", "ruby", "corepack", "gems", "yarn", "assets", "units"},
		"front":  {"nginx", "certificate", "site", "units"},
		"db1":    {"postgresql", "postgresql-restart", "pgsetup"},
		"redis1": {"redis", "redis-include"},
	}[t.Name]
	live := path.Join(cmp.Or(c.Home, "/home/mastodon"), "live")
	var out []bundle.Step
	for _, st := range h.Steps(t, info) {
		if !strings.HasPrefix(st.ID, "file:") && !slices.Contains(keep, st.ID) {
			continue
		}
		switch st.ID {
		case "db-setup":
			// the database is on db1: ask Rails, over the .env.production's DB_* values
			st.Title = "the database schema and seeds, once, from web1 (only into an empty database: db:setup erases one)"
			st.Check = []bundle.Cmd{railsRunner(st.Run[0], "exit(ActiveRecord::Base.connection.table_exists?(:schema_migrations) ? 0 : 1)")}
		case "owner":
			st.Check = []bundle.Cmd{railsRunner(st.Run[0], "exit(Account.find_local('admin') ? 0 : 1)")}
		case "pgsetup":
			st.Run[0].Args = []string{"v6-pgsetup", "--role", info.PG.Role, "--database", info.PG.Database, "--password-file", "/" + bundle.DBPasswordPath,
				"--mastodon", rel.Line(), "--no-ipv4", "--allow", c.AppPrefix.String(),
				"--web-hosts", strconv.Itoa(info.PG.Budget.WebHosts), "--streaming", strconv.Itoa(info.PG.Budget.StreamingInstances),
				"--sidekiq", strconv.Itoa(sum(info.PG.Budget.Sidekiq))}
			st.Title += ", admitting the app prefix " + c.AppPrefix.String() + " with scram-sha-256"
		case "certificate":
			// the webroot the certificate is answered from exists before it
			webroot := h.Webroot()
			out = append(out, bundle.Step{ID: "webroot", Section: st.Section, Title: "the webroot " + webroot + " (nginx's root, the ACME challenges' directory)",
				Changes: "creates " + webroot,
				Check:   []bundle.Cmd{{Args: []string{"test", "-d", webroot}}},
				Run:     []bundle.Cmd{{Args: []string{"mkdir", "-p", "--", webroot}}},
				Fix:     "the parent directories must be writable by root"})
		}
		out = append(out, st)
		if st.ID == "site" {
			// nginx serves the assets itself: web1's public/ after its asset build
			webroot := h.Webroot()
			marker := path.Join(webroot, strings.TrimPrefix(rel.AssetsBuiltMarker(), "public/"))
			out = append(out, bundle.Step{ID: "public", Section: st.Section, Title: "web1's public/ (with the compiled assets) in " + webroot,
				Changes: "copies " + path.Join(live, "public") + "/ from web1 over SSH into " + webroot,
				Check:   []bundle.Cmd{{Args: []string{"test", "-d", marker}}},
				Run:     []bundle.Cmd{{Args: []string{"rsync", "-a", "--", "web1:" + path.Join(live, "public") + "/", webroot + "/"}}},
				Fix:     "web1's assets step must be done first, and root on front must reach web1 over SSH (rsync -a copies public/ any other way too)"})
		}
	}
	if t.Name == "redis1" {
		// off loopback, with a password: the ULA address answers NOAUTH once Redis runs
		// with the snippet (and refuses the connection before), and Redis started after
		// the snippet and the include last changed
		out = append(out, bundle.Step{ID: "redis-restart", Section: "The files in place", Title: "Redis runs with the snippet: bound to " + c.Redis.String() + ", a password required",
			Changes: "restarts redis-server",
			Check: []bundle.Cmd{bundle.Installed("/" + bundle.RedisPath)[0],
				{Args: []string{"redis-cli", "-h", c.Redis.String(), "-p", "6379", "PING"}, Want: "NOAUTH Authentication required."},
				bundle.StartedAfter("redis-server.service", "/"+bundle.RedisPath, "/etc/redis/redis.conf")},
			Run: []bundle.Cmd{{Args: []string{"systemctl", "restart", "redis-server.service"}}},
			Fix: "journalctl -u redis-server says why Redis did not start with the snippet"})
	}
	return out
}

// railsRunner is a check that runs Ruby in the app as run (db-setup's command) does:
// same user, directory and environment.
func railsRunner(run bundle.Cmd, ruby string) bundle.Cmd {
	run.Args = []string{"bundle", "exec", "rails", "runner", ruby}
	return run
}

// stepsDoc is host t's NEXT-STEPS.md as data.
func (c cluster) stepsDoc(t *bundle.Tree, h bundle.Host, steps []bundle.Step) bundle.StepsDoc {
	d := bundle.StepsDoc{
		Title: fmt.Sprintf("Next steps for %s (Mastodon %s, split over 5 IPv6-only hosts)", t.Name, c.release()),
		Intro: []string{
			"Run them as root on " + t.Name + ", from this directory: each command is one argv, quoted for the shell.",
			"`v6-install --bundle . --plan` shows which are done already, and `v6-install --bundle . --apply`",
			"runs the ones that are not (" + bundle.StepsPath + " holds the same steps). The files mirror the host's filesystem.",
			"Order across hosts: db1 and redis1 first, then web1 (its db-setup once), web2, and front last.",
		},
		Steps: steps,
	}
	switch t.Name {
	case "db1":
		d.FilesNote = "The tree mirrors the host's filesystem; pg_hba.conf is v6-pgsetup's (`" + bundle.HBABlockPath + "` shows the block it writes)."
	case "front":
		outside, _ := h.ProbeCommands(bundle.Info{})
		d.After = []bundle.ManualSection{{Heading: "Check it from outside", Commands: []bundle.ManualCommand{{Argv: outside}}}}
	}
	return d
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
