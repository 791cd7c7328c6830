package envfile

import (
	"fmt"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"github.com/v6kit/v6kit/report"
)

// Config is the typed view of the settings an installer sets. Zero fields mean "leave
// as it is": [Merge] writes only the fields that are set, so an existing file keeps
// every value it has unless a field asks for another one. [File.Config] reads the view
// back from a file. Keys outside this view are kept verbatim by Merge; set them with
// Extra or [File.Set].
type Config struct {
	// LocalDomain is LOCAL_DOMAIN, the account domain; a Unicode name is converted to
	// punycode. Required for a new file.
	LocalDomain string
	// WebDomain is WEB_DOMAIN, the domain serving the web interface (empty: LOCAL_DOMAIN).
	WebDomain string
	// AlternateDomains is ALTERNATE_DOMAINS (comma-separated in the file).
	AlternateDomains []string
	// LocalHTTPS is LOCAL_HTTPS (read by 1.6–2.1 only; later releases always use https).
	LocalHTTPS *bool

	// DB holds DB_* (PostgreSQL).
	DB DB
	// Redis holds REDIS_*.
	Redis Redis
	// SMTP holds SMTP_*.
	SMTP SMTP
	// S3 holds S3_* and the AWS keys.
	S3 S3
	// ES holds ES_* (Elasticsearch/OpenSearch, 2.3+).
	ES ES

	// SingleUserMode is SINGLE_USER_MODE.
	SingleUserMode *bool
	// AuthorizedFetch is AUTHORIZED_FETCH (3.0+; from 4.2 its presence locks the admin setting).
	AuthorizedFetch *bool
	// LimitedFederationMode is LIMITED_FEDERATION_MODE (3.2+).
	LimitedFederationMode *bool
	// AllowedPrivateAddresses is ALLOWED_PRIVATE_ADDRESSES (3.3+): prefixes exempt from
	// the outbound private-address check, e.g. the NAT64 prefix 64:ff9b::/96.
	AllowedPrivateAddresses []netip.Prefix
	// TrustedProxyIP is TRUSTED_PROXY_IP: proxies whose X-Forwarded-For is believed.
	TrustedProxyIP []netip.Prefix

	// Extra sets any other variables, in order (e.g. REDIS_URL from the Redis package).
	Extra []Var
}

// Var is one KEY=VALUE pair.
type Var struct {
	Key, Value string
}

// DB is PostgreSQL's connection settings. Zero fields are left as they are.
type DB struct {
	// Host is DB_HOST: a socket directory (/var/run/postgresql), a hostname or an IP
	// literal not starting with ':' (Rails reads it through YAML).
	Host string
	// Port is DB_PORT (0: leave; Mastodon's default 5432).
	Port int
	// Name is DB_NAME.
	Name string
	// User is DB_USER.
	User string
	// Password is DB_PASS.
	Password string
	// SSLMode is DB_SSLMODE (disable, require, verify-full, no-verify…; never prefer on 4.2+).
	SSLMode string
}

// Redis is Redis's connection settings. Zero fields are left as they are.
type Redis struct {
	// Host is REDIS_HOST: a hostname or an IPv4 literal (an IPv6 literal works only in URL).
	Host string
	// Port is REDIS_PORT (0: leave; Mastodon's default 6379).
	Port int
	// User is REDIS_USER (ACL user, 4.3+).
	User string
	// Password is REDIS_PASSWORD.
	Password string
	// DB is REDIS_DB (nil: leave; Mastodon's default 0).
	DB *int
	// URL is REDIS_URL, which overrides the others: redis://[::1]:6379/0 works from 4.2.
	URL string
}

