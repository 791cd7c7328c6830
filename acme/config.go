package acme

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/challenge"
	"golang.org/x/net/idna"

	"github.com/v6kit/v6kit/report"
)

// Well-known ACME directory URLs and defaults.
const (
	// LetsEncrypt is Let's Encrypt's production directory, the default CA.
	LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"
	// LetsEncryptStaging is Let's Encrypt's staging directory (untrusted certificates, high limits).
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
	// DefaultRoot is certbot's configuration directory, where lineages live.
	DefaultRoot = "/etc/letsencrypt"
	// DefaultConcurrency bounds the orders (and ARI checks) in flight at once. An
	// order spends nearly all its time waiting for the CA, so 20 names are ordered in
	// one wave; Let's Encrypt's limits that matter (300 new orders per account per
	// 3 hours, per-endpoint request rates of hundreds per second) are far above it.
	DefaultConcurrency = 20
	// DefaultPollInterval is the first wait before polling an authorization or an
	// order; each later wait doubles (50 ms, 100 ms, 200 ms, … up to MaxPollInterval),
	// and a Retry-After from the CA always wins when it asks for longer. Against Let's
	// Encrypt, whose validation takes about a second, that is five or six polls per
	// authorization; against a local Pebble the first poll usually finds it done.
	DefaultPollInterval = 50 * time.Millisecond
	// MaxPollInterval caps the exponential back-off between polls.
	MaxPollInterval = 5 * time.Second
	// DefaultTimeout bounds one order, from newOrder to the downloaded certificate.
	DefaultTimeout = 3 * time.Minute
)

// ChallengeType names an ACME challenge.
type ChallengeType string

// The challenge types v6-certs answers.
const (
	HTTP01    ChallengeType = "http-01"
	TLSALPN01 ChallengeType = "tls-alpn-01"
	DNS01     ChallengeType = "dns-01"
)

// Family chooses the IP families a built-in challenge server listens on.
type Family int

const (
	// IPv6Only listens on IPv6 only (the zero value): the server is reached over IPv6.
	IPv6Only Family = iota
	// DualStack listens on IPv6 and IPv4 (one socket when the address is "::").
	DualStack
	// IPv4Only listens on IPv4 only.
	IPv4Only
)

// String returns "ipv6-only", "dual-stack" or "ipv4-only".
func (f Family) String() string {
	switch f {
	case IPv6Only:
		return "ipv6-only"
	case DualStack:
		return "dual-stack"
	case IPv4Only:
		return "ipv4-only"
	}
	return fmt.Sprintf("family(%d)", int(f))
}

// ParseFamily parses the names String returns.
func ParseFamily(s string) (Family, error) {
	switch s {
	case "", "ipv6-only", "ipv6":
		return IPv6Only, nil
	case "dual-stack", "dual":
		return DualStack, nil
	case "ipv4-only", "ipv4":
		return IPv4Only, nil
	}
	return 0, fmt.Errorf("unknown family %q: use ipv6-only, dual-stack or ipv4-only", s)
}

// stack converts to lego's NetworkStack.
func (f Family) stack() challenge.NetworkStack {
	switch f {
	case DualStack:
		return challenge.DualStack
	case IPv4Only:
		return challenge.IPv4Only
	}
	return challenge.IPv6Only
}

// MarshalText writes the family by name.
func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads a family name.
func (f *Family) UnmarshalText(b []byte) error {
	v, err := ParseFamily(string(b))
	*f = v
	return err
}

// KeyType is the kind of a certificate's private key.
type KeyType string

// Key types. The zero value means EC256.
const (
	EC256   KeyType = "ec256"
	EC384   KeyType = "ec384"
	RSA2048 KeyType = "rsa2048"
	RSA3072 KeyType = "rsa3072"
	RSA4096 KeyType = "rsa4096"
)

func (k KeyType) orDefault() KeyType {
	if k == "" {
		return EC256
	}
	return KeyType(strings.ToLower(string(k)))
}

func (k KeyType) lego() (certcrypto.KeyType, error) {
	switch k.orDefault() {
	case EC256:
		return certcrypto.EC256, nil
	case EC384:
		return certcrypto.EC384, nil
	case RSA2048:
		return certcrypto.RSA2048, nil
	case RSA3072:
		return certcrypto.RSA3072, nil
	case RSA4096:
		return certcrypto.RSA4096, nil
	}
	return "", fmt.Errorf("%w: got %q", ErrKeyType, string(k))
}

