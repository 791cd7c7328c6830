// Package mastodon is v6kit's one catalogue of Mastodon release facts: which environment
// variables each release reads, which are required and secret and how each secret is
// generated, which variables were removed, the sidekiq queues, the listener (BIND) forms,
// the dist/ templates' shape, admin commands and minimum dependency versions, for every
// release line from 1.6 (the origin story's) through 4.7.
//
// Every other v6kit package asks this one; none hard-codes a Mastodon fact. Each fact
// carries a comment naming the Mastodon version it holds from. Facts come from reading
// Mastodon's source at v1.6.1, v2.9.4, v3.5.13, v4.0.9, v4.2.13, v4.3.23, v4.4.22,
// v4.5.15, v4.6.5 and 4.7.0-pre, and from each x.y.0 tag for first appearances.
package mastodon

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// line is one supported release line and the newest patch v6kit knows of it.
type line struct {
	major, minor, newestPatch int
}

// lines lists every supported release line, oldest first. The newest patches are those
// read for the survey (later patch releases of 3.5, 4.0 and 4.2 exist; they carry
// security fixes only).
var lines = []line{
	{1, 6, 1},
	{2, 0, 0}, {2, 1, 0}, {2, 2, 0}, {2, 3, 0}, {2, 4, 0}, {2, 5, 0}, {2, 6, 0}, {2, 7, 0}, {2, 8, 0}, {2, 9, 4},
	{3, 0, 0}, {3, 1, 0}, {3, 2, 0}, {3, 3, 0}, {3, 4, 0}, {3, 5, 13},
	{4, 0, 9}, {4, 1, 0}, {4, 2, 13}, {4, 3, 23}, {4, 4, 22}, {4, 5, 15}, {4, 6, 6}, {4, 7, 0},
}

// Release is what v6kit knows about one Mastodon version. Obtain it with [Lookup] or
// [Newest]; its methods answer every version-dependent question.
type Release struct {
	// Version is the exact version: a bare line ("4.5") resolves to the newest patch known.
	Version Version
}

// Lookup resolves "4.5", "v4.5.2" or "4.5.2" to its release line. A version outside
// 1.6 … 4.7 is [ErrUnknownVersion]; a malformed one is [ErrBadVersion].
func Lookup(s string) (Release, error) {
	v, err := ParseVersion(s)
	if err != nil {
		return Release{}, err
	}
	for _, l := range lines {
		if l.major == v.Major && l.minor == v.Minor {
			if v.Patch < 0 {
				v.Patch = l.newestPatch
			}
			return Release{Version: v}, nil
		}
	}
	return Release{}, fmt.Errorf("%w (got %q; supported: %s)", ErrUnknownVersion, s, strings.Join(Lines(), ", "))
}

// MustLookup is Lookup for constants in tests and examples; it panics on an unknown version.
func MustLookup(s string) Release {
	r, err := Lookup(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Newest returns the newest supported release (4.7.0).
func Newest() Release {
	l := lines[len(lines)-1]
	return Release{Version: V(l.major, l.minor, l.newestPatch)}
}

// Lines lists the supported release lines, oldest first: "1.6", "2.0", …, "4.7".
func Lines() []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = fmt.Sprintf("%d.%d", l.major, l.minor)
	}
	return out
}

// String returns the version, e.g. "4.5.15".
func (r Release) String() string { return r.Version.String() }

// Line returns the release line, e.g. "4.5".
func (r Release) Line() string { return r.Version.Line().String() }

// AtLeast reports whether the release is at or after major.minor.patch.
func (r Release) AtLeast(major, minor, patch int) bool {
	return r.Version.AtLeast(V(major, minor, patch))
}

// IsNewest reports whether the release is on the newest supported line.
func (r Release) IsNewest() bool { return r.Version.Line() == Newest().Version.Line() }

// ---- Environment variables ------------------------------------------------------------

// EnvVar is one variable from the survey of Mastodon's source.
type EnvVar struct {
	// Name is the variable's name.
	Name string
	// First is the first release seen reading it; Last the last one (zero: still read).
	First, Last Version
	// Process says who reads it ("web+sidekiq", "streaming", "rake/cli", …).
	Process string
	// Secret marks credentials and keys: never printed, file mode 0600.
	Secret bool
	// Default is Mastodon's default as the survey wrote it.
	Default string
	// Notes holds the survey's notes (semantics, pitfalls).
	Notes string
}

