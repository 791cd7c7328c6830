// Package nginxconf renders the nginx site of an IPv6-only or dual-stack Mastodon host:
// the port-80 server for ACME and the https redirect, the TLS server with Mastodon's
// locations for the target release, the upstreams for puma and the streaming instances,
// and, when WEB_DOMAIN differs from LOCAL_DOMAIN, the LOCAL_DOMAIN server that redirects
// webfinger, host-meta and nodeinfo.
//
// It exists because upstream's template changes with nearly every Mastodon release
// (static locations, caching, upload limit, HSTS, the `@mastodon` rename in 4.6), nginx
// 1.25.1 changed how HTTP/2 is switched on, Let's Encrypt ended OCSP in 2025, and the
// origin story's site listened on `[::]` only and was copied by hand. A [Site] is the
// typed config; [Site.Validate] reports every problem with the field's name;
// [Site.Directives] builds a tree of [Directive] values and [Print] writes it, quoting
// arguments where nginx needs it, so no input can add a directive. [Check] runs the
// real `nginx -t` on the result in a temporary prefix.
//
// The site is an http-context include, like upstream's dist/nginx.conf: it relies on the
// main nginx.conf for mime types and default_type. It declares `map $http_upgrade
// $connection_upgrade`, `upstream backend`, `upstream streaming` and the cache zone
// `CACHE`, so one nginx can hold one such site.
//
// Upstreams default to 127.0.0.1, not [::1]: Mastodon's dist units bind puma and
// streaming to 127.0.0.1 (defaults since 2.9.3), streaming before 4.3 mishandled
// bracketed IPv6 in BIND, and `localhost` resolves to IPv4 only on many hosts (Debian's
// /etc/hosts may lack `::1 localhost`). IPv6 is needed on the public listeners, not on
// loopback between nginx and puma. [Backend] selects [::1] or a unix socket instead, or
// lists several hosts (a split topology's web1 and web2) in [Backend.Addrs].
package nginxconf

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/v6kit/v6kit/internal/pathlimit"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// Family chooses the listen addresses of the site.
type Family int

const (
	// IPv6Only listens on [::]:80 and [::]:443 only (nginx binds [::] with ipv6only=on),
	// so IPv4 clients are refused. The zero value.
	IPv6Only Family = iota
	// DualStack listens on 0.0.0.0 and [::].
	DualStack
	// Explicit listens on exactly [Site.HTTPListen] and [Site.HTTPSListen].
	Explicit
)

// String returns "v6only", "dual" or "explicit".
func (f Family) String() string {
	switch f {
	case IPv6Only:
		return "v6only"
	case DualStack:
		return "dual"
	case Explicit:
		return "explicit"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// MarshalText writes the family's name.
func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads "v6only" (or "ipv6-only", "v6"), "dual" (or "dual-stack") or
// "explicit".
func (f *Family) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "v6only", "ipv6-only", "ipv6only", "v6", "":
		*f = IPv6Only
	case "dual", "dual-stack", "dualstack":
		*f = DualStack
	case "explicit":
		*f = Explicit
	default:
		return fmt.Errorf("%w (got %q)", ErrFamily, string(b))
	}
	return nil
}

// Backend is where nginx reaches puma or the streaming server: an IP address and port,
// several hosts on the same port, or a unix socket.
type Backend struct {
	// Addr is the IP address. Zero: 127.0.0.1 (see the package documentation for why).
	Addr netip.Addr
	// Addrs lists several hosts that each run the process on Port (a split topology's
	// web hosts), written in this order into the upstream block, which nginx balances
	// (round robin for puma, least_conn for streaming). Each host runs every streaming
	// instance: Port, Port+1, … on each. Set Addr or Addrs, not both. Empty: Addr alone.
	Addrs []netip.Addr
	// Port is the TCP port. Zero: 3000 for puma, 4000 for streaming (Mastodon's
	// defaults). The streaming instances use Port, Port+1, … like the
	// mastodon-streaming@PORT units.
	Port int
	// Socket is a unix socket path, instead of Addr and Port.
	Socket string
}

