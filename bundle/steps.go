package bundle

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// StepsPath is the tree path of the install steps as JSON, read by v6-install. It is
// the same data NEXT-STEPS.md is rendered from.
const StepsPath = "INSTALL-STEPS.json"

// Cmd is one command of a step: an argv, run as User (empty: root) in Dir (empty: the
// bundle directory) with Env added. Nothing of it is ever pasted into a shell string:
// [Cmd.Line] is the argv that runs it from a root shell, and NEXT-STEPS.md shows that
// argv quoted one element at a time.
type Cmd struct {
	// Args is the command and its arguments, one element per argument.
	Args []string `json:"args"`
	// User runs the command (through runuser). Empty: root.
	User string `json:"user,omitempty"`
	// Dir is the working directory (through env -C). Empty: the bundle directory.
	Dir string `json:"dir,omitempty"`
	// Env are KEY=VALUE variables set for the command (through env).
	Env []string `json:"env,omitempty"`
	// Want, on a check, is what the command must print (surrounding space trimmed).
	// Empty: the exit status alone decides.
	Want string `json:"want,omitempty"`
	// Min, on a check, is the lowest version the command may print: the first dotted
	// number in its output ("v22.4.1", "Redis server v=7.0.15") must be at least Min.
	Min string `json:"min,omitempty"`
}

// Line is the argv that runs c from a root shell in the bundle directory:
// runuser -u USER -- env -C DIR KEY=VALUE… ARGS…, each wrapper only when needed.
func (c Cmd) Line() []string {
	var out []string
	if c.User != "" && c.User != "root" {
		out = append(out, "runuser", "-u", c.User, "--")
	}
	if c.Dir != "" || len(c.Env) > 0 {
		out = append(out, "env")
		if c.Dir != "" {
			out = append(out, "-C", c.Dir)
		}
		out = append(out, c.Env...)
	}
	return append(out, c.Args...)
}

// Step is one thing the installer does to the host: it checks first whether the step is
// done (every Check succeeds), and only otherwise runs Run, then checks again. A step
// without Run is a requirement: when its check fails, Fix says what to do.
type Step struct {
	// ID names the step (stable, for --only and reports): "user", "checkout", …
	ID string `json:"id"`
	// Section is the NEXT-STEPS.md heading the step is listed under.
	Section string `json:"section"`
	// Title says what the step does, in one line.
	Title string `json:"title"`
	// Changes says what the step changes on the host (empty for a requirement).
	Changes string `json:"changes,omitempty"`
	// Check tells whether the step is done; checks only read, never change anything.
	Check []Cmd `json:"check"`
	// Run does the step, in order.
	Run []Cmd `json:"run,omitempty"`
	// Fix is what to do when the step fails.
	Fix string `json:"fix"`
	// Code marks a step that needs Mastodon's own code (the checkout, Ruby, Node).
	Code bool `json:"code,omitempty"`
}

