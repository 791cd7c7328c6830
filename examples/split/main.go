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
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"

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

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	c := example
	fs := flag.NewFlagSet("split", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write the bundles into, one subdirectory per host (required)")
	fs.TextVar(&c.Release, "mastodon", c.Release, "Mastodon version (default: newest, "+mastodon.Newest().String()+")")
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
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: split --out DIR [flags]  (see -h)")
		return 2
	}
	trees, budget := c.compose(*out)
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

func (c cluster) compose(out string) ([]*bundle.Tree, units.BudgetReport) {
	host := func(name string) *bundle.Tree { return bundle.New(name, filepath.Join(out, name)) }
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

	// Every host's units, after its other files (the install lines follow this order).
	bundle.ClusterUnits(bundle.UnitDir, cluster, []*bundle.Tree{web1, web2, front}, front)

	// NEXT-STEPS.md per host.
	for _, t := range trees {
		t.Add(bundle.File{Path: bundle.NextStepsPath, Mode: 0o644, Data: c.nextSteps(t, rel, h, pg)})
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

func (c cluster) nextSteps(t *bundle.Tree, rel mastodon.Release, h bundle.Host, pg pgsetup.Config) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	code := func(lines ...string) {
		p("```sh")
		for _, l := range lines {
			p("%s", l)
		}
		p("```\n")
	}
	p("# Next steps for %s (Mastodon %s, split over 5 IPv6-only hosts)\n", t.Name, rel)
	p("Run as root on %s, from this directory. The files mirror the host's filesystem.\n", t.Name)
	p("## Put the files in place\n")
	home := cmp.Or(c.Home, "/home/mastodon")
	code(t.InstallLines(home, bundle.HBABlockPath, bundle.HBAPath)...)
	switch t.Name {
	case "db1":
		allow := []string{"v6-pgsetup", "--role", pg.Role, "--database", pg.Database, "--password-file", "/" + bundle.DBPasswordPath,
			"--mastodon", rel.Line(), "--no-ipv4", "--allow", c.AppPrefix.String(),
			"--web-hosts", strconv.Itoa(pg.Budget.WebHosts), "--streaming", strconv.Itoa(pg.Budget.StreamingInstances),
			"--sidekiq", strconv.Itoa(sum(pg.Budget.Sidekiq))}
		p("## PostgreSQL: role, database, pg_hba.conf (the app prefix with scram-sha-256)\n")
		code("systemctl restart postgresql", bundle.ShellJoin(allow))
	case "redis1":
		p("## Redis: include the snippet (it binds ::1 and %s, with a password)\n", c.Redis)
		code("grep -qx 'include /"+bundle.RedisPath+"' /etc/redis/redis.conf || echo 'include /"+bundle.RedisPath+"' >> /etc/redis/redis.conf",
			"systemctl restart redis-server")
	case "web1", "web2":
		p("## Mastodon (as the mastodon user in /home/mastodon/live)\n")
		steps := append([]string{"cd " + bundle.ShellQuote(path.Join(home, "live"))}, rel.BundleInstallCommands()...)
		steps = append(steps, rel.JSInstallCommand(), rel.AssetsCommand())
		if t.Name == "web1" {
			steps = append(steps, rel.DBSetupCommand()+"   # once, on web1 only")
		}
		code(steps...)
		p("## Start\n")
		code("systemctl daemon-reload", "systemctl enable --now mastodon-web.service mastodon-streaming.service 'mastodon-sidekiq*.service'")
		if t.Name == "web1" {
			p("## The owner account (once)\n")
			code(rel.OwnerCommand("admin", c.AdminEmail))
		}
	case "front":
		p("## The certificate, then the site\n")
		p("The webroot must exist; copy public/ from web1 after its asset build so nginx serves the assets itself.\n")
		code("mkdir -p "+bundle.ShellQuote(h.Webroot()), "rsync -a "+bundle.ShellQuote("web1:"+path.Join(home, "live", "public")+"/")+" "+bundle.ShellQuote(h.Webroot()+"/"))
		code("ln -sf /"+bundle.BootstrapPath+" /etc/nginx/sites-enabled/", "nginx -t && systemctl reload nginx",
			bundle.ShellJoin(h.CertCommand()),
			"rm /etc/nginx/sites-enabled/"+filepath.Base(bundle.BootstrapPath),
			"ln -sf /"+bundle.SitePath+" /etc/nginx/sites-enabled/", "nginx -t && systemctl reload nginx",
			"systemctl daemon-reload", "systemctl enable --now "+units.CertRenewTimer)
	}
	return b.Bytes()
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