// Site is the nginx site of one Mastodon host. The zero value of every field but Domain
// has a documented default.
type Site struct {
	// Domain is LOCAL_DOMAIN, the name in users' handles. Required. Unicode names are
	// written as punycode.
	Domain string
	// WebDomain is WEB_DOMAIN, where the web interface and API live, if it differs from
	// Domain. Then Domain gets its own server that redirects /.well-known/webfinger,
	// host-meta and nodeinfo to WebDomain (Mastodon's documented setup) and answers 404
	// otherwise. Empty: the site serves Domain.
	WebDomain string
	// AlternateDomains are ALTERNATE_DOMAINS, served by the main server too.
	AlternateDomains []string

	// Release is the Mastodon release whose template to follow ([mastodon.Lookup]).
	// Zero: [mastodon.Newest].
	Release mastodon.Release
	// NginxVersion is the nginx the site is for ("1.22", "1.26.3", or `nginx -v`'s
	// line). It decides `listen … ssl http2` (before 1.25.1) or `http2 on;`. Empty:
	// 1.22, Debian 12's.
	NginxVersion string

	// Family chooses the listen addresses. Zero: [IPv6Only].
	Family Family
	// HTTPPort and HTTPSPort are the ports for [IPv6Only] and [DualStack]. Zero: 80 and 443.
	HTTPPort, HTTPSPort int
	// HTTPListen and HTTPSListen are the listen addresses for [Explicit], which needs both.
	HTTPListen, HTTPSListen []netip.AddrPort

	// Cert and Key are the certificate chain and key, one certificate for every name of
	// the site. Empty: /etc/letsencrypt/live/NAME/fullchain.pem and privkey.pem, NAME
	// being WebDomain, or Domain when WebDomain is empty (certbot's and v6-certs' layout).
	Cert, Key string
	// Root is Mastodon's public directory. Empty: /home/mastodon/live/public.
	Root string
	// ACMEWebroot is the directory the port-80 server serves /.well-known/acme-challenge/
	// from (v6-certs' webroot). Empty: Root, as upstream's template does.
	ACMEWebroot string

	// Web is puma. Zero: 127.0.0.1:3000.
	Web Backend
	// Streaming is the first streaming instance. Zero: 127.0.0.1:4000.
	Streaming Backend
	// StreamingInstances is how many streaming processes run on consecutive ports
	// (balanced with least_conn). Zero: 1.
	StreamingInstances int

	// CachePath is the proxy_cache_path directory (nginx -t creates it). Empty:
	// /var/cache/nginx. Unused for releases before 2.6, whose template had no cache.
	CachePath string
	// AccessLog and ErrorLog are per-site log files. Empty: the main config's.
	AccessLog, ErrorLog string
}

const (
	defaultRoot      = "/home/mastodon/live/public"
	defaultCachePath = "/var/cache/nginx"
	letsencryptLive  = "/etc/letsencrypt/live"
	maxSocketPath    = 107
	maxStreaming     = 64
	maxUpstreamHosts = 64
)

// resolved is a validated Site with every default filled in, ready to render.
type resolved struct {
	rel        mastodon.Release
	nginx      Version
	local      string   // LOCAL_DOMAIN when it has its own redirect server, else ""
	names      []string // the main server's names: primary first, then alternates
	allNames   []string // every name, for the port-80 server
	primary    string
	httpListen []string
	tlsListen  []string
	httpsPort  int // the public HTTPS port, for redirects
	cert, key  string
	root       string
	webroot    string
	cache      string
	accessLog  string
	errorLog   string
	web        []string
	streaming  []string
}

// Validate reports every problem of the site, each with the field's path. The site is
// rendered only when [report.Problems.Err] is nil.
func (s Site) Validate() report.Problems {
	_, ps := s.resolve()
	return ps
}