// Steps returns the install steps of a composed host in order; bad values are recorded
// in t. The steps need the tree's files (NEXT-STEPS.md and INSTALL-STEPS.json aside),
// so call it after every artifact was added.
func (h Host) Steps(t *Tree, info Info) []Step {
	h.checkCommandValues(t)
	rel := info.Release
	home := h.home()
	live := path.Join(home, "live")
	user := cmp.Or(info.Deployment.User, "mastodon")
	bundleBin := cmp.Or(info.Deployment.Paths.Bundle, path.Join(home, ".rbenv/shims/bundle"))
	node := cmp.Or(info.Deployment.Paths.Node, "/usr/bin/node")
	userPath := "PATH=" + path.Dir(bundleBin) + ":" + path.Join(home, ".rbenv/bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	asUser := func(c Cmd) Cmd {
		c.User, c.Dir = user, live
		c.Env = append([]string{userPath}, c.Env...)
		return c
	}
	psql := func(db, query, want string) Cmd {
		args := []string{"psql", "-XAtq"}
		if db != "" {
			args = append(args, "-d", db)
		}
		return Cmd{User: "postgres", Args: append(args, "-c", query), Want: want}
	}
	var s []Step
	add := func(st Step) { s = append(s, st) }

	// 1. What the host must have: versions the release needs.
	const req = "What the host needs first"
	add(Step{ID: "node", Section: req, Title: fmt.Sprintf("Node.js %d or newer at %s (the streaming unit runs it)", rel.MinNode(), node),
		Check: []Cmd{{Args: []string{node, "--version"}, Min: strconv.Itoa(rel.MinNode())}},
		Fix: fmt.Sprintf("Mastodon %s needs Node.js %d or newer at %s. Debian 12 ships 18: install nodejs %d from NodeSource (https://github.com/nodesource/distributions); "+
			"RHEL 9: dnf module install nodejs:%d (or NodeSource's rpm)", rel, rel.MinNode(), node, rel.MinNode(), rel.MinNode())})
	add(Step{ID: "postgresql", Section: req, Title: fmt.Sprintf("PostgreSQL %s or newer, running", cmp.Or(rel.MinPostgresString(), "9.5")),
		Check: []Cmd{{User: "postgres", Args: []string{"psql", "-XAtq", "-c", "SHOW server_version"}, Min: cmp.Or(rel.MinPostgresString(), "9.5")}},
		Fix: fmt.Sprintf("install and start PostgreSQL %s or newer: Debian 12: apt-get install postgresql (15); RHEL 9: dnf module install postgresql:15 && postgresql-setup --initdb && systemctl enable --now postgresql. "+
			"This bundle's files are for Debian's /etc/postgresql/15/main", cmp.Or(rel.MinPostgresString(), "9.5"))})
	add(Step{ID: "redis", Section: req, Title: fmt.Sprintf("Redis %s or newer", rel.MinRedis()),
		Check: []Cmd{{Args: []string{"redis-server", "--version"}, Min: rel.MinRedis().String()}},
		Fix:   fmt.Sprintf("install Redis %s or newer: Debian 12: apt-get install redis-server (7.0); RHEL 9: dnf install redis (6.2)", rel.MinRedis())})
	add(Step{ID: "nginx", Section: req, Title: "nginx, running",
		Check: []Cmd{{Args: []string{"systemctl", "is-active", "nginx.service"}}},
		Fix:   "install and start nginx: Debian 12: apt-get install nginx; RHEL 9: dnf install nginx && systemctl enable --now nginx"})

	// 2. The OS user and the checkout, before any file goes into live/.
	const co = "The mastodon user and Mastodon's code"
	add(Step{ID: "user", Section: co, Title: "the " + user + " OS user, with its home " + home,
		Changes: "adds the user and group " + user + " (the units run as it; PostgreSQL's peer rule lets it in over the socket)",
		Check:   []Cmd{{Args: []string{"id", "-u", user}}},
		Run:     []Cmd{{Args: []string{"useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash", "--user-group", user}}},
		Fix:     "useradd failed: a user or group named " + user + " may exist in part; inspect with getent passwd " + user + " and getent group " + user})
	add(Step{ID: "checkout", Section: co, Title: "Mastodon " + rel.GitTag() + " checked out in " + live,
		Changes: "clones " + h.source() + " at " + rel.GitTag() + " into " + live + ", as " + user,
		Check:   []Cmd{{User: user, Args: []string{"test", "-e", path.Join(live, ".git")}}},
		Run:     []Cmd{{User: user, Args: []string{"git", "clone", "--branch", rel.GitTag(), "--", h.source(), live}}},
		Fix:     "git clone failed: " + live + " must not exist or be empty, and " + h.source() + " must be reachable; install git (apt-get install git / dnf install git) if it is missing"})
	add(Step{ID: "ruby", Section: co, Code: true, Title: "Ruby " + rel.Ruby() + " (the checkout's .ruby-version) for the " + user + " user",
		Check: []Cmd{asUser(Cmd{Args: []string{"ruby", "--version"}, Min: rel.Ruby()})},
		Fix: fmt.Sprintf("install Ruby %s for %s with rbenv, as the install guide does (git clone https://github.com/rbenv/rbenv.git %s/.rbenv; "+
			"rbenv install %s); Debian's and RHEL's ruby packages are too old", rel.Ruby(), user, home, rel.Ruby())})

	// 3. The files, now that live/ exists.
	const files = "The files in place"
	s = append(s, t.FileSteps(home, user)...)
	if rf, ok := t.File(RedisPath); ok {
		inc := "include /" + RedisPath
		add(Step{ID: "redis-include", Section: files, Title: "redis.conf includes /" + RedisPath + " (the last include wins)",
			Changes: "appends \"" + inc + "\" to /etc/redis/redis.conf",
			Check:   []Cmd{{Args: []string{"grep", "-qxF", "--", inc, "/etc/redis/redis.conf"}}},
			Run:     []Cmd{{Args: []string{"sed", "-i", "$a " + inc, "/etc/redis/redis.conf"}}},
			Fix:     "/etc/redis/redis.conf must exist (Debian's redis-server package)"})
		// Redis (re)started after the snippet and the include were installed (with a
		// password too, which never goes on a command line: redis-cli would need it to
		// read CONFIG).
		check := append(Installed("/"+RedisPath), StartedAfter("redis-server.service", "/"+RedisPath, "/etc/redis/redis.conf"))
		if bind := confValue(rf.Data, "bind"); bind != "" && info.Redis.Password == "" {
			port := strconv.Itoa(cmp.Or(info.Redis.Port, 6379))
			host := strings.Fields(bind)[0]
			check = append(check, Cmd{Args: []string{"redis-cli", "-h", host, "-p", port, "CONFIG", "GET", "bind"}, Want: "bind\n" + bind})
		}
		{
			add(Step{ID: "redis-restart", Section: files, Title: "Redis runs with the snippet",
				Changes: "restarts redis-server", Check: check,
				Run: []Cmd{{Args: []string{"systemctl", "restart", "redis-server.service"}}},
				Fix: "journalctl -u redis-server says why Redis did not start with the snippet"})
		}
	}
	pgConf := treeFiles(t, PGDir+"/conf.d/")
	add(Step{ID: "postgresql-restart", Section: files, Title: "PostgreSQL runs with the conf.d snippets (listen_addresses, tuning)",
		Changes: "restarts postgresql",
		Check: append(Installed(pgConf...), psql("", "SELECT count(*) FROM pg_file_settings f WHERE error IS NOT NULL OR (NOT applied AND seqno = "+
			"(SELECT max(seqno) FROM pg_file_settings g WHERE g.name = f.name))", "0"),
			// and restarted after the snippets were installed: pg_file_settings reads the
			// files as they are now, and marks a setting a reload would take (work_mem)
			// applied before any reload
			StartedAfter("postgresql.service", pgConf...)),
		Run: []Cmd{{Args: []string{"systemctl", "restart", "postgresql.service"}}},
		Fix: "SELECT * FROM pg_file_settings WHERE error IS NOT NULL (as postgres) names the bad setting; journalctl -u postgresql@15-main says why it did not start"})

	for _, st := range firewallSteps(info) {
		add(st)
	}

	// 4. PostgreSQL's role, database and pg_hba block.
	const pgs = "PostgreSQL: role, database and pg_hba.conf"
	pg := []string{"v6-pgsetup", "--role", info.PG.Role, "--database", info.PG.Database,
		"--password-file", "/" + DBPasswordPath, "--mastodon", rel.Line()}
	if info.PG.NoIPv4 {
		pg = append(pg, "--no-ipv4")
	}
	add(Step{ID: "pgsetup", Section: pgs, Title: "the role " + info.PG.Role + " owning " + info.PG.Database + ", and the managed pg_hba.conf block",
		Changes: "creates the role and the database, sets the password from /" + DBPasswordPath + ", writes the block into the server's pg_hba.conf and reloads",
		Check: []Cmd{
			psql("", "SELECT count(*) FROM pg_database d JOIN pg_roles r ON d.datdba = r.oid WHERE d.datname = "+sqlQuote(info.PG.Database)+
				" AND r.rolname = "+sqlQuote(info.PG.Role)+" AND r.rolcanlogin", "1"),
			psql("", "SELECT count(*) > 0 FROM pg_hba_file_rules WHERE error IS NULL AND "+sqlQuote(info.PG.Role)+" = ANY(user_name) AND auth_method = 'scram-sha-256'", "t"),
			// and nothing would change: the stored SCRAM verifier is the password file's,
			// the block is the one rendered (--diff exits 1 when anything would change)
			{User: "postgres", Args: append(slices.Clone(pg), "--diff")},
		},
		Run: []Cmd{{User: "postgres", Args: pg}},
		Fix: "v6-pgsetup runs as postgres (peer over the socket) and reads /" + DBPasswordPath + " (mode 0640, group postgres); its message says what else is wrong"})

	// 5. Mastodon's dependencies, database and assets: they need the checkout.
	const deps = "Mastodon's dependencies, database and assets"
	if ce := rel.CorepackEnable(); ce != nil {
		add(Step{ID: "corepack", Section: deps, Code: true, Title: "corepack's yarn next to node (as root: it writes " + path.Dir(node) + ")",
			Changes: "links yarn and pnpm into " + path.Dir(node),
			Check:   []Cmd{{Args: []string{"test", "-e", path.Join(path.Dir(node), "yarn")}}},
			Run:     []Cmd{{Args: ce}},
			Fix:     "corepack comes with Node.js " + strconv.Itoa(rel.MinNode()) + " (NodeSource's nodejs); Debian's nodejs 18 lacks it"})
	}
	var gems []Cmd
	for _, c := range rel.BundleInstallArgv() {
		gems = append(gems, asUser(Cmd{Env: c.Env, Args: c.Argv}))
	}
	add(Step{ID: "gems", Section: deps, Code: true, Title: "the Ruby gems for production",
		Changes: "installs the gems into the checkout (vendor/bundle)",
		Check:   []Cmd{asUser(Cmd{Args: []string{"bundle", "check"}})},
		Run:     gems,
		Fix:     "bundle install needs the build tools and libraries of the install guide (libpq-dev, libicu-dev, libidn-dev, libyaml-dev, …)"})
	js := rel.JSInstallArgv()
	add(Step{ID: "yarn", Section: deps, Code: true, Title: "the JavaScript packages",
		Changes: "installs node_modules in the checkout",
		Check:   []Cmd{asUser(Cmd{Args: []string{"test", "-e", rel.JSInstalledMarker()}})},
		Run:     []Cmd{asUser(Cmd{Env: js.Env, Args: js.Argv})},
		Fix:     "yarn must be the checkout's (corepack, from 4.3) and reach the npm registry"})
	db := rel.DBSetupArgv()
	add(Step{ID: "db-setup", Section: deps, Code: true, Title: "the database schema and seeds (only into an empty database: db:setup erases one)",
		Changes: "loads the schema into " + info.PG.Database,
		Check:   []Cmd{psql(info.PG.Database, "SELECT to_regclass('public.schema_migrations') IS NOT NULL", "t")},
		Run:     []Cmd{asUser(Cmd{Env: db.Env, Args: db.Argv})},
		Fix:     "db:setup reads .env.production: DB_* must let the " + user + " user in (the peer rule over the socket)"})
	as := rel.AssetsArgv()
	add(Step{ID: "assets", Section: deps, Code: true, Title: "the compiled assets",
		Changes: "builds " + path.Join(live, rel.AssetsBuiltMarker()),
		Check:   []Cmd{asUser(Cmd{Args: []string{"test", "-d", rel.AssetsBuiltMarker()}})},
		Run:     []Cmd{asUser(Cmd{Env: as.Env, Args: as.Argv})},
		Fix:     "the asset build needs the JavaScript packages (the yarn step) and about 2 GB of memory"})

	// 6. The certificate through the bootstrap site, then the full site.
	const crt = "The certificate and the site"
	cert, _ := h.CertPaths()
	enabled := "/etc/nginx/sites-enabled/"
	boot, site := enabled+path.Base(BootstrapPath), enabled+path.Base(SitePath)
	add(Step{ID: "certificate", Section: crt, Title: "a certificate for " + strings.Join(h.CertNames(), " and ") + ", through the port-80 bootstrap site",
		Changes: "enables the bootstrap site (nginx cannot load the TLS servers before the certificate exists), restarts nginx, obtains the certificate over HTTP-01 through " + h.Webroot() + ", disables the bootstrap site",
		// nginx restarted after the bootstrap site was installed: a re-rendered bootstrap
		// site is the step to do again (the site step's reload leaves ActiveEnterTimestamp)
		Check: append([]Cmd{{Args: []string{"test", "-s", cert}}}, append(Installed("/"+BootstrapPath), StartedAfter("nginx.service", "/"+BootstrapPath))...),
		Run: []Cmd{
			{Args: []string{"ln", "-sfn", "/" + BootstrapPath, boot}},
			{Args: []string{"nginx", "-t", "-q"}},
			// restart, not reload: `systemctl reload` returns when the signal is sent, and
			// the old workers answer the CA's first request with the old site (404: seen
			// under a real systemd, issue 13); a restart returns once the new ones listen.
			{Args: []string{"systemctl", "restart", "nginx.service"}},
			{Args: info.CertCommand},
			{Args: []string{"rm", "-f", "--", boot}},
		},
		Fix: "the names must resolve to this host and port 80 must be reachable from the CA; v6-probe (below) checks both"})
	add(Step{ID: "site", Section: crt, Title: "the Mastodon site enabled, the bootstrap site not",
		Changes: "links " + site + ", removes " + boot + ", reloads nginx",
		Check: []Cmd{{Args: []string{"readlink", "--", site}, Want: "/" + SitePath},
			{Args: []string{"test", "!", "-e", boot}},
			// and nginx reloaded (or restarted) after the bundle's site was installed
			Installed("/" + SitePath)[0], ReloadedAfter("nginx.service", "/"+SitePath)},
		Run: []Cmd{
			{Args: []string{"rm", "-f", "--", boot}},
			{Args: []string{"ln", "-sfn", "/" + SitePath, site}},
			{Args: []string{"nginx", "-t", "-q"}},
			{Args: []string{"systemctl", "reload", "nginx.service"}},
		},
		Fix: "nginx -t says what it refused"})

	// 7. The units.
	if info.Plan != nil {
		var check []Cmd
		// every unit (re)started after its files and .env.production were installed:
		// the units step restarts them all together
		var unitFiles []string
		for _, f := range info.Plan.Files {
			unitFiles = append(unitFiles, treeFiles(t, UnitDir+"/"+f.Name)...)
		}
		unitFiles = append(unitFiles, treeFiles(t, strings.TrimPrefix(path.Join(live, ".env.production"), "/"))...)
		check = append(check, Installed(unitFiles...)...)
		for _, u := range info.Plan.Enable {
			check = append(check, Cmd{Args: []string{"systemctl", "is-enabled", "--quiet", u}})
		}
		for _, u := range info.Plan.Start {
			check = append(check, Cmd{Args: []string{"systemctl", "show", "-P", "NeedDaemonReload", u}, Want: "no"},
				Cmd{Args: []string{"systemctl", "is-active", "--quiet", u}}, StartedAfter(u, unitFiles...))
		}
		add(Step{ID: "units", Section: "Start Mastodon", Title: "the units enabled and running: " + strings.Join(info.Plan.Start, ", "),
			Changes: "reloads systemd, enables " + strings.Join(info.Plan.Enable, " ") + " and (re)starts " + strings.Join(info.Plan.Start, " "),
			Check:   check,
			Run: []Cmd{
				{Args: []string{"systemctl", "daemon-reload"}},
				{Args: append([]string{"systemctl", "enable", "--quiet"}, info.Plan.Enable...)},
				{Args: append([]string{"systemctl", "restart"}, info.Plan.Start...)},
			},
			Fix: "systemctl status UNIT and journalctl -u UNIT say why a unit did not start"})
	}

	// 8. The owner account.
	owner, email := cmp.Or(h.Owner, "admin"), cmp.Or(h.AdminEmail, "admin@"+h.LocalDomain)
	if oc, ok := rel.OwnerArgv(owner, email); ok {
		add(Step{ID: "owner", Section: "The owner account", Code: true, Title: "the owner account " + owner + " (its password is printed once)",
			Changes: "creates the account " + owner + " <" + email + ">",
			Check: []Cmd{psql(info.PG.Database, "SELECT count(*) FROM accounts a JOIN users u ON u.account_id = a.id WHERE a.domain IS NULL AND lower(a.username) = lower("+
				sqlQuote(owner)+")", "1")},
			Run: []Cmd{asUser(Cmd{Env: oc.Env, Args: oc.Argv})},
			Fix: "tootctl's message says why; the user name must be free"})
	}
	return s
}