// SMTP is the mail settings. Zero fields are left as they are.
type SMTP struct {
	// Server is SMTP_SERVER.
	Server string
	// Port is SMTP_PORT (0: leave).
	Port int
	// Login is SMTP_LOGIN.
	Login string
	// Password is SMTP_PASSWORD.
	Password string
	// FromAddress is SMTP_FROM_ADDRESS (e.g. "Mastodon <notifications@example.com>").
	FromAddress string
	// AuthMethod is SMTP_AUTH_METHOD: plain, login, cram_md5 or none.
	AuthMethod string
	// OpenSSLVerifyMode is SMTP_OPENSSL_VERIFY_MODE: none or peer.
	OpenSSLVerifyMode string
	// EnableStartTLS is SMTP_ENABLE_STARTTLS (4.0+): auto, always or never.
	EnableStartTLS string
	// EnableStartTLSAuto is SMTP_ENABLE_STARTTLS_AUTO.
	EnableStartTLSAuto *bool
	// TLS is SMTP_TLS (implicit TLS, port 465).
	TLS *bool
}

// S3 is the object storage settings. Zero fields are left as they are.
type S3 struct {
	Enabled         *bool  // S3_ENABLED
	Bucket          string // S3_BUCKET
	Region          string // S3_REGION
	Endpoint        string // S3_ENDPOINT
	Hostname        string // S3_HOSTNAME
	Protocol        string // S3_PROTOCOL
	AliasHost       string // S3_ALIAS_HOST
	AccessKeyID     string // AWS_ACCESS_KEY_ID
	SecretAccessKey string // AWS_SECRET_ACCESS_KEY
}

// ES is the full-text search settings. Zero fields are left as they are.
type ES struct {
	Enabled  *bool  // ES_ENABLED
	Host     string // ES_HOST
	Port     int    // ES_PORT
	User     string // ES_USER
	Password string // ES_PASS
}

// Bool returns a pointer to b, for the Config's optional switches.
func Bool(b bool) *bool { return &b }

// Int returns a pointer to n, for Redis.DB.
func Int(n int) *int { return &n }

