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
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
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
	"github.com/v6kit/v6kit/redisconf"
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

func main() { os.Exit(bundle.Main("ha", run)) }

func run(args []string, stdout, stderr io.Writer) int {
	c := example
	cmd := bundle.NewClusterCommand("ha", "ha --out DIR [--diff] [flags]", &c.Release, stdout, stderr)
	fs := cmd.Flags
	fs.StringVar(&c.LocalDomain, "domain", c.LocalDomain, "LOCAL_DOMAIN")
	fs.StringVar(&c.WebDomain, "web-domain", c.WebDomain, "WEB_DOMAIN")
	fs.TextVar(&c.VIP, "vip", c.VIP, "the fronts' IPv6 failover address")
	fs.StringVar(&c.Zone, "zone", c.Zone, "internal DNS zone naming the Redis nodes and sentinels")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "db1's max_connections")
	fs.IntVar(&c.PoolSize, "pool-size", c.PoolSize, "PgBouncer's default_pool_size")
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	trees, pool := c.compose(cmd.Tree)
	if cmd.Diff {
		return bundle.DiffTrees(stdout, stderr, trees...)
	}
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

// compose renders every host's bundle into host(NAME)'s tree.
func (c topology) compose(host func(name string) *bundle.Tree) ([]*bundle.Tree, units.PoolerReport) {
	f1, f2, w1, w2 := host("front1"), host("front2"), host("web1"), host("web2")
	db1, db2, r1, r2 := host("db1"), host("db2"), host("redis1"), host("redis2")
	trees := []*bundle.Tree{f1, f2, w1, w2, db1, db2, r1, r2}
	var pool units.PoolerReport
	if err := c.Release.Check(); err != nil {
		f1.Problems.Errorf("mastodon", err, "%v", err)
		return trees, pool
	}
	rel := c.Release.OrNewest()
	// values that reach command lines and configs, checked where they are taken
	for _, v := range []struct{ flag, v string }{{"domain", c.LocalDomain}, {"web-domain", c.WebDomain}, {"zone", c.Zone}} {
		if err := bundle.CheckArg(bundle.ArgHostName, v.v); err != nil {
			f1.Problems.Errorf("--"+v.flag, err, "%v", err)
		}
	}
	if f1.Problems.HasErrors() {
		return trees, pool
	}
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
		db1.Add(bundle.File{Path: roleSQLPath, Mode: 0o640, Secret: true,
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
			db1.Add(bundle.File{Path: replSQLPath, Mode: 0o640, Secret: true, Data: []byte(strings.Join(sqls, ";\n") + ";\n")})
		}
	}
	replicaEnv, ps := repl.Env()
	db2.Problem("replica.env", ps)
	// pg_basebackup reads the replication password from a passfile, never a command line
	db2.Add(bundle.File{Path: pgpassPath, Mode: 0o600, Secret: true,
		Data: []byte(pgpassEscape(c.DB1.String()) + ":5432:*:replicator:" + pgpassEscape(replPass) + "\n")})
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
	plans := bundle.ClusterUnits(bundle.UnitDir, cluster, []*bundle.Tree{w1, w2}, w1)

	// NEXT-STEPS.md and INSTALL-STEPS.json per host, from the same step data.
	for _, t := range trees {
		info := bundle.Info{Release: rel, PG: pg}
		for i, name := range []string{"web1", "web2"} {
			if t.Name == name && i < len(plans) {
				info.Deployment, info.Plan = cluster.Hosts[i].Deployment, plans[i]
			}
		}
		t.AddSteps(c.stepsDoc(t, c.steps(t, h, info, repl)))
	}
	return trees, pool
}

// Paths of the ha bundles' own files: the SQL db1's superuser runs (read by psql as
// postgres, so root:postgres 0640 outside /root) and db2's replication passfile.
const (
	roleSQLPath = "etc/v6kit/mastodon-role.sql"
	replSQLPath = "etc/v6kit/mastodon-replication.sql"
	pgpassPath  = "etc/v6kit/replication.pgpass"
	dataDir     = "/var/lib/postgresql/15/main"
)

// pgpassEscape escapes ':' and '\' for a .pgpass field.
func pgpassEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, ":", `\:`).Replace(s)
}

