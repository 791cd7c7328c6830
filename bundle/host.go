package bundle

import (
	"bytes"
	"cmp"
	"io"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/nginxconf"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/redisconf"
	"github.com/v6kit/v6kit/units"
)

// Family is the address family of a host: what nginx listens on, what Redis binds and
// what the network probe expects.
type Family int

const (
	// IPv6Only: nginx on [::] only, Redis on ::1 only, no A record (the zero value).
	IPv6Only Family = iota
	// DualStack: nginx on 0.0.0.0 and [::], Redis on 127.0.0.1 and ::1.
	DualStack
)

// String returns "ipv6-only" or "dual-stack".
func (f Family) String() string {
	if f == DualStack {
		return "dual-stack"
	}
	return "ipv6-only"
}

// Host is one all-in-one Mastodon host: web, streaming, sidekiq, PostgreSQL, Redis and
// nginx on one machine, with a Let's Encrypt certificate. Every zero field has the
// default its comment names; the examples fill in their own example values.
type Host struct {
	// Release is the target Mastodon release ([mastodon.Lookup]). Zero: [mastodon.Newest].
	Release mastodon.Release
	// Family is IPv6Only or DualStack.
	Family Family
	// LocalDomain is LOCAL_DOMAIN (the handle's domain); WebDomain is WEB_DOMAIN, the
	// server name (empty: LocalDomain).
	LocalDomain, WebDomain string
	// AdminEmail is the Let's Encrypt contact and the owner account's address.
	AdminEmail string
	// Owner is the owner account's user name. Empty: "admin".
	Owner string
	// SMTP is the mail relay. An internal relay without auth: Server and Port 25,
	// AuthMethod "none", OpenSSLVerifyMode "none".
	SMTP envfile.SMTP
	// NAT64 is the NAT64 prefix of an IPv6-only host (ALLOWED_PRIVATE_ADDRESSES lets
	// Mastodon reach IPv4-only peers through it). Zero: no NAT64.
	NAT64 netip.Prefix
	// Egress is the outbound path rendered for a dual-stack gateway ([Egress]). Zero:
	// none (the provider's NAT64, whose prefix is NAT64).
	Egress Egress
	// SplitSidekiq renders one sidekiq unit per queue group instead of one for all.
	SplitSidekiq bool
	// Home is the mastodon user's home. Empty: /home/mastodon.
	Home string
	// LetsEncrypt is the certificate directory (certbot's layout). Empty: /etc/letsencrypt.
	LetsEncrypt string
	// ACMEServer is the ACME directory URL. Empty: Let's Encrypt production.
	ACMEServer string
	// NginxCache is proxy_cache_path. Empty: /var/cache/nginx.
	NginxCache string
	// NginxVersion is the target nginx ("1.22"). Empty: Debian 12's 1.22.
	NginxVersion string
	// HTTPPort and HTTPSPort are nginx's ports. Zero: 80 and 443.
	HTTPPort, HTTPSPort int
	// WebPort and StreamingPort are puma's and the first streaming instance's. Zero:
	// 3000 and 4000.
	WebPort, StreamingPort int
	// RedisPort is Redis's port. Zero: 6379.
	RedisPort int
	// RAM and CPUs size the PostgreSQL tuning snippet. Zero: 4 GiB and 2.
	RAM  int64
	CPUs int
	// MaxConnections is PostgreSQL's max_connections. Zero: 100.
	MaxConnections int
	// Source is the git repository the install steps clone Mastodon from (a URL or an
	// absolute path). Empty: mastodon.GitRepository.
	Source string
	// Rand is the randomness for new secrets. Nil: crypto/rand.
	Rand io.Reader
	// Firewall, when set, adds the host's nftables ruleset ([FirewallPath], see
	// [Host.FirewallConfig]) with this SSH access, and NEXT-STEPS loads it. Nil: none.
	Firewall *firewall.SSH
}

