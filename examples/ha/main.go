// Command ha renders the seed's "outgrown one database and one front" topology: no single
// point of failure, IPv6-only on a private ULA network, one bundle per host under
// --out/HOSTNAME/.
//
//	front1, front2  HAProxy (TLS, health checks, websockets) + keepalived sharing one
//	                IPv6 failover address (VRRPv3)
//	web1, web2      puma + streaming on their ULA addresses; sidekiq split by queue
//	                across the two, one scheduler
//	db1             PostgreSQL primary + PgBouncer (transaction pooling, 6432); sentinel 3
//	db2             PostgreSQL streaming replica: REPLICA_DB_* routes reads to it
//	redis1, redis2  Redis master and replica, each with a sentinel
//
//	go run ./examples/ha --out ./cluster
//
// Sentinels are named, not numbered (Mastodon's REDIS_SENTINELS parser splits on ':'):
// the NEXT-STEPS.md files list the AAAA records to publish. Both sides of the connection
// budget through PgBouncer are checked; nothing is written unless every host is valid.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/haproxy"
	"github.com/v6kit/v6kit/keepalived"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/pgbouncer"
	"github.com/v6kit/v6kit/pgreplica"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/sentinel"
	"github.com/v6kit/v6kit/units"
)

// topology is the example. Every address is a ULA literal on one /64.
type topology struct {
	Release                mastodon.Release
	LocalDomain, WebDomain string
	AdminEmail             string
	Prefix                 netip.Prefix
	VIP                    netip.Addr // the fronts' failover address (the AAAA of WEB_DOMAIN)
	Interface              string     // the LAN interface on the fronts
	Front1, Front2         netip.Addr
	Web1, Web2             netip.Addr
	DB1, DB2               netip.Addr
	Redis1, Redis2         netip.Addr
	// Zone is the internal DNS zone the Redis nodes and sentinels are named in.
	Zone           string
	MaxConnections int
	PoolSize       int // PgBouncer's default_pool_size
	Rand           io.Reader
}

var example = topology{
	LocalDomain: "example.org", WebDomain: "social.example.org", AdminEmail: "admin@example.org",
	Prefix:    netip.MustParsePrefix("fd7a:6b69:7400:30::/64"),
	VIP:       netip.MustParseAddr("fd7a:6b69:7400:30::100"),
	Interface: "eth1",
	Front1:    netip.MustParseAddr("fd7a:6b69:7400:30::11"), Front2: netip.MustParseAddr("fd7a:6b69:7400:30::12"),
	Web1: netip.MustParseAddr("fd7a:6b69:7400:30::21"), Web2: netip.MustParseAddr("fd7a:6b69:7400:30::22"),
	DB1: netip.MustParseAddr("fd7a:6b69:7400:30::31"), DB2: netip.MustParseAddr("fd7a:6b69:7400:30::32"),
	Redis1: netip.MustParseAddr("fd7a:6b69:7400:30::41"), Redis2: netip.MustParseAddr("fd7a:6b69:7400:30::42"),
	Zone:           "ha.internal",
	MaxConnections: 100,
	PoolSize:       40,
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	c := example
	fs := flag.NewFlagSet("ha", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write the bundles into, one subdirectory per host (required)")
	fs.TextVar(&c.Release, "mastodon", c.Release, "Mastodon version, 4.3 or newer (default: newest, "+mastodon.Newest().String()+")")
	fs.StringVar(&c.LocalDomain, "domain", c.LocalDomain, "LOCAL_DOMAIN")
	fs.StringVar(&c.WebDomain, "web-domain", c.WebDomain, "WEB_DOMAIN")
	fs.TextVar(&c.VIP, "vip", c.VIP, "the fronts' IPv6 failover address")
	fs.StringVar(&c.Zone, "zone", c.Zone, "internal DNS zone naming the Redis nodes and sentinels")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "db1's max_connections")
	fs.IntVar(&c.PoolSize, "pool-size", c.PoolSize, "PgBouncer's default_pool_size")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: ha --out DIR [flags]  (see -h)")
		return 2
	}
	trees, pool := c.compose(*out)
	if pool.ServerFormula != "" {
		fmt.Fprintf(stdout, "PgBouncer budget:\n  %s\n  %s\n", pool.ClientFormula, pool.ServerFormula)
	}
	server := units.BudgetReport{Formula: pool.ServerFormula, Total: pool.Server, Available: pool.Available, Headroom: pool.ServerHeadroom}
	return bundle.Finish(stdout, stderr, server, []bundle.Line{
		{Label: "Mastodon", Value: c.Release.OrNewest().String() + " on 8 IPv6-only hosts"},
		{Label: "LOCAL_DOMAIN / WEB_DOMAIN", Value: c.LocalDomain + " / " + c.WebDomain},
		{Label: "failover address", Value: c.VIP.String()},
	}, trees...)
}

