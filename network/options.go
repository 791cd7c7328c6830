package network

import (
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// DefaultResolvConf is where Mastodon (Ruby's Resolv) reads its resolver.
const DefaultResolvConf = "/etc/resolv.conf"

// DefaultOutboundURL is the IPv4-only destination the outbound check fetches: GitHub has
// no AAAA record and a Mastodon install fetches from it.
const DefaultOutboundURL = "https://github.com/"

// DefaultCheckTimeout bounds one check when Options.CheckTimeout is zero.
const DefaultCheckTimeout = 5 * time.Second

// Validate reports every problem with the options at once, each naming the field.
func (o Options) Validate() report.Problems {
	var ps report.Problems
	checkName := func(path, name string, required bool) {
		if name == "" {
			if required {
				ps.Errorf(path, ErrDomain, "%s is required: the site's DNS name, e.g. social.example.org", path)
			}
			return
		}
		if err := ValidDomain(name); err != nil {
			ps.Errorf(path, ErrDomain, "%q is not a valid DNS name: %v; give a bare name such as social.example.org", name, err)
		}
	}
	checkName("domain", o.Domain, true)
	checkName("web_domain", o.WebDomain, false)
	if o.Family != V6Only && o.Family != DualStack {
		ps.Errorf("family", ErrFamily, "family %d is neither v6only nor dual", int(o.Family))
	}
	if o.Resolver.IsValid() && o.Resolver.Port() == 0 {
		ps.Errorf("resolver", ErrResolver, "resolver %s has port 0; use port 53", o.Resolver)
	}
	if o.Resolver.IsValid() && o.Resolver.Addr().Zone() != "" && !o.Resolver.Addr().IsLinkLocalUnicast() {
		ps.Errorf("resolver", ErrResolver, "resolver %s has a zone but is not link-local", o.Resolver)
	}
	for _, b := range []struct {
		path string
		ap   netip.AddrPort
	}{{"web_bind", o.WebBind}, {"streaming_bind", o.StreamingBind}} {
		if b.ap.IsValid() && b.ap.Port() == 0 {
			ps.Errorf(b.path, ErrBind, "%s %s has port 0; give the unit's PORT", b.path, b.ap)
		}
	}
	if o.OutboundURL != "" {
		u, err := url.Parse(o.OutboundURL)
		switch {
		case err != nil:
			ps.Errorf("outbound_url", ErrURL, "%q: %v", o.OutboundURL, err)
		case u.Scheme != "http" && u.Scheme != "https":
			ps.Errorf("outbound_url", ErrURL, "%q has scheme %q; use http:// or https://", o.OutboundURL, u.Scheme)
		case u.Hostname() == "":
			ps.Errorf("outbound_url", ErrURL, "%q has no host", o.OutboundURL)
		}
	}
	if o.MTUPath != "" && (!strings.HasPrefix(o.MTUPath, "/") || hasControl(o.MTUPath)) {
		ps.Errorf("mtu_path", ErrValue, "mtu_path %q must start with / and hold no control characters or spaces", o.MTUPath)
	}
	if o.CheckTimeout < 0 {
		ps.Errorf("check_timeout", ErrTimeout, "check_timeout %s is negative", o.CheckTimeout)
	}
	for _, s := range []struct{ path, v string }{
		{"postgres_user", o.PostgresUser}, {"postgres_database", o.PostgresDatabase},
		{"postgres_password", o.PostgresPassword}, {"redis_password", o.RedisPassword},
	} {
		if strings.ContainsAny(s.v, "\x00\r\n") {
			ps.Errorf(s.path, ErrValue, "%s contains a NUL or newline", s.path)
		}
	}
	if o.StreamingToken != "" {
		if err := validToken(o.StreamingToken); err != nil {
			// the message never repeats the token
			ps.Errorf("streaming_token", ErrToken, "streaming_token %v", err)
		}
	}
	validateEgress(o, &ps)
	for i, p := range o.AllowedPrivateAddresses {
		if !p.IsValid() {
			ps.Errorf(report.JoinPath("allowed_private_addresses", "["+strconv.Itoa(i)+"]"), ErrValue, "invalid prefix")
		}
	}
	return ps
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x21 || r == 0x7f || r == '"' || r == '\'' {
			return true
		}
	}
	return false
}

// ValidDomain checks that name is a fully qualified DNS host name (IDNA allowed, at least
// two labels, no trailing dot needed), without scheme, port or path.
func ValidDomain(name string) error {
	if name == "" {
		return errString("empty")
	}
	if hasControl(name) || strings.ContainsAny(name, "/:@?#[]{};%\\,") {
		return errString("contains a character that is not allowed in a host name")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return errString("is an IP address, not a name")
	}
	a, err := idna.Lookup.ToASCII(strings.TrimSuffix(name, "."))
	if err != nil {
		return err
	}
	if len(a) > 253 {
		return errString("longer than 253 characters")
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return errString("needs at least two labels (name.tld)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errString("has an empty or over-long label")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errString("has a label starting or ending with '-'")
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c >= 'A' && c <= 'Z') {
				return errString("has a character other than letters, digits and '-'")
			}
		}
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

// ParseResolver parses "2001:db8::53", "[2001:db8::53]:5353" or "192.0.2.53:53"; a bare
// address gets port 53.
func ParseResolver(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, errorf(ErrResolver, "%q has port 0", s)
		}
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.AddrPort{}, errorf(ErrResolver, "%q is not an address", s)
	}
	return netip.AddrPortFrom(a, 53), nil
}

func (o Options) withDefaults() Options {
	o.Domain = strings.ToLower(strings.TrimSuffix(o.Domain, "."))
	if o.WebDomain == "" {
		o.WebDomain = o.Domain
	}
	o.WebDomain = strings.ToLower(strings.TrimSuffix(o.WebDomain, "."))
	if o.Release.Version == (mastodon.Version{}) {
		o.Release = mastodon.Newest()
	}
	if o.ResolvConf == "" {
		o.ResolvConf = DefaultResolvConf
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	if o.HTTPSPort == 0 {
		o.HTTPSPort = 443
	}
	// The family's loopback, where v6-unitgen and the bundles bind puma and streaming.
	loop := o.Release.LoopbackBind(o.Family == V6Only)
	if !o.WebBind.IsValid() {
		o.WebBind = netip.AddrPortFrom(loop, mastodon.DefaultWebPort)
	}
	if !o.StreamingBind.IsValid() {
		o.StreamingBind = netip.AddrPortFrom(loop, mastodon.DefaultStreamingPort)
	}
	if o.RedisPort == 0 {
		o.RedisPort = 6379
	}
	if o.PostgresPort == 0 {
		o.PostgresPort = 5432
	}
	if o.PostgresUser == "" {
		o.PostgresUser = "mastodon"
	}
	if o.PostgresDatabase == "" {
		o.PostgresDatabase = "mastodon_production"
	}
	if o.OutboundURL == "" {
		o.OutboundURL = DefaultOutboundURL
	}
	if o.MTUPath == "" {
		o.MTUPath = "/"
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{}
	}
	if o.PacketListener == nil {
		o.PacketListener = &net.ListenConfig{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