// Bundle paths of an all-in-one host (relative to --out; Home-dependent paths are
// computed by [Host.EnvPath] and [Host.WebrootPath]).
const (
	UnitDir        = "etc/systemd/system"
	SitePath       = "etc/nginx/sites-available/mastodon"
	BootstrapPath  = "etc/nginx/sites-available/mastodon-acme-bootstrap"
	PGDir          = "etc/postgresql/15/main"
	HBAPath        = PGDir + "/pg_hba.conf"
	HBABlockPath   = PGDir + "/pg_hba.mastodon-block.conf"
	TuningPath     = PGDir + "/conf.d/mastodon-tuning.conf"
	ListenPath     = PGDir + "/conf.d/mastodon-listen.conf"
	RedisPath      = "etc/redis/mastodon.conf"
	DBPasswordPath = "etc/v6kit/mastodon-db.password"
	NextStepsPath  = "NEXT-STEPS.md"
)

// Info is what Compose decided, for the summary, NEXT-STEPS.md and tests.
type Info struct {
	// Release is the exact release composed (Host.Release, or mastodon.Newest when
	// that is zero): never zero.
	Release mastodon.Release
	// Deployment, Site, Redis, PG and Tuning are the typed configs the files came from.
	Deployment units.Deployment
	Site       nginxconf.Site
	Redis      redisconf.Config
	PG         pgsetup.Config
	Tuning     pgsetup.Tuning
	// Plan is the rendered units (nil when they had errors).
	Plan *units.Plan
	// Budget is the connection budget.
	Budget units.BudgetReport
	// Env is the merged .env.production (nil when it had errors).
	Env *envfile.File
	// CertCommand is the v6-certs command that obtains the certificate.
	CertCommand []string
	// EnvPath is the tree path of .env.production.
	EnvPath string
	// Firewall is the packet filter the ruleset came from (nil: [Host.Firewall] unset).
	Firewall *firewall.Config
	// Steps are the install steps (NEXT-STEPS.md and INSTALL-STEPS.json).
	Steps []Step
}

func (h Host) home() string        { return cmp.Or(h.Home, "/home/mastodon") }
func (h Host) letsEncrypt() string { return cmp.Or(h.LetsEncrypt, acme.DefaultRoot) }
func (h Host) webDomain() string   { return cmp.Or(h.WebDomain, h.LocalDomain) }

// EnvPath is the tree path of .env.production: HOME/live/.env.production.
func (h Host) EnvPath() string {
	return strings.TrimPrefix(path.Join(h.home(), "live", ".env.production"), "/")
}

// Webroot is Mastodon's public directory, which the port-80 server serves
// /.well-known/acme-challenge/ from.
func (h Host) Webroot() string { return path.Join(h.home(), "live", "public") }

// reportedDomains are the problem paths that would repeat a domain problem of
// .env.production, which reports an invalid LOCAL_DOMAIN or WEB_DOMAIN (and a missing
// LOCAL_DOMAIN of a new file) first: the nginx site's domain and web_domain, the
// certificate paths made from the web domain, and "steps" (the v6-certs command names
// the domains). Each problem is reported once, with the path of the value the user gave.
func (h Host) reportedDomains(newEnv bool) map[string]bool {
	bad := func(d string) bool { _, err := envfile.NormalizeDomain(d); return err != nil }
	m := map[string]bool{}
	if h.LocalDomain != "" && bad(h.LocalDomain) || h.LocalDomain == "" && newEnv {
		m["domain"] = true
	}
	if h.WebDomain != "" && bad(h.WebDomain) {
		m["web_domain"] = true
	}
	if m["domain"] && h.WebDomain == "" || m["web_domain"] {
		m["cert"], m["key"], m["steps"] = true, true, true
	}
	if m["domain"] {
		m["steps"] = true
	}
	return m
}

// CertPaths are the certificate chain and key nginx reads (v6-certs' live/ layout).
func (h Host) CertPaths() (cert, key string) {
	live := path.Join(h.letsEncrypt(), "live", h.webDomain())
	return path.Join(live, "fullchain.pem"), path.Join(live, "privkey.pem")
}