// derivedSalt makes the PgBouncer userlist's SCRAM salt a function of the password, so a
// re-run renders the same verifier (and no diff).
func derivedSalt(password string) io.Reader {
	s := sha256.Sum256([]byte("v6kit examples/ha pgbouncer " + password))
	return bytes.NewReader(s[:16])
}

func (c topology) name(host string) string { return host + "." + c.Zone }

func (c topology) compose(out string) ([]*bundle.Tree, units.PoolerReport) {
	host := func(name string) *bundle.Tree { return bundle.New(name, filepath.Join(out, name)) }
	f1, f2, w1, w2 := host("front1"), host("front2"), host("web1"), host("web2")
	db1, db2, r1, r2 := host("db1"), host("db2"), host("redis1"), host("redis2")
	trees := []*bundle.Tree{f1, f2, w1, w2, db1, db2, r1, r2}
	var pool units.PoolerReport
	if err := c.Release.Check(); err != nil {
		f1.Problems.Errorf("mastodon", err, "%v", err)
		return trees, pool
	}
	rel := c.Release.OrNewest()
	for _, a := range []netip.Addr{c.VIP, c.Front1, c.Front2, c.Web1, c.Web2, c.DB1, c.DB2, c.Redis1, c.Redis2} {
		if !c.Prefix.Contains(a) {
			f1.Problems.Errorf("prefix", pgsetup.ErrPrefix, "%s is outside the LAN prefix %s", a, c.Prefix)
		}
	}
	h := bundle.Host{Release: rel, LocalDomain: c.LocalDomain, WebDomain: c.WebDomain, AdminEmail: c.AdminEmail}
	envPath := h.EnvPath()
	existing := w1.ExistingEnv(envPath)
	if existing == nil {
		existing = w2.ExistingEnv(envPath)
	}
	secret := func(key string) string {
		v, err := bundle.KeepSecret(existing, key, c.Rand)
		if err != nil {
			w1.Problems.Errorf("secrets", envfile.ErrSecretFormat, "%v", err)
		}
		return v
	}
	dbPass, redisPass, sentPass := secret("DB_PASS"), secret("REDIS_PASSWORD"), secret("REDIS_SENTINEL_PASSWORD")
	// The replication role's password is derived from DB_PASS: as secret, and stable across runs.
	sum := sha256.Sum256([]byte("v6kit examples/ha replication " + dbPass))
	replPass := hex.EncodeToString(sum[:16])

	// Processes: puma + streaming on both web hosts, sidekiq split, one budget of pools.
	var sk1, sk2 []units.Sidekiq
	for _, sk := range bundle.SplitSidekiq(rel) {
		if slices.ContainsFunc(sk.Queues, func(q units.Queue) bool { return q.Name == "push" || q.Name == "pull" || q.Name == "mailers" }) {
			sk2 = append(sk2, sk)
		} else {
			sk1 = append(sk1, sk)
		}
	}
	app := []units.Process{units.ProcessWeb, units.ProcessStreaming, units.ProcessSidekiq}
	// The app's pools are PgBouncer's clients: the cluster is checked against max_client_conn.
	const maxClientConn = 400
	cluster := units.Cluster{MaxConnections: maxClientConn + 3, Hosts: []units.Host{
		{Name: "web1", Deployment: units.Deployment{Release: rel, Processes: app, Bind: c.Web1, Sidekiq: sk1}},
		{Name: "web2", Deployment: units.Deployment{Release: rel, Processes: app, Bind: c.Web2, Sidekiq: sk2}},
	}}

	// db1: PgBouncer in front of the primary; the budget has two sides.
	verifier, err := pgsetup.SCRAMVerifier(dbPass, derivedSalt(dbPass))
	if err != nil {
		db1.Problems.Errorf("db_pass", envfile.ErrSecretFormat, "%v", err)
	}
	bouncer := pgbouncer.Config{Release: rel, Listen: []netip.Addr{netip.MustParseAddr("::1"), c.DB1}, Server: c.DB1,
		Verifier: verifier, Pool: units.PoolerBudget{Clients: cluster.Budget(), MaxClientConn: maxClientConn, DefaultPoolSize: c.PoolSize, MaxConnections: c.MaxConnections}}
	pool = bouncer.Budget()
	db1.Problem("pgbouncer", bouncer.Validate())
	if ini, err := bouncer.Bytes(); err == nil {
		db1.Add(bundle.File{Path: "etc/pgbouncer/pgbouncer.ini", Data: ini, Mode: 0o640})
	}
	if ul, err := bouncer.Userlist(); err == nil {
		db1.Add(bundle.File{Path: "etc/pgbouncer/userlist.txt", Data: ul, Mode: 0o640, Secret: true})
		db1.Add(bundle.File{Path: "root/mastodon-role.sql", Mode: 0o600, Secret: true,
			Data: []byte("-- The role's verifier must equal PgBouncer's userlist entry (SCRAM pass-through).\nALTER ROLE mastodon LOGIN PASSWORD '" + verifier + "';\n")})
	}
	bouncerEnv, ps := bouncer.Env()
	db1.Problem("pgbouncer.env", ps)

	// db1 primary, db2 replica.
	repl := pgreplica.Config{Release: rel, Primary: c.DB1, Replica: c.DB2, ReplicaPrefix: netip.PrefixFrom(c.DB2, 128), Password: replPass}
	db1.Problem("replica", repl.Validate())
	if b, err := repl.PrimaryConf(); err == nil {
		db1.Add(bundle.File{Path: "etc/postgresql/15/main/conf.d/mastodon-primary.conf", Data: b, Mode: 0o644})
	}
	if b, err := repl.ReplicaConf(); err == nil {
		db2.Add(bundle.File{Path: "etc/postgresql/15/main/conf.d/mastodon-replica.conf", Data: b, Mode: 0o640, Secret: true})
	}
	if ver, err := pgsetup.SCRAMVerifier(replPass, derivedSalt(replPass)); err == nil {
		if sqls, err := repl.SetupSQL(ver); err == nil {
			db1.Add(bundle.File{Path: "root/mastodon-replication.sql", Mode: 0o600, Secret: true, Data: []byte(strings.Join(sqls, ";\n") + ";\n")})
		}
	}
	replicaEnv, ps := repl.Env()
	db2.Problem("replica.env", ps)
	pg := pgsetup.Config{Role: "mastodon", Database: "mastodon_production", NoIPv4: true, Release: rel,
		Allow: []netip.Prefix{c.Prefix}} // PgBouncer (db1 itself) and the web hosts, scram-sha-256
	db1.HBA(bundle.HBAPath, bundle.HBABlockPath, pg)
	var hba strings.Builder
	for _, r := range repl.HBA() {
		hba.WriteString(r.String() + "\n")
	}
	db1.Add(bundle.File{Path: "etc/postgresql/15/main/pg_hba.replication.conf", Data: []byte(hba.String()), Mode: 0o644})

	// Redis with Sentinel: nodes and sentinels by name; sentinel 3 on db1.
	sent := sentinel.Config{Release: rel,
		Redis:     []sentinel.Node{{Name: c.name("redis1"), Addr: c.Redis1}, {Name: c.name("redis2"), Addr: c.Redis2}},
		Sentinels: []sentinel.Node{{Name: c.name("sentinel1"), Addr: c.Redis1}, {Name: c.name("sentinel2"), Addr: c.Redis2}, {Name: c.name("sentinel3"), Addr: c.DB1}},
		Password:  redisPass, SentinelPassword: sentPass, Prefixes: []string{"", "CACHE_", "SIDEKIQ_"}}
	r1.Problem("sentinel", sent.Validate())
	for i, t := range []*bundle.Tree{r1, r2} {
		if b, err := sent.RedisConf(i); err == nil {
			t.Add(bundle.File{Path: bundle.RedisPath, Data: b, Mode: 0o640, Secret: true})
		}
	}
	for i, t := range []*bundle.Tree{r1, r2, db1} {
		if b, err := sent.SentinelConf(i); err == nil {
			t.Add(bundle.File{Path: "etc/redis/sentinel.conf", Data: b, Mode: 0o640, Secret: true})
		}
	}
	sentEnv, ps := sent.Env()
	r1.Problem("sentinel.env", ps)

	// Fronts: HAProxy terminating TLS, keepalived with the failover address.
	cert := "/etc/haproxy/certs/" + c.WebDomain + ".pem"
	front := haproxy.Config{Release: rel, Cert: cert,
		Web:     []haproxy.Server{{Name: "web1", Addr: c.Web1, Port: 3000, StreamingPort: 4000}, {Name: "web2", Addr: c.Web2, Port: 3000, StreamingPort: 4000}},
		Sources: []netip.Addr{c.Front1, c.Front2}}
	f1.Problem("haproxy", front.Validate())
	frontEnv, ps := front.Env()
	f1.Problem("haproxy.env", ps)
	for i, t := range []*bundle.Tree{f1, f2} {
		if b, err := front.Bytes(); err == nil {
			t.Add(bundle.File{Path: "etc/haproxy/haproxy.cfg", Data: b, Mode: 0o644})
		}
		k := keepalived.Config{Interface: c.Interface, VIP6: netip.PrefixFrom(c.VIP, c.Prefix.Bits()), Priority: 150 - 50*i,
			Check: "/usr/bin/systemctl is-active --quiet haproxy"}
		t.Problem("keepalived", k.Validate())
		if b, err := k.Bytes(); err == nil {
			t.Add(bundle.File{Path: "etc/keepalived/keepalived.conf", Data: b, Mode: 0o644})
		}
	}

	// web1 and web2: one .env.production from every engine's variables.
	env := envfile.Config{LocalDomain: c.LocalDomain, WebDomain: c.WebDomain,
		DB: envfile.DB{Password: dbPass, Name: "mastodon_production", User: "mastodon"},
		// Sentinel decides where the master is; REDIS_HOST names redis1 rather than a loopback default.
		Redis: envfile.Redis{Host: c.name("redis1")}}
	for _, v := range bouncerEnv {
		switch v.Key {
		case "DB_HOST":
			env.DB.Host = v.Value
		case "DB_PORT":
			env.DB.Port = mastodon.DefaultPgBouncerPort
		default:
			env.Extra = append(env.Extra, envfile.Var(v))
		}
	}
	for _, v := range replicaEnv {
		env.Extra = append(env.Extra, envfile.Var(v))
	}
	for _, v := range sentEnv {
		env.Extra = append(env.Extra, envfile.Var(v))
	}
	for _, v := range frontEnv {
		env.Extra = append(env.Extra, envfile.Var(v))
	}
	env.Extra = append(env.Extra, envfile.Var{Key: "RAILS_SERVE_STATIC_FILES", Value: "true"})
	if f := w1.EnvFrom(envPath, existing, env, envfile.Options{Release: rel, Rand: c.Rand}); f != nil {
		if file, ok := w1.File(envPath); ok {
			w2.Add(file)
		}
	}
	bundle.ClusterUnits(bundle.UnitDir, cluster, []*bundle.Tree{w1, w2}, w1)

	for _, t := range trees {
		t.Add(bundle.File{Path: bundle.NextStepsPath, Mode: 0o644, Data: c.nextSteps(t, rel, bouncer, sent)})
	}
	return trees, pool
}