// Challenge says how to prove control of the names.
type Challenge struct {
	// Type is the challenge. Zero: http-01.
	Type ChallengeType `json:"type"`
	// Webroot, for http-01, is the directory whose /.well-known/acme-challenge/ the web
	// server on port 80 serves (nginxconf's port-80 server does). Empty: a built-in
	// server on Listen answers instead.
	Webroot string `json:"webroot,omitempty"`
	// Listen is the built-in server's address for http-01 (zero: [::]:80) and
	// tls-alpn-01 (zero: [::]:443).
	Listen netip.AddrPort `json:"listen,omitzero"`
	// Family is the built-in server's IP families. Zero: IPv6 only.
	Family Family `json:"family"`
	// DNSProvider, for dns-01, names the provider: "cloudflare", "dnsupdate" (also
	// accepted as "rfc2136") or "pebble-challtestsrv" (tests).
	DNSProvider string `json:"dns_provider,omitempty"`
	// DNSCredentials holds the provider's settings under lego's variable names:
	// CLOUDFLARE_DNS_API_TOKEN (+ CLOUDFLARE_ZONE_API_TOKEN) or CLOUDFLARE_EMAIL +
	// CLOUDFLARE_API_KEY; DNSUPDATE_NAMESERVER, DNSUPDATE_TSIG_KEY,
	// DNSUPDATE_TSIG_SECRET, DNSUPDATE_TSIG_ALGORITHM (RFC2136_* accepted too);
	// CHALLTESTSRV_URL for pebble-challtestsrv. Never stored on disk.
	DNSCredentials map[string]string `json:"-"`
	// Provider, when set, answers dns-01 instead of DNSProvider (Go callers with their
	// own lego provider).
	Provider challenge.Provider `json:"-"`
}

func (c Challenge) typ() ChallengeType {
	if c.Type == "" {
		return HTTP01
	}
	return ChallengeType(strings.ToLower(string(c.Type)))
}

// listen returns the built-in server address with its default.
func (c Challenge) listen() netip.AddrPort {
	if c.Listen.IsValid() {
		return c.Listen
	}
	port := uint16(80)
	if c.typ() == TLSALPN01 {
		port = 443
	}
	if c.Family == IPv4Only {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), port)
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), port)
}

// dnsProviderName normalises the provider name.
func (c Challenge) dnsProviderName() string {
	switch p := strings.ToLower(c.DNSProvider); p {
	case "rfc2136":
		return "dnsupdate"
	default:
		return p
	}
}

// EAB is an External Account Binding, for CAs that require one (ZeroSSL, Google, ...).
type EAB struct {
	// KID is the key identifier the CA gave you.
	KID string
	// HMAC is the base64url-encoded MAC key the CA gave you.
	HMAC string
}

// Reloader reloads the web server. units.UnitReloader satisfies it (nginx.service through
// systemd's D-Bus API, what v6-certs --reload-nginx uses); a Go program may pass its own.
type Reloader interface {
	Reload(ctx context.Context) error
}

// Deploy says what happens after a run changed at least one certificate: the check
// (nginx -t) runs first, and only if it passes is the server reloaded, once per run.
type Deploy struct {
	// Check is the argv of the configuration check, e.g. ["nginx", "-t"]. Empty: none.
	Check []string
	// Reload is the argv of the reload command, e.g. ["systemctl", "reload", "nginx"]
	// or ["sh", "-c", HOOK]. Ignored when Reloader is set. Empty and no Reloader: no reload.
	Reload []string
	// Reloader reloads instead of the Reload command.
	Reloader Reloader
	// Name is what the reload is called in [Report.DeploySteps], e.g. "nginx.service".
	// Zero: the Reload command, or "the server" for a Reloader.
	Name string
	// Env is added to the environment of Check and Reload, besides RENEWED_LINEAGES and
	// RENEWED_DOMAINS (space-separated) that name what changed.
	Env []string
}

func (d Deploy) empty() bool { return len(d.Check) == 0 && len(d.Reload) == 0 && d.Reloader == nil }