func (s Site) resolve() (resolved, report.Problems) {
	var ps report.Problems
	var r resolved

	// Versions.
	r.rel = s.Release.OrNewest()
	if err := s.Release.Check(); err != nil {
		ps.Errorf("mastodon", ErrMastodonVersion, "mastodon version %s: %v", s.Release, err)
		r.rel = mastodon.Release{}
	}
	if r.rel.Version.Major != 0 && r.rel.NginxTemplateSSLProtocols() != tlsProtocols {
		ps.Infof("mastodon", "Mastodon %s's template allowed %s only; v6kit renders Mozilla's intermediate profile (%s) for every release", r.rel, r.rel.NginxTemplateSSLProtocols(), tlsProtocols)
	}
	if s.NginxVersion == "" {
		r.nginx = OldestNginx
	} else if v, err := ParseVersion(s.NginxVersion); err != nil {
		ps.Errorf("nginx_version", ErrNginxVersion, "%v", err)
	} else {
		r.nginx = v
	}

	// Names.
	seen := map[string]string{}
	name := func(field, v string) string {
		n, err := normalizeDomain(v)
		if err != nil {
			ps.Errorf(field, ErrDomain, "%v", err)
			return ""
		}
		if n != v {
			ps.Infof(field, "%q is written as %q", v, n)
		}
		if prev, dup := seen[n]; dup {
			ps.Errorf(field, ErrSameDomain, "%q is already given as %s; list each name once (leave web_domain empty when it equals the local domain)", v, prev)
			return ""
		}
		seen[n] = field
		return n
	}
	domain := name("domain", s.Domain)
	web := ""
	if s.WebDomain != "" {
		web = name("web_domain", s.WebDomain)
	}
	var alts []string
	for i, a := range s.AlternateDomains {
		if n := name(fmt.Sprintf("alternate_domains[%d]", i), a); n != "" {
			alts = append(alts, n)
		}
	}
	r.primary = domain
	if s.WebDomain != "" {
		r.primary = web
		r.local = domain
	}
	r.names = append([]string{r.primary}, alts...)
	r.allNames = append([]string{}, r.names...)
	if r.local != "" {
		r.allNames = append(r.allNames, r.local)
	}

	// Paths.
	r.root = s.pathOr(&ps, "root", s.Root, defaultRoot)
	r.webroot = s.pathOr(&ps, "acme_webroot", s.ACMEWebroot, r.root)
	r.cert = s.filePathOr(&ps, "cert", s.Cert, path.Join(letsencryptLive, r.primary, "fullchain.pem"))
	r.key = s.filePathOr(&ps, "key", s.Key, path.Join(letsencryptLive, r.primary, "privkey.pem"))
	if r.cert != "" && r.cert == r.key {
		ps.Errorf("key", ErrPath, "key %q is the certificate's path; pass the private key file", r.key)
	}
	r.cache = s.pathOr(&ps, "cache_path", s.CachePath, defaultCachePath)
	r.accessLog = s.pathOr(&ps, "access_log", s.AccessLog, "")
	r.errorLog = s.pathOr(&ps, "error_log", s.ErrorLog, "")

	// Upstreams.
	type tcp struct {
		field string
		addr  netip.Addr
		port  int
	}
	var used []tcp
	backend := func(field string, b Backend, defPort, count int) []string {
		if b.Socket != "" {
			bad := false
			if b.Addr.IsValid() || b.Port != 0 || len(b.Addrs) > 0 {
				ps.Errorf(field+".socket", ErrUpstream, "give either a socket or an address and port, not both")
				bad = true
			}
			if count > 1 {
				ps.Errorf(field+".socket", ErrUpstream, "%d streaming instances can't share one socket; use TCP ports (mastodon-streaming@PORT)", count)
				bad = true
			}
			p := checkPath(&ps, field+".socket", b.Socket)
			if len(b.Socket) > maxSocketPath {
				ps.Errorf(field+".socket", ErrUpstream, "socket path %q is %d bytes; unix sockets allow %d", b.Socket, len(b.Socket), maxSocketPath)
				bad = true
			}
			if bad || p == "" {
				return nil
			}
			return []string{"unix:" + p}
		}
		type host struct {
			field string
			addr  netip.Addr
		}
		var hosts []host
		switch {
		case len(b.Addrs) > 0 && b.Addr.IsValid():
			ps.Errorf(field+".addrs", ErrUpstream, "give addr (one host) or addrs (several), not both; put %s into addrs", b.Addr)
			return nil
		case len(b.Addrs) > maxUpstreamHosts:
			ps.Errorf(field+".addrs", ErrUpstream, "%d hosts; give at most %d", len(b.Addrs), maxUpstreamHosts)
			return nil
		case len(b.Addrs) > 0:
			for i, a := range b.Addrs {
				hosts = append(hosts, host{fmt.Sprintf("%s.addrs[%d]", field, i), a})
			}
		case b.Addr.IsValid():
			hosts = []host{{field + ".addr", b.Addr}}
		default:
			hosts = []host{{field + ".addr", netip.AddrFrom4([4]byte{127, 0, 0, 1})}}
		}
		ok := true
		for i, h := range hosts {
			a := h.addr
			if !a.IsValid() || a.Zone() != "" || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() {
				ps.Errorf(h.field, ErrUpstream, "upstream address %s: %s", a, upstreamReason(a))
				ok = false
				continue
			}
			for _, prev := range hosts[:i] {
				if prev.addr == a {
					ps.Errorf(h.field, ErrUpstream, "%s is already given as %s; list each host once", a, prev.field)
					ok = false
				}
			}
		}
		if !ok {
			return nil
		}
		port := b.Port
		if port == 0 {
			port = defPort
		}
		if port < 1 || port+count-1 > 65535 {
			ps.Errorf(field+".port", ErrUpstream, "port %d (with %d instances) is outside 1-65535", port, count)
			return nil
		}
		var out []string
		for _, h := range hosts {
			for i := range count {
				p := port + i
				for _, u := range used {
					if u.port == p && u.addr == h.addr {
						ps.Errorf(field+".port", ErrPortCollision, "%s also uses %s", u.field, netip.AddrPortFrom(h.addr, uint16(p)))
					}
				}
				used = append(used, tcp{field, h.addr, p})
				out = append(out, netip.AddrPortFrom(h.addr, uint16(p)).String())
			}
		}
		return out
	}
	n := s.StreamingInstances
	switch {
	case n == 0:
		n = 1
	case n < 0 || n > maxStreaming:
		ps.Errorf("streaming_instances", ErrUpstream, "streaming_instances %d must be 1-%d", n, maxStreaming)
		n = 1
	}
	if n > 1 && r.rel.Version.Major != 0 && r.rel.StreamingClusterNum() {
		ps.Warnf("streaming_instances", ErrUpstream, "Mastodon %s scales streaming with STREAMING_CLUSTER_NUM in one process; %d instances need %d streaming services on consecutive ports (templated units came with 4.2)", r.rel, n, n)
	}
	r.web = backend("web", s.Web, mastodon.DefaultWebPort, 1)
	r.streaming = backend("streaming", s.Streaming, mastodon.DefaultStreamingPort, n)
	if s.Web.Socket != "" && s.Web.Socket == s.Streaming.Socket {
		ps.Errorf("streaming.socket", ErrPortCollision, "streaming uses puma's socket %q", s.Web.Socket)
	}

	// Listeners.
	type listener struct {
		field string
		ap    netip.AddrPort
	}
	var listeners []listener
	switch s.Family {
	case IPv6Only, DualStack:
		if len(s.HTTPListen) > 0 || len(s.HTTPSListen) > 0 {
			ps.Errorf("family", ErrFamily, "http_listen/https_listen are set but family is %s; set family explicit", s.Family)
		}
		hp, sp := s.HTTPPort, s.HTTPSPort
		if hp == 0 {
			hp = 80
		}
		if sp == 0 {
			sp = 443
		}
		ok := true
		for _, x := range []struct {
			f string
			p int
		}{{"http_port", hp}, {"https_port", sp}} {
			if x.p < 1 || x.p > 65535 {
				ps.Errorf(x.f, ErrListen, "port %d is outside 1-65535", x.p)
				ok = false
			}
		}
		if !ok {
			break
		}
		r.httpsPort = sp
		r.httpListen = []string{"[::]:" + strconv.Itoa(hp)}
		r.tlsListen = []string{"[::]:" + strconv.Itoa(sp)}
		listeners = append(listeners, listener{"http_port", netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(hp))},
			listener{"https_port", netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(sp))})
		if s.Family == DualStack {
			r.httpListen = append([]string{strconv.Itoa(hp)}, r.httpListen...)
			r.tlsListen = append([]string{strconv.Itoa(sp)}, r.tlsListen...)
			listeners = append(listeners, listener{"http_port", netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(hp))},
				listener{"https_port", netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(sp))})
		}
	case Explicit:
		if len(s.HTTPListen) == 0 {
			ps.Errorf("http_listen", ErrFamily, "family explicit needs at least one http_listen address")
		}
		if len(s.HTTPSListen) == 0 {
			ps.Errorf("https_listen", ErrFamily, "family explicit needs at least one https_listen address")
		}
		add := func(field string, aps []netip.AddrPort, out *[]string) {
			for i, ap := range aps {
				f := fmt.Sprintf("%s[%d]", field, i)
				a := ap.Addr()
				if !ap.IsValid() || ap.Port() == 0 || a.Zone() != "" || a.Is4In6() || a.IsMulticast() {
					ps.Errorf(f, ErrListen, "listen address %s: use an IP literal without zone or IPv4-mapped form, and a port 1-65535", ap)
					continue
				}
				listeners = append(listeners, listener{f, ap})
				*out = append(*out, ap.String())
			}
		}
		add("http_listen", s.HTTPListen, &r.httpListen)
		add("https_listen", s.HTTPSListen, &r.tlsListen)
		if len(r.tlsListen) > 0 {
			r.httpsPort = int(s.HTTPSListen[0].Port())
		}
		if s.HTTPPort != 0 || s.HTTPSPort != 0 {
			ps.Errorf("family", ErrFamily, "http_port/https_port apply to v6only and dual; with family explicit put the ports in http_listen/https_listen")
		}
	default:
		ps.Errorf("family", ErrFamily, "unknown family %d", int(s.Family))
	}
	// Listener against listener, and against local upstream ports.
	overlap := func(a, b netip.Addr) bool {
		if a.Is4() != b.Is4() {
			return false
		}
		return a == b || a.IsUnspecified() || b.IsUnspecified()
	}
	for i, a := range listeners {
		for _, b := range listeners[:i] {
			if a.ap.Port() == b.ap.Port() && overlap(a.ap.Addr(), b.ap.Addr()) {
				ps.Errorf(a.field, ErrPortCollision, "%s collides with %s (%s)", a.ap, b.field, b.ap)
			}
		}
		for _, u := range used {
			local := u.addr.IsLoopback() || a.ap.Addr() == u.addr || a.ap.Addr().IsUnspecified() && a.ap.Addr().Is4() == u.addr.Is4()
			if int(a.ap.Port()) == u.port && local {
				ps.Errorf(a.field, ErrPortCollision, "port %d is also %s's upstream port", u.port, u.field)
			}
		}
	}
	return r, ps
}