// RedisPidFile is the pid file Debian's redis-server writes when it starts.
const RedisPidFile = "/run/redis/redis-server.pid"

func (h Host) source() string { return cmp.Or(h.Source, mastodon.GitRepository) }

// confValue is the value of the first "name value" line of a Redis-style config.
func confValue(data []byte, name string) string {
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ProbeCommands are the v6-probe command lines that check the host: from outside, and
// on the host itself (--local).
func (h Host) ProbeCommands(info Info) (outside, local []string) {
	probe := []string{"v6-probe", "--domain", h.LocalDomain}
	if h.webDomain() != h.LocalDomain {
		probe = append(probe, "--web-domain", h.webDomain())
	}
	fam := "ipv6-only" // the CLI conventions' spelling; v6only and dual are aliases only
	if h.Family == DualStack {
		fam = "dual-stack"
	}
	probe = append(probe, "--family", fam)
	local = append(append([]string{}, probe...), "--local", "--outbound",
		"--web-bind", addrPort(bindOf(info.Deployment), cmpInt(h.WebPort, 3000)),
		"--streaming-bind", addrPort(bindOf(info.Deployment), cmpInt(h.StreamingPort, 4000)))
	if info.Env != nil {
		if v, ok := info.Env.Get("ALLOWED_PRIVATE_ADDRESSES"); ok {
			local = append(local, "--allowed-private-addresses", v)
		}
	}
	return probe, local
}

// StepsFile is the content of INSTALL-STEPS.json.
type StepsFile struct {
	// Generated says where the file comes from.
	Generated string `json:"generated"`
	// Steps are the install steps in order.
	Steps []Step `json:"steps"`
}

// StepsJSON is the steps as INSTALL-STEPS.json.
func StepsJSON(steps []Step) ([]byte, error) {
	b, err := json.MarshalIndent(StepsFile{Generated: "by v6kit: the install steps NEXT-STEPS.md lists, for v6-install", Steps: steps}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// sqlQuote is a SQL string literal (the values are validated names; quotes doubled anyway).
func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func addrPort(a netip.Addr, port int) string { return netip.AddrPortFrom(a, uint16(port)).String() }

// addSteps computes the install steps of a composed host and adds NEXT-STEPS.md and
// INSTALL-STEPS.json, rendered from them, to t. With domainReported (a domain problem
// already recorded) the steps' check is left out: its empty or invalid arguments would
// be that problem again.
func (h Host) addSteps(t *Tree, info *Info, domainReported bool) {
	info.Steps = h.Steps(t, *info)
	t.AddSteps(h.stepsDoc(*info))
	if domainReported {
		t.Problems = slices.DeleteFunc(t.Problems, func(p report.Problem) bool {
			return p.Path == "steps" || strings.HasPrefix(p.Path, "steps.")
		})
	}
}