// owned changes a file step's owner, group and mode (the check and the install line).
func owned(st bundle.Step, owner, group string, mode os.FileMode) bundle.Step {
	dst := "/" + strings.TrimPrefix(st.ID, "file:")
	st.Changes = fmt.Sprintf("installs %s as %s:%s mode %04o", dst, owner, group, mode)
	st.Check[1].Want = fmt.Sprintf("%o %s %s", mode, owner, group)
	st.Run[0].Args = []string{"install", "-D", "-o", owner, "-g", group, "-m", fmt.Sprintf("%04o", mode), "--", strings.TrimPrefix(st.ID, "file:"), dst}
	return st
}

// service is a step that (re)starts unit after check's commands and before's: done while
// unit is active and started after every one of files (its config) last changed.
func service(id, section, title, unit string, files []string, check []bundle.Cmd, before ...bundle.Cmd) bundle.Step {
	return bundle.Step{ID: id, Section: section, Title: title, Changes: "(re)starts " + unit,
		Check: append(check, bundle.Cmd{Args: []string{"systemctl", "is-active", "--quiet", unit}}, bundle.StartedAfter(unit, files...)),
		Run:   append(before, bundle.Cmd{Args: []string{"systemctl", "restart", unit}}),
		Fix:   "journalctl -u " + unit + " says why it did not start"}
}

// sentinelInstalled is the copy of sentinel.conf as last installed: sentinel rewrites
// /etc/redis/sentinel.conf (the master it follows, the replicas and sentinels it met), so
// the rendered file is compared with this copy, and the sentinel's start with its mtime.
const sentinelInstalled = "/var/lib/v6kit/sentinel.conf.installed"

// sentinelConf is the step installing sentinel.conf and its pristine copy; it replaces
// the file step, whose cmp against the file sentinel rewrites would never be done.
func sentinelConf() bundle.Step {
	const conf = "etc/redis/sentinel.conf"
	return bundle.Step{ID: "sentinel-conf", Section: "The files in place", Title: "/" + conf + " as rendered (sentinel rewrites it: the copy installed is kept as " + sentinelInstalled + ")",
		Changes: "installs /" + conf + " as redis:redis mode 0640 (what sentinel learned is replaced), and its copy " + sentinelInstalled + " as root:root mode 0600",
		Check:   append(sentinelCheck(), bundle.Cmd{Args: []string{"test", "-s", "/" + conf}}),
		Run: []bundle.Cmd{{Args: []string{"install", "-D", "-o", "redis", "-g", "redis", "-m", "0640", "--", conf, "/" + conf}},
			{Args: []string{"install", "-D", "-o", "root", "-g", "root", "-m", "0600", "--", conf, sentinelInstalled}}},
		Fix: "run it from the bundle directory, as root"}
}

// sentinelCheck is the check that the rendered sentinel.conf is the one installed last.
func sentinelCheck() []bundle.Cmd {
	return []bundle.Cmd{{Args: []string{"cmp", "-s", "--", "etc/redis/sentinel.conf", sentinelInstalled}}}
}

func packages(names ...string) bundle.Step {
	var check []bundle.Cmd
	for _, n := range names {
		check = append(check, bundle.Cmd{Args: []string{"dpkg-query", "--show", "--showformat=${Status}", n}, Want: "install ok installed"})
	}
	return bundle.Step{ID: "packages", Section: "What the host needs first", Title: "Debian's packages: " + strings.Join(names, ", "),
		Changes: "installs " + strings.Join(names, " ") + " with apt-get", Check: check,
		Run: []bundle.Cmd{{Env: []string{"DEBIAN_FRONTEND=noninteractive"}, Args: append([]string{"apt-get", "install", "--yes", "--"}, names...)}},
		Fix: "apt-get must reach a Debian mirror; the packages are in Debian 12's main"}
}