func fmtBool(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func fmtPort(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

func fmtPrefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return strings.Join(out, ",")
}

// Vars returns the settings that are set, as KEY=VALUE pairs in a fixed order. Domains are
// converted to punycode; notes about conversions and errors (bad domains, ports out of
// range, values with newlines) are returned as problems with the key as path.
func (c Config) Vars() ([]Var, report.Problems) {
	var out []Var
	var ps report.Problems
	add := func(k, v string) {
		if v != "" {
			out = append(out, Var{k, v})
		}
	}
	domain := func(key, v string) string {
		if v == "" {
			return ""
		}
		ascii, err := NormalizeDomain(v)
		if err != nil {
			ps.Errorf(key, ErrDomain, "%v", err)
			return ""
		}
		if ascii != v {
			ps.Infof(key, "%q written as %q (IDNA/punycode, lower case)", v, ascii)
		}
		return ascii
	}
	port := func(key string, p int) string {
		if p < 0 || p > 65535 {
			ps.Errorf(key, ErrPort, "%d is out of range: %v", p, ErrPort)
			return ""
		}
		return fmtPort(p)
	}
	add("LOCAL_DOMAIN", domain("LOCAL_DOMAIN", c.LocalDomain))
	add("WEB_DOMAIN", domain("WEB_DOMAIN", c.WebDomain))
	var alts []string
	for i, a := range c.AlternateDomains {
		if d := domain(fmt.Sprintf("ALTERNATE_DOMAINS[%d]", i), a); d != "" {
			alts = append(alts, d)
		}
	}
	add("ALTERNATE_DOMAINS", strings.Join(alts, ","))
	add("LOCAL_HTTPS", fmtBool(c.LocalHTTPS))
	add("AUTHORIZED_FETCH", fmtBool(c.AuthorizedFetch))
	add("LIMITED_FEDERATION_MODE", fmtBool(c.LimitedFederationMode))

	add("REDIS_HOST", c.Redis.Host)
	add("REDIS_PORT", port("REDIS_PORT", c.Redis.Port))
	add("REDIS_USER", c.Redis.User)
	add("REDIS_PASSWORD", c.Redis.Password)
	if c.Redis.DB != nil {
		if *c.Redis.DB < 0 {
			ps.Errorf("REDIS_DB", ErrValue, "%d: a Redis database number is 0 or more", *c.Redis.DB)
		} else {
			add("REDIS_DB", strconv.Itoa(*c.Redis.DB))
		}
	}
	add("REDIS_URL", c.Redis.URL)

	add("DB_HOST", c.DB.Host)
	add("DB_USER", c.DB.User)
	add("DB_NAME", c.DB.Name)
	add("DB_PASS", c.DB.Password)
	add("DB_PORT", port("DB_PORT", c.DB.Port))
	add("DB_SSLMODE", c.DB.SSLMode)

	add("ES_ENABLED", fmtBool(c.ES.Enabled))
	add("ES_HOST", c.ES.Host)
	add("ES_PORT", port("ES_PORT", c.ES.Port))
	add("ES_USER", c.ES.User)
	add("ES_PASS", c.ES.Password)

	add("SINGLE_USER_MODE", fmtBool(c.SingleUserMode))

	// A value with a control character is left to add's own check (one problem, once).
	ctl := func(v string) bool { return strings.ContainsFunc(v, unicode.IsControl) }
	if v := c.SMTP.Server; v != "" && !ctl(v) && !isHost(v) {
		ps.Errorf("SMTP_SERVER", ErrSMTP, "SMTP relay %q is not a host name or IP address: give one such as smtp.example.org, localhost or ::1", v)
	}
	if v := c.SMTP.FromAddress; v != "" && !ctl(v) {
		if _, err := mail.ParseAddress(v); err != nil {
			ps.Errorf("SMTP_FROM_ADDRESS", ErrSMTP, "SMTP_FROM_ADDRESS %q is not an e-mail address: give one such as notifications@example.org or \"Mastodon <notifications@example.org>\"", v)
		}
	}
	add("SMTP_SERVER", c.SMTP.Server)
	add("SMTP_PORT", port("SMTP_PORT", c.SMTP.Port))
	add("SMTP_LOGIN", c.SMTP.Login)
	add("SMTP_PASSWORD", c.SMTP.Password)
	add("SMTP_FROM_ADDRESS", c.SMTP.FromAddress)
	add("SMTP_AUTH_METHOD", c.SMTP.AuthMethod)
	add("SMTP_OPENSSL_VERIFY_MODE", c.SMTP.OpenSSLVerifyMode)
	add("SMTP_ENABLE_STARTTLS", c.SMTP.EnableStartTLS)
	add("SMTP_ENABLE_STARTTLS_AUTO", fmtBool(c.SMTP.EnableStartTLSAuto))
	add("SMTP_TLS", fmtBool(c.SMTP.TLS))

	add("S3_ENABLED", fmtBool(c.S3.Enabled))
	add("S3_BUCKET", c.S3.Bucket)
	add("AWS_ACCESS_KEY_ID", c.S3.AccessKeyID)
	add("AWS_SECRET_ACCESS_KEY", c.S3.SecretAccessKey)
	add("S3_ALIAS_HOST", c.S3.AliasHost)
	add("S3_REGION", c.S3.Region)
	add("S3_ENDPOINT", c.S3.Endpoint)
	add("S3_HOSTNAME", c.S3.Hostname)
	add("S3_PROTOCOL", c.S3.Protocol)

	add("ALLOWED_PRIVATE_ADDRESSES", fmtPrefixes(c.AllowedPrivateAddresses))
	add("TRUSTED_PROXY_IP", fmtPrefixes(c.TrustedProxyIP))

	for i, v := range c.Extra {
		if !validKey(v.Key) {
			ps.Errorf(fmt.Sprintf("Extra[%d]", i), ErrBadKey, "key %q: %v", v.Key, ErrBadKey)
			continue
		}
		out = append(out, v)
	}
	kept := out[:0]
	for _, v := range out {
		if _, err := FormatValue(v.Value); err != nil {
			ps.Errorf(v.Key, ErrUnwritable, "%v", err)
			continue
		}
		kept = append(kept, v)
	}
	return kept, ps
}

// Config reads the typed view back from the file. Values of the wrong form (a port that
// is not a number, a switch that is not true/false, a bad prefix) are reported and left
// zero.
func (f *File) Config() (Config, report.Problems) {
	var c Config
	var ps report.Problems
	get := func(k string) string { v, _ := f.Get(k); return v }
	path := func(k string) string {
		if l, ok := f.Entry(k); ok {
			return f.where(l)
		}
		return k
	}
	boolean := func(k string) *bool {
		v, ok := f.Get(k)
		if !ok || v == "" {
			return nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			ps.Errorf(path(k), ErrBool, "%q: %v", v, ErrBool)
			return nil
		}
		return &b
	}
	port := func(k string) int {
		v := get(k)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			ps.Errorf(path(k), ErrPort, "%q: %v", v, ErrPort)
			return 0
		}
		return n
	}
	prefixes := func(k string) []netip.Prefix {
		out, err := ParsePrefixes(get(k))
		if err != nil {
			ps.Errorf(path(k), ErrPrefix, "%v", err)
		}
		return out
	}
	c.LocalDomain, c.WebDomain = get("LOCAL_DOMAIN"), get("WEB_DOMAIN")
	for _, d := range strings.Split(get("ALTERNATE_DOMAINS"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.AlternateDomains = append(c.AlternateDomains, d)
		}
	}
	c.LocalHTTPS = boolean("LOCAL_HTTPS")
	c.AuthorizedFetch = boolean("AUTHORIZED_FETCH")
	c.LimitedFederationMode = boolean("LIMITED_FEDERATION_MODE")
	c.SingleUserMode = boolean("SINGLE_USER_MODE")
	c.DB = DB{Host: get("DB_HOST"), Port: port("DB_PORT"), Name: get("DB_NAME"), User: get("DB_USER"),
		Password: get("DB_PASS"), SSLMode: get("DB_SSLMODE")}
	c.Redis = Redis{Host: get("REDIS_HOST"), Port: port("REDIS_PORT"), User: get("REDIS_USER"),
		Password: get("REDIS_PASSWORD"), URL: get("REDIS_URL")}
	if v := get("REDIS_DB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			ps.Errorf(path("REDIS_DB"), ErrValue, "%q: a Redis database number is 0 or more", v)
		} else {
			c.Redis.DB = &n
		}
	}
	c.SMTP = SMTP{Server: get("SMTP_SERVER"), Port: port("SMTP_PORT"), Login: get("SMTP_LOGIN"),
		Password: get("SMTP_PASSWORD"), FromAddress: get("SMTP_FROM_ADDRESS"), AuthMethod: get("SMTP_AUTH_METHOD"),
		OpenSSLVerifyMode: get("SMTP_OPENSSL_VERIFY_MODE"), EnableStartTLS: get("SMTP_ENABLE_STARTTLS"),
		EnableStartTLSAuto: boolean("SMTP_ENABLE_STARTTLS_AUTO"), TLS: boolean("SMTP_TLS")}
	c.S3 = S3{Enabled: boolean("S3_ENABLED"), Bucket: get("S3_BUCKET"), Region: get("S3_REGION"),
		Endpoint: get("S3_ENDPOINT"), Hostname: get("S3_HOSTNAME"), Protocol: get("S3_PROTOCOL"),
		AliasHost: get("S3_ALIAS_HOST"), AccessKeyID: get("AWS_ACCESS_KEY_ID"), SecretAccessKey: get("AWS_SECRET_ACCESS_KEY")}
	c.ES = ES{Enabled: boolean("ES_ENABLED"), Host: get("ES_HOST"), Port: port("ES_PORT"), User: get("ES_USER"), Password: get("ES_PASS")}
	c.AllowedPrivateAddresses = prefixes("ALLOWED_PRIVATE_ADDRESSES")
	c.TrustedProxyIP = prefixes("TRUSTED_PROXY_IP")
	return c, ps
}

// ParsePrefixes reads a comma- or space-separated list of IP addresses and CIDR prefixes,
// as Mastodon reads ALLOWED_PRIVATE_ADDRESSES and TRUSTED_PROXY_IP. A bare address is a
// single-address prefix. Bad entries are named in the error; the good ones are returned.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p)
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil && a.Zone() == "" {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad = append(bad, fmt.Sprintf("%q", f))
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("%s: %w", strings.Join(bad, ", "), ErrPrefix)
	}
	return out, nil
}