// readIn reports whether the variable is read by release v, at line granularity for the
// start (a variable first seen in 4.2.13 counts for the 4.2 line) and the end.
func (e EnvVar) readIn(v Version) bool {
	if v.Line().Before(e.First.Line()) {
		return false
	}
	if e.Name == "REDIS_NAMESPACE" && v.AtLeast(V(4, 4, 0)) {
		return false // from 4.4.0 its presence aborts boot
	}
	if !e.Last.IsZero() && v.Line().Compare(e.Last.Line()) > 0 {
		return false
	}
	return true
}

// LookupVar returns the survey entry for name, whatever the version.
func LookupVar(name string) (EnvVar, bool) {
	i := slices.IndexFunc(envVars, func(e EnvVar) bool { return e.Name == name })
	if i < 0 {
		return EnvVar{}, false
	}
	return envVars[i], true
}

// Vars returns every variable this release reads, in the survey's (alphabetical) order.
func (r Release) Vars() []EnvVar {
	var out []EnvVar
	for _, e := range envVars {
		if e.readIn(r.Version) {
			out = append(out, e)
		}
	}
	return out
}

// Reads reports whether this release reads the variable.
func (r Release) Reads(name string) bool {
	e, ok := LookupVar(name)
	return ok && e.readIn(r.Version)
}