// pathOr validates an optional path field, returning def when it is empty.
func (s Site) pathOr(ps *report.Problems, field, v, def string) string {
	if v == "" {
		return def
	}
	return checkPath(ps, field, v)
}

// filePathOr is pathOr for a file nginx reads (certificate, key): a path ending in '/'
// names a directory, which nginx can't load, so it is refused rather than trimmed.
func (s Site) filePathOr(ps *report.Problems, field, v, def string) string {
	if strings.HasSuffix(v, "/") {
		ps.Errorf(field, ErrPath, "path %q ends with '/', a directory; give the file, such as %s", v, def)
		return ""
	}
	return s.pathOr(ps, field, v, def)
}

// checkPath accepts absolute, clean paths of letters, digits and / . _ - + @ ~ , = :
// and refuses anything nginx could read as syntax or a variable.
func checkPath(ps *report.Problems, field, v string) string {
	if !utf8.ValidString(v) {
		ps.Errorf(field, ErrPath, "path %q is not valid UTF-8", v)
		return ""
	}
	for _, c := range v {
		if unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("/._-+@~,=:", c) {
			continue
		}
		ps.Errorf(field, ErrPath, "path %q holds %q, which nginx would read as syntax, a variable or a separator; rename the directory", v, c)
		return ""
	}
	if !strings.HasPrefix(v, "/") {
		ps.Errorf(field, ErrPath, "path %q is relative; give an absolute path", v)
		return ""
	}
	if c := path.Clean(v); c != v && c+"/" != v {
		ps.Errorf(field, ErrPath, "path %q is not clean; write %q", v, c)
		return ""
	}
	if err := pathlimit.Check(v); err != nil {
		ps.Errorf(field, ErrPath, "%v", err)
		return ""
	}
	return path.Clean(v)
}