// Compose renders every artifact of the host into t, validating each with its
// package. Nothing is written; call [Write] afterwards.
func (h Host) Compose(t *Tree) Info {
	var info Info
	if err := h.Release.Check(); err != nil {
		t.Problems.Errorf("mastodon", err, "%v", err)
		return info
	}
	rel := h.Release.OrNewest()
	info.Release = rel
	v6only := h.Family == IPv6Only
	info.EnvPath = h.EnvPath()

	// Values taken here that reach a command line or a security setting are checked for
	// their kind where they are taken (not only by the tool that later runs them).
	if h.AdminEmail != "" {
		if err := acme.CheckEmail(h.AdminEmail); err != nil {
			t.Problems.Errorf("email", err, "%v", err)
		}
	}
	if h.NAT64 != (netip.Prefix{}) {
		if err := egress.ValidPrefix(h.NAT64); err != nil || !h.NAT64.IsValid() {
			t.Problems.Errorf("nat64", egress.ErrPrefix, "NAT64 prefix %s would become ALLOWED_PRIVATE_ADDRESSES and open Mastodon's private-address check to all of it: give the NAT64's IPv6 prefix of an RFC 6052 length (32, 40, 48, 56, 64 or 96), e.g. %s, or none", h.NAT64, mastodon.NAT64WellKnownPrefix)
		}
	}

	// Redis on loopback: ::1 alone on an IPv6-only host, 127.0.0.1 and ::1 otherwise.
	// Releases before 4.2 cannot reach Redis at a bracketed IPv6 literal: they use
	// 127.0.0.1, which exists on an IPv6-only host too.
	info.Redis = redisconf.Config{Release: rel, Family: redisconf.DualStack, Port: h.RedisPort}
	if v6only && rel.RedisURLBrackets() {
		info.Redis.Family = redisconf.IPv6Only
	} else if v6only {
		t.Problems.Infof(RedisPath, "Mastodon %s cannot reach Redis over ::1: Redis binds 127.0.0.1 (and ::1 when present), Mastodon connects to 127.0.0.1", rel)
	}
	t.Redis(RedisPath, info.Redis)
	redisEnv, rps := info.Redis.Env()
	t.Problem(RedisPath, rps)

	// The role's password survives re-runs: it is read back from .env.production.
	existing := t.ExistingEnv(info.EnvPath)
	dbPass, err := KeepSecret(existing, "DB_PASS", h.Rand)
	if err != nil {
		t.Problems.Errorf("DB_PASS", envfile.ErrSecretFormat, "%v", err)
	}

	// .env.production: the instance's names, PostgreSQL over the socket, Redis as
	// redisconf says for this release, SMTP through the relay, and the NAT64 prefix
	// exempted from Mastodon's private-address check.
	env := envfile.Config{
		LocalDomain: h.LocalDomain,
		WebDomain:   h.WebDomain,
		DB:          envfile.DB{Password: dbPass},
		SMTP:        h.SMTP,
	}
	for _, v := range redisEnv {
		switch v.Key {
		case "REDIS_URL":
			env.Redis.URL = v.Value
		case "REDIS_HOST":
			env.Redis.Host = v.Value
		case "REDIS_PORT":
			port, err := strconv.Atoi(v.Value)
			if err != nil {
				t.Problems.Errorf(RedisPath, envfile.ErrPort, "REDIS_PORT %q from redisconf: %v", v.Value, err)
			}
			env.Redis.Port = port
		default:
			env.Extra = append(env.Extra, envfile.Var{Key: v.Key, Value: v.Value})
		}
	}
	envOpt := envfile.Options{Release: rel, Rand: h.Rand}
	if h.NAT64.IsValid() && v6only {
		envOpt.NAT64 = h.NAT64
		if rel.AllowedPrivateAddresses() {
			env.AllowedPrivateAddresses = []netip.Prefix{h.NAT64}
		}
	}
	h.egressEnv(t, &env, &envOpt)
	info.Env = t.Env(info.EnvPath, env, envOpt)

	// systemd units: web, sidekiq (one for every queue, or split by queue), streaming,
	// and the certificate renewal timer, after the local PostgreSQL and Redis. puma and
	// streaming listen on the family's loopback, where nginx and v6-probe look for them.
	loopback := rel.LoopbackBind(v6only)
	info.Deployment = units.Deployment{
		Release:        rel,
		Bind:           loopback,
		Paths:          units.Paths{Home: h.Home},
		Web:            units.Web{Port: h.WebPort},
		Streaming:      units.Streaming{Ports: portList(h.StreamingPort)},
		LocalServices:  true,
		MaxConnections: h.MaxConnections,
		CertRenew:      &units.CertRenew{Args: h.RenewArgs()},
	}
	if h.SplitSidekiq {
		info.Deployment.Sidekiq = SplitSidekiq(rel)
	}
	info.Plan = t.Units(UnitDir, info.Deployment)
	info.Budget = info.Deployment.Budget().Compute()

	// nginx: the port-80 server (ACME webroot and the https redirect), the TLS server,
	// and the LOCAL_DOMAIN server that redirects webfinger to WEB_DOMAIN.
	cert, key := h.CertPaths()
	info.Site = nginxconf.Site{
		Domain:       h.LocalDomain,
		WebDomain:    h.WebDomain,
		Release:      rel,
		NginxVersion: h.NginxVersion,
		HTTPPort:     h.HTTPPort,
		HTTPSPort:    h.HTTPSPort,
		Cert:         cert,
		Key:          key,
		Root:         h.Webroot(),
		CachePath:    h.NginxCache,
		Web:          nginxconf.Backend{Addr: loopback, Port: h.WebPort},
		Streaming:    nginxconf.Backend{Addr: loopback, Port: h.StreamingPort},
	}
	if info.Site.WebDomain == info.Site.Domain {
		info.Site.WebDomain = ""
	}
	if !v6only {
		info.Site.Family = nginxconf.DualStack
	}
	reported := h.reportedDomains(existing == nil)
	t.site(SitePath, info.Site, reported)
	t.Bootstrap(BootstrapPath, info.Site)

	// PostgreSQL: the managed pg_hba block (peer over the socket, scram-sha-256 over ::1
	// and, on dual-stack hosts, 127.0.0.1) and a tuning snippet sized for the budget.
	info.PG = pgsetup.Config{
		Role:     "mastodon",
		Database: "mastodon_production",
		Password: dbPass,
		NoIPv4:   v6only,
		Release:  rel,
		Budget:   info.Deployment.Budget(),
	}
	t.HBA(HBAPath, HBABlockPath, info.PG)
	t.Add(File{Path: DBPasswordPath, Data: []byte(dbPass + "\n"), Mode: 0o600, Secret: true})
	// listen_addresses as literals: Debian's default 'localhost' resolves to 127.0.0.1
	// alone where /etc/hosts lacks "::1 localhost", so the ::1 rules above would never match.
	t.Listen(ListenPath, pgsetup.Listen{NoIPv4: v6only})
	info.Tuning = pgsetup.Tuning{RAM: cmp.Or(h.RAM, 4<<30), CPUs: cmp.Or(h.CPUs, 2), Connections: cmp.Or(h.MaxConnections, 100)}
	t.Tuning(TuningPath, info.Tuning)

	// The certificate: v6-certs answers HTTP-01 through the port-80 server's webroot.
	info.CertCommand = h.CertCommand()
	if fw, ok := h.FirewallConfig(); ok {
		info.Firewall = &fw
		t.Firewall(FirewallPath, fw)
	}
	h.addSteps(t, &info, reported["steps"])
	return info
}