// IsSecret reports whether a variable holds a credential or key (by the survey, plus any
// name ending in _PASSWORD, _PASS, _SECRET, _KEY or _TOKEN, and URLs that may embed a password).
func IsSecret(name string) bool {
	if e, ok := LookupVar(name); ok && e.Secret {
		return true
	}
	for _, suf := range []string{"_PASSWORD", "_PASS", "_SECRET", "_SECRET_KEY", "_PRIVATE_KEY", "_API_KEY", "_TOKEN", "SECRET_KEY_BASE"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// Required lists the variables this release refuses to boot without, in order.
func (r Release) Required() []string {
	out := []string{"SECRET_KEY_BASE"} // all versions (config/secrets.yml ≤4.2, Rails core ≥4.3)
	if r.AtLeast(2, 3, 0) && r.Version.Before(V(4, 4, 0)) {
		out = append(out, "OTP_SECRET") // ENV.fetch in production.rb 2.3.0 … 4.3.x
	}
	if r.AtLeast(4, 3, 0) {
		out = append(out, arKeys...) // initializer aborts when blank, 4.3.0+
	}
	return out
}

// Recommended lists variables a real instance must set although boot does not enforce them.
func (r Release) Recommended() []string {
	out := []string{"LOCAL_DOMAIN", "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}
	if r.Version.Before(V(2, 3, 0)) {
		out = append(out, "OTP_SECRET", "PAPERCLIP_SECRET") // read but not enforced ≤2.2
	}
	return out
}

// Removal explains why a variable set in .env.production is not read by a release.
type Removal struct {
	// Name is the variable.
	Name string
	// Fatal is true when its mere presence stops Mastodon from booting.
	Fatal bool
	// Reason says what happened and what to do.
	Reason string
}

// Removed reports whether name was read by an earlier release but not by this one.
func (r Release) Removed(name string) (Removal, bool) {
	e, ok := LookupVar(name)
	if !ok || r.Version.Line().Before(e.First.Line()) {
		return Removal{}, false
	}
	switch name {
	case "REDIS_NAMESPACE":
		if r.AtLeast(4, 4, 0) {
			return Removal{Name: name, Fatal: true, Reason: "REDIS_NAMESPACE aborts boot from Mastodon 4.4.0: migrate the keys with mastodon/redis_namespace_migration, set ES_PREFIX to the old namespace if you use Elasticsearch, then remove the line"}, true
		}
		return Removal{}, false
	case "OTP_SECRET":
		if r.AtLeast(4, 4, 0) {
			return Removal{Name: name, Reason: "OTP_SECRET is not read at boot from 4.4.0, but the legacy 2FA migration still needs it when upgrading from before 4.3.0: keep it until that migration has run"}, true
		}
	case "PAPERCLIP_SECRET":
		if r.AtLeast(2, 3, 0) {
			return Removal{Name: name, Reason: "PAPERCLIP_SECRET is not read since 2.3.0: it is harmless and may be deleted"}, true
		}
	}
	if !e.readIn(r.Version) {
		return Removal{Name: name, Reason: fmt.Sprintf("%s was last read by Mastodon %s; %s ignores it", name, e.Last.Line(), r.Line())}, true
	}
	return Removal{}, false
}

// ---- Secrets --------------------------------------------------------------------------

// SecretFormat is how a secret is generated and what its value looks like.
type SecretFormat int

const (
	// Hex128 is SecureRandom.hex(64): 128 lowercase hex characters.
	Hex128 SecretFormat = iota + 1
	// Alnum32 is SecureRandom.alphanumeric(32): 32 characters A–Z a–z 0–9.
	Alnum32
	// VAPIDPrivate is a P-256 private scalar, 32 bytes, base64url with padding (44 characters).
	VAPIDPrivate
	// VAPIDPublic is the uncompressed P-256 point 0x04‖X‖Y, 65 bytes, base64url with padding (88 characters).
	VAPIDPublic
)

// String names the format as the error messages say it.
func (f SecretFormat) String() string {
	switch f {
	case Hex128:
		return "128 lowercase hex characters"
	case Alnum32:
		return "32 letters and digits"
	case VAPIDPrivate:
		return "a P-256 private key, 44 characters of base64url with padding"
	case VAPIDPublic:
		return "an uncompressed P-256 public key, 88 characters of base64url with padding"
	}
	return "unknown format"
}

// Secret is a value Mastodon needs generated once and kept forever.
type Secret struct {
	// Name is the variable.
	Name string
	// Format is how it is generated.
	Format SecretFormat
	// Loss says what changing it destroys.
	Loss string
	// Destructive marks secrets whose rotation loses data irrecoverably; rotating one
	// needs an explicit second confirmation.
	Destructive bool
}

// arKeys are the three Active Record encryption keys (4.3.0+).
var arKeys = []string{
	"ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
	"ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
	"ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
}

// Secrets lists the secrets this release needs generated, in the order .env.production
// lists them.
func (r Release) Secrets() []Secret {
	out := []Secret{{Name: "SECRET_KEY_BASE", Format: Hex128,
		Loss: "every user is logged out and pending password-reset, confirmation and unsubscribe links stop working; no data is lost"}}
	if r.Version.Before(V(4, 4, 0)) { // OTP_SECRET read 1.6.1 … 4.3.x
		out = append(out, Secret{Name: "OTP_SECRET", Format: Hex128, Destructive: true,
			Loss: "every enrolled TOTP two-factor secret becomes undecryptable: 2FA users cannot log in until an admin disables their 2FA"})
	}
	if r.Version.Before(V(2, 3, 0)) { // PAPERCLIP_SECRET 1.6.1 … 2.2.x
		out = append(out, Secret{Name: "PAPERCLIP_SECRET", Format: Hex128,
			Loss: "existing import attachment URLs stop resolving"})
	}
	if r.AtLeast(4, 3, 0) {
		loss := "the encrypted columns become undecryptable: every user's 2FA secret (4.3+)"
		if r.AtLeast(4, 6, 0) {
			loss += " and stored remote keys (4.6+)"
		}
		if r.AtLeast(4, 7, 0) {
			loss += " and every local account's signing key, which breaks federation (4.7+)"
		}
		for _, k := range arKeys {
			out = append(out, Secret{Name: k, Format: Alnum32, Destructive: true, Loss: loss})
		}
	}
	out = append(out,
		Secret{Name: "VAPID_PRIVATE_KEY", Format: VAPIDPrivate, Loss: "every browser push subscription becomes invalid; users must re-subscribe"},
		Secret{Name: "VAPID_PUBLIC_KEY", Format: VAPIDPublic, Loss: "every browser push subscription becomes invalid; users must re-subscribe"},
	)
	return out
}

// SecretByName returns the secret definition for name in this release.
func (r Release) SecretByName(name string) (Secret, bool) {
	for _, s := range r.Secrets() {
		if s.Name == name {
			return s, true
		}
	}
	return Secret{}, false
}

// ---- Sidekiq --------------------------------------------------------------------------

// Queue is a sidekiq queue with the weight config/sidekiq.yml gives it (1 if unweighted).
type Queue struct {
	Name   string
	Weight int
}

// Queues lists the queues this release's config/sidekiq.yml declares.
func (r Release) Queues() []Queue {
	switch {
	case r.Version.Before(V(2, 6, 0)): // 1.6.1 … 2.5.x: unweighted
		return []Queue{{"default", 1}, {"push", 1}, {"pull", 1}, {"mailers", 1}}
	case r.Version.Before(V(3, 3, 0)): // 2.6 … 3.2
		return []Queue{{"default", 6}, {"push", 4}, {"mailers", 2}, {"pull", 1}}
	case r.Version.Before(V(4, 0, 0)): // 3.3 … 3.5: scheduler becomes a queue
		return []Queue{{"default", 6}, {"push", 4}, {"mailers", 2}, {"pull", 1}, {"scheduler", 1}}
	case r.Version.Before(V(4, 4, 0)): // 4.0 … 4.3: ingress
		return []Queue{{"default", 8}, {"push", 6}, {"ingress", 4}, {"mailers", 2}, {"pull", 1}, {"scheduler", 1}}
	default: // 4.4 … 4.7: fasp
		return []Queue{{"default", 8}, {"push", 6}, {"ingress", 4}, {"mailers", 2}, {"pull", 1}, {"scheduler", 1}, {"fasp", 1}}
	}
}

// HasQueue reports whether config/sidekiq.yml of this release declares the queue.
func (r Release) HasQueue(name string) bool {
	return slices.ContainsFunc(r.Queues(), func(q Queue) bool { return q.Name == name })
}

// SchedulerIsQueue reports whether scheduled jobs run only in the process that listens to
// the `scheduler` queue (listened_queues_only, 3.3.0+). Before, every process loads them.
func (r Release) SchedulerIsQueue() bool { return r.AtLeast(3, 3, 0) }

// DistSidekiqConcurrency is the -c the dist unit passes: 5 in the 2017 guide, 25 from 2.6.
func (r Release) DistSidekiqConcurrency() int {
	if r.Version.Before(V(2, 6, 0)) {
		return 5
	}
	return 25
}

// ---- Processes and listeners ----------------------------------------------------------

// Defaults for puma and streaming (config/puma.rb, streaming/index.js; all versions).
const (
	DefaultWebPort         = 3000
	DefaultStreamingPort   = 4000
	DefaultWebConcurrency  = 2  // WEB_CONCURRENCY
	DefaultMaxThreads      = 5  // MAX_THREADS
	DefaultStreamingDBPool = 10 // streaming DB_POOL default (4.1+; v6kit assumes it for older lines too)
	DefaultExporterPort    = 9394
)

// PumaBindSince is the first release whose puma reads BIND (2.9.3, config/puma.rb).
func PumaBindSince() Version { return V(2, 9, 3) }

// PumaHasBind reports whether puma reads BIND (2.9.3+); before, it listens on 0.0.0.0:PORT.
func (r Release) PumaHasBind() bool { return r.Version.AtLeast(PumaBindSince()) }

// StreamingHasBind reports whether streaming reads BIND (2.1.0+); 1.6 listens on Node's any-address.
func (r Release) StreamingHasBind() bool { return r.AtLeast(2, 1, 0) }

// StreamingAcceptsBrackets reports whether streaming strips brackets from BIND (4.3.0+, PR #31624).
func (r Release) StreamingAcceptsBrackets() bool { return r.AtLeast(4, 3, 0) }

// StreamingTemplated reports whether streaming runs as mastodon-streaming@PORT instances
// behind a shim unit (dist since 4.2.0, PR #24751).
func (r Release) StreamingTemplated() bool { return r.AtLeast(4, 2, 0) }

// StreamingClusterNum reports whether streaming forks STREAMING_CLUSTER_NUM workers (≤4.1).
func (r Release) StreamingClusterNum() bool { return r.Version.Before(V(4, 2, 0)) }

// StreamingCommand is the dist ExecStart of streaming, relative to its launcher:
// `npm run start` ≤2.7, `node ./streaming` from 2.8.
func (r Release) StreamingUsesNPM() bool { return r.Version.Before(V(2, 8, 0)) }

// HasPrometheusExporter reports whether the dist ships mastodon-prometheus-exporter.service (4.6.0+).
func (r Release) HasPrometheusExporter() bool { return r.AtLeast(4, 6, 0) }

// WebHasPhasedRestart reports whether the dist web unit has ExecReload=kill -SIGUSR1 (2.6+).
func (r Release) WebHasPhasedRestart() bool { return r.AtLeast(2, 6, 0) }

// JemallocPreload reports whether the dist units set LD_PRELOAD=libjemalloc.so (3.5.0+).
func (r Release) JemallocPreload() bool { return r.AtLeast(3, 5, 0) }

// SidekiqMallocArenaMax reports whether the dist sidekiq unit sets MALLOC_ARENA_MAX=2 (2.6+).
func (r Release) SidekiqMallocArenaMax() bool { return r.AtLeast(2, 6, 0) }

// Hardening names the sandbox the dist units carry.
type Hardening int

const (
	// HardeningNone: no sandbox (≤3.3).
	HardeningNone Hardening = iota
	// Hardening34: the first sandbox of 3.4.x, ProtectSystem=strict without ReadWritePaths.
	Hardening34
	// HardeningFull: the block shipped from 3.5.0 to main.
	HardeningFull
)

// DistHardening is the sandbox of this release's dist units.
func (r Release) DistHardening() Hardening {
	switch {
	case r.AtLeast(3, 5, 0):
		return HardeningFull
	case r.AtLeast(3, 4, 0):
		return Hardening34
	}
	return HardeningNone
}

// LoopbackBind is the one loopback address puma and streaming listen on, and nginx and
// v6-probe connect to, on a host of this release: ::1 on an IPv6-only host and
// 127.0.0.1 (the dist default, config/puma.rb and streaming/index.js) on a dual-stack
// one. Every v6kit tool and bundle takes its default from here, so they agree per family.
//
// Releases whose puma ignores BIND (before 2.9.3: it listens on 0.0.0.0:PORT, IPv4
// only) get 127.0.0.1 on an IPv6-only host too: the address exists there, and it is
// the only loopback address such a puma answers on. Write the address with
// [Release.FormatBind]: puma builds "tcp://#{BIND}:#{PORT}" and parses it as a URI, so
// it needs [::1] (all releases from 2.9.3, config/puma.rb), while streaming passes
// BIND to Node's listen() and needs a bare ::1 before 4.3.0 (brackets are stripped
// from 4.3.0, #31624).
func (r Release) LoopbackBind(ipv6Only bool) netip.Addr {
	if ipv6Only && r.PumaHasBind() {
		return netip.IPv6Loopback()
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// FormatBind renders an address for BIND in the form a process of this release accepts.
// Puma (2.9.3+) needs brackets around IPv6 (a URI); streaming before 4.3.0 needs it bare,
// and from 4.3.0 takes either, so v6kit writes it bare. IPv4 is written as is.
func (r Release) FormatBind(process string, addr string) string {
	isV6 := strings.Contains(addr, ":")
	bare := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if !isV6 {
		return bare
	}
	if process == "web" {
		return "[" + bare + "]"
	}
	return bare
}

// ---- Data stores ----------------------------------------------------------------------

// MinPostgres is the lowest PostgreSQL major version db:pre_migration_check accepts
// (0: no check before 3.4.0).
func (r Release) MinPostgres() int {
	switch {
	case r.AtLeast(4, 5, 0):
		return 14
	case r.AtLeast(4, 4, 0):
		return 13
	case r.AtLeast(4, 3, 0):
		return 12
	case r.AtLeast(4, 2, 4):
		return 10
	case r.AtLeast(3, 4, 0):
		return 9 // 9.5
	}
	return 0
}

// MinPostgresString is MinPostgres as a version string ("9.5", "14"), or "" without a check.
func (r Release) MinPostgresString() string {
	switch m := r.MinPostgres(); m {
	case 0:
		return ""
	case 9:
		return "9.5"
	default:
		return fmt.Sprint(m)
	}
}

// MinRedis is the lowest Redis version: 2.8 (≤2.9, Sidekiq 5), 4.0 (3.x–4.3, Sidekiq 6), 6.2 (4.4+).
func (r Release) MinRedis() Version {
	switch {
	case r.AtLeast(4, 4, 0):
		return V(6, 2, 0)
	case r.AtLeast(3, 0, 0):
		return V(4, 0, 0)
	}
	return V(2, 8, 0)
}

// MinNode is the lowest Node.js major: 6 (1.6), 8 (2.x), 12 (3.x), 14 (4.0–4.1), 16 (4.2), 18 (4.3), 20 (4.4–4.5), 22 (4.6+).
func (r Release) MinNode() int {
	switch {
	case r.AtLeast(4, 6, 0):
		return 22
	case r.AtLeast(4, 4, 0):
		return 20
	case r.AtLeast(4, 3, 0):
		return 18
	case r.AtLeast(4, 2, 0):
		return 16
	case r.AtLeast(4, 0, 0):
		return 14
	case r.AtLeast(3, 0, 0):
		return 12
	case r.AtLeast(2, 0, 0):
		return 8
	}
	return 6
}

// Ruby is the pinned .ruby-version of the release line (as read at the surveyed patch).
func (r Release) Ruby() string {
	switch {
	case r.AtLeast(4, 7, 0):
		return "4.0.6"
	case r.AtLeast(4, 6, 0):
		return "4.0.5"
	case r.AtLeast(4, 5, 0):
		return "3.4.7"
	case r.AtLeast(4, 4, 0):
		return "3.4.4"
	case r.AtLeast(4, 3, 0):
		return "3.3.5"
	case r.AtLeast(4, 2, 0):
		return "3.2.3"
	case r.AtLeast(3, 0, 0):
		return "3.0.6"
	case r.AtLeast(2, 0, 0):
		return "2.6.1"
	}
	return "2.4.1"
}

// DBHostColonBroken reports the Rails pitfall: DB_HOST is pasted unquoted into
// config/database.yml, so a value starting with ':' becomes a Ruby symbol and a
// bracketed one is a YAML syntax error (all versions).
func (r Release) DBHostColonBroken() bool { return true }

// StreamingDatabaseURLBrackets reports whether streaming fails on DATABASE_URL with a
// bracketed IPv6 literal (4.2.0+, pg-connection-string keeps the brackets → ENOTFOUND).
func (r Release) StreamingDatabaseURLBrackets() bool { return r.AtLeast(4, 2, 0) }

// StreamingSSLModePreferBreaks reports whether DB_SSLMODE=prefer makes streaming demand
// TLS (4.2.0+: anything but disable/empty/no-verify requires TLS).
func (r Release) StreamingSSLModePreferBreaks() bool { return r.AtLeast(4, 2, 0) }

// RedisURLBrackets reports whether REDIS_URL=redis://[v6]:port works for both Rails and
// streaming (4.2.0+: redis-rb 4.8 and ioredis; 3.5–4.1 node-redis v4 keeps brackets).
func (r Release) RedisURLBrackets() bool { return r.AtLeast(4, 2, 0) }

// RedisAAAAHostnameNeedsFamily6 reports whether streaming (ioredis, 4.2.x) needs
// `?family=6` on REDIS_URL to reach an AAAA-only Redis hostname (fixed in 4.3.0, PR #31229).
func (r Release) RedisAAAAHostnameNeedsFamily6() bool {
	return r.AtLeast(4, 2, 0) && r.Version.Before(V(4, 3, 0))
}

// RedisUser reports whether REDIS_USER (ACL user) is read (4.3.0+).
func (r Release) RedisUser() bool { return r.AtLeast(4, 3, 0) }

// RedisNamespaceFatal reports whether REDIS_NAMESPACE aborts boot (4.4.0+).
func (r Release) RedisNamespaceFatal() bool { return r.AtLeast(4, 4, 0) }

// ---- Outbound federation --------------------------------------------------------------

// NAT64WellKnownPrefix is RFC 6052's 64:ff9b::/96.
const NAT64WellKnownPrefix = "64:ff9b::/96"

// PrivateAddressCheck reports whether outbound requests refuse private addresses
// (2.3.0+): NAT64's well-known prefix is in that list (built-in list 4.3.0+, PR #30848,
// which preserved the gem's list used from 2.3), so an IPv6-only host behind DNS64/NAT64
// must add its NAT64 prefix to ALLOWED_PRIVATE_ADDRESSES (3.3.0+) to reach IPv4-only peers.
func (r Release) PrivateAddressCheck() bool { return r.AtLeast(2, 3, 0) }

// AllowedPrivateAddresses reports whether ALLOWED_PRIVATE_ADDRESSES is read (3.3.0+).
func (r Release) AllowedPrivateAddresses() bool { return r.AtLeast(3, 3, 0) }

// BlockedIPv6Prefixes lists the IPv6 prefixes that Mastodon's PrivateAddressCheck
// refuses, loopback, link-local and unique local included: the private_address_check
// gem's list from 2.3.0 (0.4.1 and 0.5.0 both hold 64:ff9b::/96), kept by the in-tree
// app/lib/private_address_check.rb of 4.3.0 (PR #30848, which leaves ::1, fe80::/10 and
// fc00::/7 to IPAddr#loopback?, #link_local? and #private?). The unspecified address
// ::/128, 64:ff9b:1::/48 and 3fff::/20 are refused only from 4.5.10 and 4.6.0 (commit
// ec2a99341c, see [Release.BlocksLocalUseNAT64]); before, IPAddr("::") passed every test.
func (r Release) BlockedIPv6Prefixes() []string {
	if !r.PrivateAddressCheck() {
		return nil
	}
	var out []string
	if r.BlocksLocalUseNAT64() {
		out = append(out, "::/128")
	}
	out = append(out, "64:ff9b::/96")
	if r.BlocksLocalUseNAT64() {
		out = append(out, "64:ff9b:1::/48")
	}
	out = append(out, "100::/64", "2001::/32", "2001:10::/28", "2001:20::/28", "2001:db8::/32", "2002::/16", "fc00::/7")
	if r.BlocksLocalUseNAT64() {
		out = append(out, "3fff::/20")
	}
	return append(out, "ff00::/8", "fe80::/10", "::1/128")
}

// TriesIPv6First reports whether outbound connections try IPv6 addresses in parallel with
// IPv4 (4.0.0+, PR #20108); 2.7–3.5 try only the first two answers, A before AAAA.
func (r Release) TriesIPv6First() bool { return r.AtLeast(4, 0, 0) }

// ReadsEtcHosts reports whether the outbound resolver honours /etc/hosts: through the
// system resolver up to 2.6.x (http.rb's socket 1.6–2.2, IPSocket.getaddress 2.3,
// Addrinfo.foreach 2.4–2.6), not with Ruby's Resolv::DNS from 2.7.0 to 4.5.x, which
// reads resolv.conf only, and again from 4.6.0 (Resolv::Hosts before Resolv::DNS).
func (r Release) ReadsEtcHosts() bool { return r.Version.Before(V(2, 7, 0)) || r.AtLeast(4, 6, 0) }

// HostAuthorization reports whether Rails refuses a Host header outside LOCAL_DOMAIN,
// WEB_DOMAIN and ALTERNATE_DOMAINS, except on /health (3.4.0+).
func (r Release) HostAuthorization() bool { return r.AtLeast(3, 4, 0) }

// HasHealth reports whether GET /health answers OK (3.0.0+).
func (r Release) HasHealth() bool { return r.AtLeast(3, 0, 0) }

// ---- Commands -------------------------------------------------------------------------

// OwnerCommand is the command that creates the first admin account.
func (r Release) OwnerCommand(username, email string) string {
	switch {
	case r.AtLeast(4, 2, 0):
		return fmt.Sprintf("RAILS_ENV=production bin/tootctl accounts create %s --email %s --confirmed --approve --role Owner", username, email)
	case r.AtLeast(4, 0, 0):
		return fmt.Sprintf("RAILS_ENV=production bin/tootctl accounts create %s --email %s --confirmed --role Owner", username, email)
	case r.AtLeast(2, 6, 0):
		return fmt.Sprintf("RAILS_ENV=production bin/tootctl accounts create %s --email %s --confirmed --role admin", username, email)
	}
	return fmt.Sprintf("RAILS_ENV=production bundle exec rails mastodon:make_admin USERNAME=%s  # after signing up as %s through the web", username, username)
}

// AssetsCommand is the asset build; 4.3.0+ can run it without real secrets.
func (r Release) AssetsCommand() string {
	if r.AtLeast(4, 3, 0) {
		return "RAILS_ENV=production SECRET_KEY_BASE_DUMMY=1 bundle exec rails assets:precompile"
	}
	return "RAILS_ENV=production bundle exec rails assets:precompile"
}

// DBSetupCommand creates the database, loads the schema and seeds it (erases an existing one).
func (r Release) DBSetupCommand() string {
	return "RAILS_ENV=production SAFETY_ASSURED=1 bundle exec rails db:setup"
}

// ARKeys returns the names of the three Active Record encryption keys (4.3.0+), a new
// slice each call. Changing one makes the data encrypted with it unreadable.
func ARKeys() []string { return slices.Clone(arKeys) }