func (c topology) nextSteps(t *bundle.Tree, rel mastodon.Release, b pgbouncer.Config, s sentinel.Config) []byte {
	var w bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	code := func(lines ...string) {
		p("```sh")
		for _, l := range lines {
			p("%s", l)
		}
		p("```\n")
	}
	p("# Next steps for %s (Mastodon %s, 8 IPv6-only hosts, no single point of failure)\n", t.Name, rel)
	p("Run as root on %s, from this directory. The files mirror the host's filesystem.\n", t.Name)
	p("## DNS first (every host's resolver)\n")
	p("Mastodon's REDIS_SENTINELS parser splits on ':', so Redis and the sentinels are named. Publish in %s:\n", c.Zone)
	code("redis1    AAAA "+c.Redis1.String(), "redis2    AAAA "+c.Redis2.String(), "sentinel1 AAAA "+c.Redis1.String(),
		"sentinel2 AAAA "+c.Redis2.String(), "sentinel3 AAAA "+c.DB1.String())
	p("## Put the files in place\n")
	code(t.InstallLines("/home/mastodon", bundle.HBABlockPath, bundle.HBAPath)...)
	switch t.Name {
	case "front1", "front2":
		p("## TLS, HAProxy, keepalived\n")
		p("HAProxy reads one PEM with the chain and the key. Obtain the certificate on front1 (v6-certs), copy it to front2, and concatenate on both:\n")
		code("mkdir -p /etc/haproxy/certs", "cat /etc/letsencrypt/live/"+c.WebDomain+"/fullchain.pem /etc/letsencrypt/live/"+c.WebDomain+"/privkey.pem > /etc/haproxy/certs/"+c.WebDomain+".pem",
			"haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl restart haproxy", "keepalived -t && systemctl restart keepalived")
		p("WEB_DOMAIN's AAAA is the failover address %s; the fronts are on ULA addresses, which Rails trusts by default (no TRUSTED_PROXY_IP).\n", c.VIP)
	case "db1":
		p("## PostgreSQL primary, replication, PgBouncer, sentinel 3\n")
		code("cat /etc/postgresql/15/main/pg_hba.replication.conf >> /etc/postgresql/15/main/pg_hba.conf",
			"systemctl restart postgresql", "v6-pgsetup --role mastodon --database mastodon_production --mastodon "+rel.Line()+" --no-ipv4 --allow "+c.Prefix.String(),
			"sudo -u postgres psql -f /root/mastodon-role.sql", "sudo -u postgres psql -f /root/mastodon-replication.sql",
			"systemctl restart pgbouncer", "systemctl restart redis-sentinel")
		p("Migrations bypass PgBouncer (transaction pooling breaks DDL sessions), from web1:\n")
		code(b.MigrateCommand())
	case "db2":
		p("## The replica: clone the primary, then start as a standby\n")
		code("systemctl stop postgresql", "rm -rf /var/lib/postgresql/15/main",
			"sudo -u postgres pg_basebackup -h "+c.DB1.String()+" -U replicator -D /var/lib/postgresql/15/main -X stream -W",
			"sudo -u postgres touch /var/lib/postgresql/15/main/"+pgreplica.StandbySignal, "systemctl start postgresql")
	case "redis1", "redis2":
		p("## Redis under Sentinel\n")
		code("grep -qx 'include /"+bundle.RedisPath+"' /etc/redis/redis.conf || echo 'include /"+bundle.RedisPath+"' >> /etc/redis/redis.conf",
			"chown redis:redis /etc/redis/sentinel.conf   # sentinel rewrites it", "systemctl restart redis-server redis-sentinel")
	case "web1", "web2":
		p("## Mastodon (as the mastodon user in /home/mastodon/live)\n")
		steps := append([]string{"cd /home/mastodon/live"}, rel.BundleInstallCommands()...)
		steps = append(steps, rel.JSInstallCommand(), rel.AssetsCommand())
		if t.Name == "web1" {
			steps = append(steps, "DB_HOST="+c.DB1.String()+" DB_PORT=5432 "+rel.DBSetupCommand()+"   # once, on web1 only, straight to PostgreSQL")
		}
		code(steps...)
		code("systemctl daemon-reload", "systemctl enable --now mastodon-web.service mastodon-streaming.service 'mastodon-sidekiq*.service'")
	}
	_ = s
	return w.Bytes()
}