// Config configures a [Client]. The zero value obtains EC P-256 certificates from
// Let's Encrypt production with HTTP-01 on a built-in server on [::]:80, stored
// under /etc/letsencrypt.
type Config struct {
	// Root is the configuration directory in certbot's layout. Zero: /etc/letsencrypt.
	Root string
	// Server is the ACME directory URL (https only). Zero: Let's Encrypt production.
	Server string
	// CACertPEM holds extra CA certificates (PEM) trusted for the ACME server's own TLS,
	// on top of the system roots: private CAs and tests.
	CACertPEM []byte
	// HTTPClient talks to the CA. Zero: a client with sane timeouts trusting the system
	// roots and CACertPEM.
	HTTPClient *http.Client
	// UserAgent is sent to the CA. Zero: "v6kit-acme".
	UserAgent string
	// Email is the optional account contact.
	Email string
	// EAB is the External Account Binding; zero: none.
	EAB EAB
	// KeyType is the certificate key type for new lineages. Zero: ec256.
	KeyType KeyType
	// Profile is the ACME profile for new lineages (e.g. "tlsserver", "shortlived"),
	// checked against the profiles the directory advertises. Zero: the CA's default.
	Profile string
	// Challenge says how new lineages prove control; renewals use what each lineage
	// recorded, with DNSCredentials taken from here.
	Challenge Challenge
	// Concurrency bounds orders and ARI checks in flight. Zero: 20.
	Concurrency int
	// PollInterval is the first wait before polling an authorization or order; it
	// doubles each poll up to 5 s, and a Retry-After from the CA is always honoured in
	// full (an order whose Retry-After outlasts Timeout fails instead of polling
	// early). Zero: 50 ms.
	PollInterval time.Duration
	// Timeout bounds each order. Zero: 3 minutes.
	Timeout time.Duration
	// LockWait is how long to wait for another run's lock. Zero: don't wait, return
	// ErrLocked (naming the holder's PID when /proc/locks shows it).
	LockWait time.Duration
	// LockWaiting, if set, is told once that another run (pid, 0 if unknown) holds the
	// store's lock, before waiting up to LockWait for it.
	LockWaiting func(lock string, pid int) `json:"-"`
	// Keep is how many versions older than the live one each lineage keeps after a
	// switch ([Store.Keep]). Zero: 5 (as certbot). Negative: keep every version.
	Keep int
	// Deploy runs after a run changed something.
	Deploy Deploy
	// Logger receives progress. Nil: discarded.
	Logger *slog.Logger
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Rand picks the renewal time inside an ARI window. Nil: a random source.
	Rand *rand.Rand
}

func (c *Config) root() string {
	if c.Root == "" {
		return DefaultRoot
	}
	return c.Root
}

func (c *Config) server() string {
	if c.Server == "" {
		return LetsEncrypt
	}
	return c.Server
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) concurrency() int {
	if c.Concurrency <= 0 {
		return DefaultConcurrency
	}
	return c.Concurrency
}

func (c *Config) pollInterval() time.Duration {
	if c.PollInterval <= 0 {
		return DefaultPollInterval
	}
	return c.PollInterval
}

func (c *Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Validate checks the configuration without touching the network. Challenge settings
// are checked by [Challenge.Validate].
func (c Config) Validate() report.Problems {
	var ps report.Problems
	ps.Append("server", validateServer(c.server()))
	if c.Email != "" {
		if err := CheckEmail(c.Email); err != nil {
			ps.Errorf("email", ErrEmail, "%v", err)
		}
	}
	if (c.EAB.KID == "") != (c.EAB.HMAC == "") {
		ps.Errorf("eab", ErrEAB, "external account binding needs both --eab-kid and --eab-hmac-file")
	}
	if _, err := c.KeyType.lego(); err != nil {
		ps.Errorf("key_type", ErrKeyType, "key type %q is unknown: use one of ec256, ec384, rsa2048, rsa3072, rsa4096", string(c.KeyType))
	}
	if c.Profile != "" && !validToken(c.Profile) {
		ps.Errorf("profile", ErrProfile, "profile %q has characters no CA uses: use a name like tlsserver or shortlived", c.Profile)
	}
	if c.Concurrency < 0 {
		ps.Errorf("concurrency", ErrConcurrency, "concurrency %d is negative: use 0 for the default (%d)", c.Concurrency, DefaultConcurrency)
	}
	if len(c.CACertPEM) > 0 {
		if !x509.NewCertPool().AppendCertsFromPEM(c.CACertPEM) {
			ps.Errorf("ca_cert", ErrServerURL, "the extra CA file holds no PEM certificate: give the CA that signed the ACME server's TLS certificate")
		}
	}
	ps.Append("challenge", c.Challenge.Validate())
	return ps
}

func validateServer(s string) report.Problems {
	var ps report.Problems
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		ps.Errorf("", ErrServerURL, "ACME directory URL %q must be an absolute https:// URL, e.g. %s", s, LetsEncrypt)
	}
	return ps
}