func portList(p int) []int {
	if p == 0 {
		return nil
	}
	return []int{p}
}

// RenewArgs are the arguments after `v6-certs renew` in the renewal unit: the lineage
// directory when it isn't the default, and --reload-nginx.
func (h Host) RenewArgs() []string {
	var args []string
	if h.letsEncrypt() != acme.DefaultRoot {
		args = append(args, "--dir", h.letsEncrypt())
	}
	// after a renewal: nginx -t, then systemctl reload nginx
	return append(args, "--reload-nginx")
}

// CertCommand is the `v6-certs obtain` command line for the host's certificate: one
// lineage named after WEB_DOMAIN covering both names, HTTP-01 through the webroot.
func (h Host) CertCommand() []string {
	cmd := []string{"v6-certs", "obtain"}
	if h.letsEncrypt() != acme.DefaultRoot {
		cmd = append(cmd, "--dir", h.letsEncrypt())
	}
	if h.ACMEServer != "" {
		cmd = append(cmd, "--server", h.ACMEServer)
	}
	if h.AdminEmail != "" {
		cmd = append(cmd, "--email", h.AdminEmail)
	}
	cmd = append(cmd, "--webroot", h.Webroot(), "--cert-name", h.webDomain())
	for _, n := range h.CertNames() {
		cmd = append(cmd, "-d", n)
	}
	return cmd
}