// idnaProfile converts unicode names to punycode and checks them as host names.
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.StrictDomainName(true), idna.ValidateLabels(true), idna.VerifyDNSLength(true))

// normalizeDomain returns the lower-case ASCII (punycode) form of a DNS name, or says
// what is wrong with it.
func normalizeDomain(v string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("a domain name is required")
	}
	for _, c := range v {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(";{}\"'\\$#*/:?[]@,=&%|<>`()", c) {
			return "", fmt.Errorf("domain %q holds %q; use a plain DNS name like social.example.org", v, c)
		}
	}
	if strings.HasSuffix(v, ".") {
		return "", fmt.Errorf("domain %q ends with a dot; drop it", v)
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return "", fmt.Errorf("domain %q is an IP address; Mastodon needs a DNS name", v)
	}
	a, err := idnaProfile.ToASCII(v)
	if err != nil {
		return "", fmt.Errorf("domain %q is not a valid IDNA name: %v", v, err)
	}
	u, err := idnaProfile.ToUnicode(a)
	if err != nil {
		return "", fmt.Errorf("domain %q is not a valid IDNA name: %v", v, err)
	}
	// IDNA2008 allows letters, marks and digits; UTS 46 also maps symbols (☃) and
	// silently drops or folds others (zero-width space, fullwidth letters). Refuse both.
	for _, c := range u {
		if c != '.' && c != '-' && !unicode.IsLetter(c) && !unicode.IsDigit(c) && !unicode.IsMark(c) {
			return "", fmt.Errorf("domain %q is not a valid IDNA name: %q is not allowed in IDNA2008", v, c)
		}
	}
	if lower := strings.ToLower(v); lower != u && lower != a {
		return "", fmt.Errorf("domain %q is not a valid IDNA name: IDNA changes it to %q; write that if it is what you mean", v, u)
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("domain %q has one label; use a fully qualified name like social.example.org", v)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("domain %q has an invalid label %q", v, l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("domain %q has an invalid label %q (letters, digits and hyphens only)", v, l)
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "", fmt.Errorf("domain %q has an all-numeric top-level label", v)
	}
	return a, nil
}

// upstreamReason says why a is no upstream address and what to write instead.
func upstreamReason(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "not an IP address: use a unicast address such as 127.0.0.1, ::1 or the host's"
	case a.Is4In6():
		return "an IPv4-mapped IPv6 address: nginx would connect over IPv6, where puma and streaming don't listen for it; write the IPv4 address " + a.Unmap().String()
	case a.Zone() != "":
		return "nginx's upstream server takes no %zone: use the host's global or ULA address"
	case a.IsUnspecified():
		return "the unspecified address is for listening, not connecting: use a unicast address such as ::1, 127.0.0.1 or the host's"
	default:
		return "a multicast address: use the unicast address of the host running puma and streaming"
	}
}