// validToken accepts profile names and similar identifiers.
func validToken(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Validate checks a challenge configuration: the type, the webroot directory, the
// built-in server address and the DNS provider with its credentials. It touches no
// network; whether the port is free is found when the server starts.
func (c Challenge) Validate() report.Problems {
	var ps report.Problems
	switch c.typ() {
	case HTTP01:
		if c.Webroot != "" {
			if !strings.HasPrefix(c.Webroot, "/") {
				ps.Errorf("webroot", ErrWebroot, "webroot %q must be an absolute path", c.Webroot)
			} else if st, err := os.Stat(c.Webroot); err != nil || !st.IsDir() {
				ps.Errorf("webroot", ErrWebroot, "webroot %q does not exist or is not a directory: create it and serve /.well-known/acme-challenge/ from it on port 80", c.Webroot)
			}
		} else {
			ps.Append("listen", validateListen(c))
		}
	case TLSALPN01:
		if c.Webroot != "" {
			ps.Errorf("webroot", ErrChallenge, "a webroot only serves http-01: drop --webroot or use --challenge http-01")
		}
		ps.Append("listen", validateListen(c))
	case DNS01:
		if c.Provider == nil {
			ps.Append("dns_provider", validateDNS(c.dnsProviderName(), c.DNSCredentials))
		}
	default:
		ps.Errorf("type", ErrChallenge, "challenge %q is unknown: use http-01, tls-alpn-01 or dns-01", string(c.Type))
	}
	if c.Family < IPv6Only || c.Family > IPv4Only {
		ps.Errorf("family", ErrListen, "family %d is unknown: use ipv6-only, dual-stack or ipv4-only", int(c.Family))
	}
	return ps
}

func validateListen(c Challenge) report.Problems {
	var ps report.Problems
	ap := c.listen()
	if ap.Port() == 0 {
		ps.Errorf("", ErrListen, "listen address %s has port 0: give the port the CA connects to (80 for http-01, 443 for tls-alpn-01, or a port your proxy forwards)", ap)
	}
	a := ap.Addr()
	if a.Zone() != "" && !a.Is6() {
		ps.Errorf("", ErrListen, "listen address %s has a zone on IPv4", ap)
	}
	switch {
	case c.Family == IPv6Only && a.Is4():
		ps.Errorf("", ErrListen, "listen address %s is IPv4 but the family is ipv6-only: use [::]:%d or set the family", ap, ap.Port())
	case c.Family == IPv4Only && a.Is6() && !a.Is4In6():
		ps.Errorf("", ErrListen, "listen address %s is IPv6 but the family is ipv4-only", ap)
	}
	return ps
}

// dnsProviders lists the DNS providers by name with their required credentials (any
// one group must be complete).
var dnsProviders = map[string][][]string{
	"cloudflare":          {{"CLOUDFLARE_DNS_API_TOKEN"}, {"CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY"}},
	"dnsupdate":           {{"DNSUPDATE_NAMESERVER"}},
	"pebble-challtestsrv": {{"CHALLTESTSRV_URL"}},
}

// DNSProviders returns the names of the DNS providers v6-certs links, sorted.
func DNSProviders() []string {
	var out []string
	for k := range dnsProviders {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// credential looks a setting up under its DNSUPDATE_/RFC2136_ or CLOUDFLARE_/CF_ names.
func credential(creds map[string]string, key string) string {
	if v := creds[key]; v != "" {
		return v
	}
	switch {
	case strings.HasPrefix(key, "DNSUPDATE_"):
		return creds["RFC2136_"+strings.TrimPrefix(key, "DNSUPDATE_")]
	case key == "CLOUDFLARE_EMAIL":
		return creds["CF_API_EMAIL"]
	case strings.HasPrefix(key, "CLOUDFLARE_"):
		return creds["CF_"+strings.TrimPrefix(key, "CLOUDFLARE_")]
	}
	return ""
}

func validateDNS(name string, creds map[string]string) report.Problems {
	var ps report.Problems
	groups, ok := dnsProviders[name]
	if !ok {
		ps.Errorf("", ErrDNSProvider, "DNS provider %q is not linked in: use one of %s", name, strings.Join(DNSProviders(), ", "))
		return ps
	}
	for _, g := range groups {
		complete := true
		for _, k := range g {
			if credential(creds, k) == "" {
				complete = false
			}
		}
		if complete {
			return ps
		}
	}
	var want []string
	for _, g := range groups {
		want = append(want, strings.Join(g, " + "))
	}
	ps.Errorf("", ErrDNSCredentials, "DNS provider %s needs credentials: set %s in the environment", name, strings.Join(want, ", or "))
	return ps
}

// Request asks for one certificate (one lineage) covering Names.
type Request struct {
	// Names are the DNS names (IDN allowed, converted to punycode) or IP addresses.
	Names []string
	// CertName is the lineage name under live/ and archive/. Zero: the first name.
	CertName string
	// Force issues a new certificate even if the lineage exists and is not due.
	Force bool
}

// NormalizeNames converts names to the form the CA and the certificate use:
// lower-case punycode for DNS names (a leading "*." kept), canonical text for IP
// addresses, duplicates removed, order kept. Every invalid name is reported.
func NormalizeNames(names []string, ct ChallengeType) ([]string, report.Problems) {
	var ps report.Problems
	if len(names) == 0 {
		ps.Errorf("names", ErrNoNames, "no domain names given: add -d NAME")
		return nil, ps
	}
	var out []string
	for i, n := range names {
		path := fmt.Sprintf("names[%d]", i)
		norm, err := normalizeName(n)
		if err != nil {
			ps.Errorf(path, ErrInvalidName, "%q: %v", n, err)
			continue
		}
		if strings.HasPrefix(norm, "*.") && ct != DNS01 {
			ps.Errorf(path, ErrWildcardChallenge, "wildcard %q needs --challenge dns-01 (the CA validates wildcards only through DNS)", n)
		}
		if _, err := netip.ParseAddr(norm); err == nil && ct == DNS01 {
			ps.Errorf(path, ErrIPChallenge, "IP address %q cannot be validated with dns-01: use http-01 or tls-alpn-01", n)
		}
		if !slices.Contains(out, norm) {
			out = append(out, norm)
		}
	}
	return out, ps
}

var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.StrictDomainName(true), idna.ValidateLabels(true))

func normalizeName(n string) (string, error) {
	s := strings.TrimSpace(n)
	if s != n || s == "" {
		return "", fmt.Errorf("empty or surrounded by spaces")
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		if a.Zone() != "" || !a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() {
			return "", fmt.Errorf("IP address %s cannot be in a certificate", a)
		}
		return a.Unmap().String(), nil
	}
	wild := strings.HasPrefix(s, "*.")
	if wild {
		s = s[2:]
	}
	s = strings.TrimSuffix(s, ".")
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == ';' || r == '{' || r == '}' || r == '"' || r == '\'' || r == '%' || r == '*' || r == ' ' {
			return "", fmt.Errorf("contains %q", r)
		}
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("not valid UTF-8")
	}
	a, err := idnaProfile.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("not a valid IDNA name: %v", err)
	}
	a = strings.ToLower(a)
	if again, err := idnaProfile.ToASCII(a); err != nil || again != a {
		return "", fmt.Errorf("not a valid IDNA name: %q does not convert back", a)
	}
	if len(a) > 253 {
		return "", fmt.Errorf("longer than 253 characters")
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("a single label: certificates need a fully qualified name like social.example.org")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("label %q is empty or longer than 63 characters", l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return "", fmt.Errorf("label %q has character %q", l, r)
			}
		}
	}
	if wild {
		a = "*." + a
	}
	return a, nil
}