// steps are host t's install steps: DNS first, then the host's own.
func (c topology) steps(t *bundle.Tree, h bundle.Host, info bundle.Info, repl pgreplica.Config) []bundle.Step {
	rel := info.Release
	const req, files, run = "What the host needs first", "The files in place", "Start it"
	names := [][2]string{{"redis1", c.Redis1.String()}, {"redis2", c.Redis2.String()}, {"sentinel1", c.Redis1.String()}, {"sentinel2", c.Redis2.String()}, {"sentinel3", c.DB1.String()}}
	var dnsCheck []bundle.Cmd
	var records []string
	for _, n := range names {
		dnsCheck = append(dnsCheck, bundle.Cmd{Args: []string{"getent", "ahostsv6", c.name(n[0])}})
		records = append(records, n[0]+" AAAA "+n[1])
	}
	s := []bundle.Step{{ID: "dns", Section: req, Title: "the Redis nodes and sentinels resolve (Mastodon's REDIS_SENTINELS parser splits on ':', so they are named)",
		Check: dnsCheck, Fix: "publish in " + c.Zone + " (every host's resolver): " + strings.Join(records, "; ")}}
	fileSteps := func(skip ...string) {
		for _, st := range t.FileSteps("", "", skip...) {
			switch p := strings.TrimPrefix(st.ID, "file:"); p {
			case roleSQLPath, replSQLPath, "etc/postgresql/15/main/conf.d/mastodon-replica.conf", "etc/pgbouncer/userlist.txt", "etc/pgbouncer/pgbouncer.ini":
				st = owned(st, "root", "postgres", 0o640)
			case pgpassPath:
				st = owned(st, "postgres", "postgres", 0o600)
			case "etc/redis/sentinel.conf":
				st = sentinelConf()
			}
			s = append(s, st)
		}
	}
	psql := func(query, want string) bundle.Cmd {
		return bundle.Cmd{User: "postgres", Args: []string{"psql", "-XAtq", "-c", query}, Want: want}
	}
	switch t.Name {
	case "front1", "front2":
		pem := "/etc/haproxy/certs/" + c.WebDomain + ".pem"
		live := "/etc/letsencrypt/live/" + c.WebDomain
		s = append(s, packages("haproxy", "keepalived"),
			bundle.Step{ID: "certificate", Section: req, Title: "the certificate of " + c.WebDomain + " in " + live,
				Check: []bundle.Cmd{{Args: []string{"test", "-s", live + "/fullchain.pem"}}, {Args: []string{"test", "-s", live + "/privkey.pem"}}},
				Fix:   "obtain it on front1 with v6-certs obtain -d " + c.WebDomain + " (--challenge dns-01, or tls-alpn-01 before HAProxy takes port 443) and copy " + live + "/ to front2"})
		fileSteps()
		s = append(s, bundle.Step{ID: "pem", Section: files, Title: "HAProxy's PEM: the chain and the key in one file, " + pem,
			Changes: "writes " + pem + " (mode 0600) from " + live,
			Check:   []bundle.Cmd{{Args: []string{"test", "-s", pem}}},
			// the values are positional parameters of a fixed script, never part of it
			Run: []bundle.Cmd{{Args: []string{"install", "-d", "-m", "0700", "--", path.Dir(pem)}},
				{Args: []string{"sh", "-c", `umask 077 && cat -- "$1" "$2" > "$3"`, "sh", live + "/fullchain.pem", live + "/privkey.pem", pem}}},
			Fix: "the certificate step must be done"},
			service("haproxy", run, "HAProxy running with the rendered haproxy.cfg", "haproxy.service", []string{"/etc/haproxy/haproxy.cfg", pem},
				append(bundle.Installed("/etc/haproxy/haproxy.cfg"), bundle.Cmd{Args: []string{"haproxy", "-c", "-q", "-f", "/etc/haproxy/haproxy.cfg"}}),
				bundle.Cmd{Args: []string{"haproxy", "-c", "-q", "-f", "/etc/haproxy/haproxy.cfg"}}),
			service("keepalived", run, "keepalived holding or watching the failover address "+c.VIP.String(), "keepalived.service", []string{"/etc/keepalived/keepalived.conf"},
				append(bundle.Installed("/etc/keepalived/keepalived.conf"), bundle.Cmd{Args: []string{"keepalived", "-t"}}), bundle.Cmd{Args: []string{"keepalived", "-t"}}))
	case "web1", "web2":
		keep := []string{"node", "user", "checkout", "ruby", "corepack", "gems", "yarn", "assets", "units"}
		if t.Name == "web1" {
			keep = append(keep, "db-setup")
		}
		for _, st := range h.Steps(t, info) {
			if !strings.HasPrefix(st.ID, "file:") && !slices.Contains(keep, st.ID) {
				continue
			}
			if st.ID == "db-setup" {
				// straight to PostgreSQL: DDL needs a session, which PgBouncer's transaction pooling breaks
				st.Title = "the database schema and seeds, once, from web1, straight to PostgreSQL on db1 (only into an empty database)"
				st.Run[0].Env = append(st.Run[0].Env, "DB_HOST="+c.DB1.String(), "DB_PORT=5432")
				chk := st.Run[0]
				chk.Args = []string{"bundle", "exec", "rails", "runner", "exit(ActiveRecord::Base.connection.table_exists?(:schema_migrations) ? 0 : 1)"}
				st.Check = []bundle.Cmd{chk}
			}
			s = append(s, st)
		}
	case "db1":
		for _, st := range h.Steps(t, info) {
			switch st.ID {
			case "postgresql":
				s = append(s, st, packages("pgbouncer", "redis-sentinel"))
			}
		}
		fileSteps("etc/postgresql/15/main/pg_hba.replication.conf")
		var hbaCheck []bundle.Cmd
		for _, r := range repl.HBA() {
			hbaCheck = append(hbaCheck, bundle.Cmd{Args: []string{"grep", "-qxF", "--", r.String(), "/etc/postgresql/15/main/pg_hba.conf"}})
		}
		s = append(s, bundle.Step{ID: "hba-replication", Section: files, Title: "pg_hba.conf admits db2's replication connection",
			Changes: "appends the replication rule to /etc/postgresql/15/main/pg_hba.conf", Check: hbaCheck,
			Run: []bundle.Cmd{{Args: []string{"install", "-D", "-m", "0644", "--", "etc/postgresql/15/main/pg_hba.replication.conf", "/etc/postgresql/15/main/pg_hba.replication.conf"}},
				{Args: []string{"sed", "-i", "$r /etc/postgresql/15/main/pg_hba.replication.conf", "/etc/postgresql/15/main/pg_hba.conf"}}},
			Fix: "/etc/postgresql/15/main/pg_hba.conf must exist (Debian's postgresql package)"})
		for _, st := range h.Steps(t, info) {
			switch st.ID {
			case "postgresql-restart":
				s = append(s, st)
			case "pgsetup":
				st.Run[0].Args = []string{"v6-pgsetup", "--role", info.PG.Role, "--database", info.PG.Database, "--mastodon", rel.Line(), "--no-ipv4", "--allow", c.Prefix.String()}
				st.Title += ", admitting " + c.Prefix.String() + " with scram-sha-256"
				s = append(s, st)
			}
		}
		s = append(s,
			bundle.Step{ID: "role-password", Section: "PostgreSQL: role, database and pg_hba.conf", Title: "the role's SCRAM verifier, the one in PgBouncer's userlist (pass-through)",
				Changes: "sets the role's password from /" + roleSQLPath,
				Check:   []bundle.Cmd{psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'mastodon'", "t")},
				Run:     []bundle.Cmd{{User: "postgres", Args: []string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-f", "/" + roleSQLPath}}},
				Fix:     "the pgsetup step must be done (the role exists)"},
			bundle.Step{ID: "replication", Section: "PostgreSQL: role, database and pg_hba.conf", Title: "the replication role and slot for db2",
				Changes: "creates the role replicator and its slot from /" + replSQLPath,
				Check:   []bundle.Cmd{psql("SELECT count(*) FROM pg_roles WHERE rolname = 'replicator' AND rolreplication", "1")},
				Run:     []bundle.Cmd{{User: "postgres", Args: []string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-f", "/" + replSQLPath}}},
				Fix:     "psql's message says which statement failed"},
			service("pgbouncer", run, "PgBouncer on [::1]:6432 and "+c.DB1.String()+" (transaction pooling)", "pgbouncer.service",
				[]string{"/etc/pgbouncer/pgbouncer.ini", "/etc/pgbouncer/userlist.txt"}, bundle.Installed("/etc/pgbouncer/pgbouncer.ini", "/etc/pgbouncer/userlist.txt")),
			service("sentinel", run, "sentinel 3", "redis-sentinel.service", []string{sentinelInstalled}, sentinelCheck()))
	case "db2":
		var restart bundle.Step
		for _, st := range h.Steps(t, info) {
			switch st.ID {
			case "postgresql":
				s = append(s, st)
			case "postgresql-restart":
				// after the replica step, which starts the standby with the files
				// installed (done then), and for every later change of them
				restart = st
				restart.Section = run
			}
		}
		fileSteps()
		signal := dataDir + "/" + pgreplica.StandbySignal
		s = append(s, bundle.Step{ID: "replica", Section: run, Title: "a streaming replica of db1 (its data directory cloned, then started as a standby)",
			Changes: "stops PostgreSQL, replaces " + dataDir + " with a base backup of db1, marks it standby, starts PostgreSQL",
			Check:   []bundle.Cmd{{Args: []string{"test", "-e", signal}}, psql("SELECT pg_is_in_recovery()", "t")},
			Run: []bundle.Cmd{{Args: []string{"systemctl", "stop", "postgresql.service"}},
				{Args: []string{"rm", "-rf", "--", dataDir}},
				{User: "postgres", Env: []string{"PGPASSFILE=/" + pgpassPath}, Args: []string{"pg_basebackup", "-h", c.DB1.String(), "-U", "replicator", "-D", dataDir, "-X", "stream", "-w"}},
				{User: "postgres", Args: []string{"touch", "--", signal}},
				{Args: []string{"systemctl", "start", "postgresql.service"}}},
			Fix: "db1's replication step must be done and db1 reachable on 5432; journalctl -u postgresql@15-main says why the standby did not start"},
			restart)
	case "redis1", "redis2":
		s = append(s, packages("redis-server", "redis-sentinel"))
		fileSteps()
		for _, st := range h.Steps(t, bundle.Info{Release: rel, Redis: redisconf.Config{Password: "set"}}) {
			if st.ID == "redis-include" {
				s = append(s, st)
			}
		}
		addr := c.Redis1
		if t.Name == "redis2" {
			addr = c.Redis2
		}
		s = append(s, service("redis-restart", run, "Redis runs with the snippet: bound to "+addr.String()+", a password required", "redis-server.service",
			[]string{"/" + bundle.RedisPath, "/etc/redis/redis.conf"}, append(bundle.Installed("/"+bundle.RedisPath), bundle.Cmd{Args: []string{"redis-cli", "-h", addr.String(), "-p", "6379", "PING"}, Want: "NOAUTH Authentication required."})),
			service("sentinel", run, "the sentinel", "redis-sentinel.service", []string{sentinelInstalled}, sentinelCheck()))
	}
	return s
}

// migrate is the migration command on web1 (after an upgrade), as the db-setup step
// runs: same user, directory and PATH, straight to PostgreSQL on db1.
func (c topology) migrate(steps []bundle.Step) bundle.Cmd {
	for _, st := range steps {
		if st.ID == "db-setup" {
			run := st.Run[0]
			return bundle.Cmd{User: run.User, Dir: run.Dir, Env: []string{run.Env[0], "RAILS_ENV=production", "DB_HOST=" + c.DB1.String(), "DB_PORT=5432"},
				Args: []string{"bundle", "exec", "rails", "db:migrate"}}
		}
	}
	return bundle.Cmd{}
}

// stepsDoc is host t's NEXT-STEPS.md as data.
func (c topology) stepsDoc(t *bundle.Tree, steps []bundle.Step) bundle.StepsDoc {
	d := bundle.StepsDoc{
		Title: fmt.Sprintf("Next steps for %s (Mastodon %s, 8 IPv6-only hosts, no single point of failure)", t.Name, c.Release.OrNewest()),
		Intro: []string{
			"Run them as root on " + t.Name + ", from this directory: each command is one argv, quoted for the shell.",
			"`v6-install --bundle . --plan` shows which are done already, and `v6-install --bundle . --apply`",
			"runs the ones that are not (" + bundle.StepsPath + " holds the same steps). The files mirror the host's filesystem.",
			"Order across hosts: DNS, db1, db2, redis1, redis2, web1 (its db-setup once), web2, front1, front2.",
		},
		Steps: steps,
	}
	switch t.Name {
	case "front1", "front2":
		d.After = []bundle.ManualSection{{Heading: "DNS for the site",
			Text: "WEB_DOMAIN's AAAA is the failover address " + c.VIP.String() + "; the fronts are on ULA addresses, which Rails trusts by default (no TRUSTED_PROXY_IP)."}}
	case "web1":
		mig := c.migrate(steps)
		if mig.Args != nil {
			d.After = []bundle.ManualSection{{Heading: "Upgrades: migrations bypass PgBouncer",
				Text:     "Transaction pooling breaks DDL sessions: after each upgrade, migrate from web1 straight to db1:",
				Commands: []bundle.ManualCommand{{Argv: mig.Line()}}}}
		}
	}
	return d
}