// CertNames are the names the certificate covers: WEB_DOMAIN first, then LOCAL_DOMAIN.
func (h Host) CertNames() []string {
	names := []string{h.webDomain()}
	if h.LocalDomain != "" && h.LocalDomain != h.webDomain() {
		names = append(names, h.LocalDomain)
	}
	return names
}

// SplitSidekiq is the split set of sidekiq processes for a release: default and ingress
// (and any queue not named below) with 25 threads, push and pull with 10, mailers with
// 5, and the one scheduler process with 5. Zero rel: [mastodon.Newest].
func SplitSidekiq(rel mastodon.Release) []units.Sidekiq {
	groups := []units.Sidekiq{{Concurrency: 25}, {Concurrency: 10}, {Concurrency: 5}, {Concurrency: 5}}
	for _, q := range rel.OrNewest().Queues() {
		uq := units.Queue{Name: q.Name}
		if q.Weight > 1 {
			uq.Weight = q.Weight
		}
		switch q.Name {
		case "push", "pull":
			groups[1].Queues = append(groups[1].Queues, uq)
		case "mailers":
			groups[2].Queues = append(groups[2].Queues, uq)
		case "scheduler":
			groups[3].Queues = append(groups[3].Queues, uq)
		default:
			groups[0].Queues = append(groups[0].Queues, uq)
		}
	}
	return slices.DeleteFunc(groups, func(s units.Sidekiq) bool { return len(s.Queues) == 0 })
}

// Bootstrap adds the port-80 server of site alone, as its own site file: enabled
// before the first certificate exists (nginx cannot load the TLS servers without it),
// it lets v6-certs answer HTTP-01 through the same webroot location, and is disabled
// once the full site is enabled.
func (t *Tree) Bootstrap(p string, s nginxconf.Site) {
	ds, err := s.Directives()
	if err != nil {
		return // Site already recorded the problems
	}
	var keep []nginxconf.Directive
	keep = append(keep, nginxconf.Comment("The port-80 server of the Mastodon site alone: enable it only until the first certificate is issued."))
	for _, d := range ds {
		if d.Name == "server" && !hasDirective(d, "ssl_certificate") {
			keep = append(keep, d)
		}
	}
	var b bytes.Buffer
	b.WriteString("# " + nginxconf.Header + "\n")
	if err := nginxconf.Print(&b, keep); err != nil {
		t.Problems.Errorf(p, nginxconf.ErrPrint, "%v", err)
		return
	}
	t.Add(File{Path: p, Data: b.Bytes(), Mode: 0o644})
}

func hasDirective(d nginxconf.Directive, name string) bool {
	for _, c := range d.Block {
		if c.Name == name || hasDirective(c, name) {
			return true
		}
	}
	return false
}

// KeepSecret returns the value of key in the existing .env.production, or a new
// 32-character alphanumeric secret (Mastodon's Alnum32 format) when there is none.
func KeepSecret(existing *envfile.File, key string, rnd io.Reader) (string, error) {
	if existing != nil {
		if v, ok := existing.Get(key); ok && v != "" {
			return v, nil
		}
	}
	return envfile.GenerateSecret(mastodon.Alnum32, rnd)
}