// ValidateCertName checks a lineage name against the names certbot itself makes and
// reads back: the first domain of the certificate (lower-case letters, digits, hyphens
// and dots, a wildcard's "*." dropped), an IP address (with ':' for IPv6), and
// certbot's "-0001" suffixes. So a name is 1 to 200 bytes of ASCII letters, digits and
// . - _ : that starts with a letter or digit. Refused are '/' and '\' (another
// directory), "." and ".." and a leading dot (our live/.NAME.vN version directories),
// whitespace and control characters, and everything certbot's renewal/NAME.conf
// (a configobj file) or an nginx config would read differently: '#' starts a comment
// in both, quotes, ',' ';' '{' '}' '$' '%' '*' and the rest. The error wraps
// [ErrLineageName] and names the value and the first offending character.
func ValidateCertName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrLineageName)
	case len(name) > 200:
		return fmt.Errorf("%w: %q is %d bytes long (at most 200)", ErrLineageName, name[:40]+"…", len(name))
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is a directory reference", ErrLineageName, name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !ok && i > 0 {
			ok = r == '.' || r == '-' || r == '_' || r == ':'
		}
		if !ok {
			if i == 0 {
				return fmt.Errorf("%w: %q starts with %q (start with a letter or digit)", ErrLineageName, name, r)
			}
			return fmt.Errorf("%w: %q has %q", ErrLineageName, name, r)
		}
	}
	return nil
}

// certNameFor picks the default lineage name for names: the first, with a wildcard's
// "*." dropped (certbot does the same).
func certNameFor(names []string) string {
	n := strings.TrimPrefix(names[0], "*.")
	return n
}
