package network

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target maps a URL's host and port onto the address under test.
func (r *run) target(a netip.Addr, host, port string) (netip.AddrPort, error) {
	p := 0
	switch port {
	case "443", "":
		p = int(r.o.HTTPSPort)
	case "80":
		p = int(r.o.HTTPPort)
	default:
		n, err := strconv.Atoi(port)
		if err != nil {
			return netip.AddrPort{}, err
		}
		p = n
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	switch host {
	case r.o.WebDomain:
		return netip.AddrPortFrom(a, uint16(p)), nil
	case r.o.Domain:
		// LOCAL_DOMAIN may live elsewhere (a redirect to WEB_DOMAIN); use its own address
		// of the same family.
		if a.Is6() {
			if la := r.getAddrs("dns.aaaa.local"); len(la) > 0 {
				return netip.AddrPortFrom(la[0], uint16(p)), nil
			}
		}
		return netip.AddrPortFrom(a, uint16(p)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("redirected to %s, which is neither LOCAL_DOMAIN nor WEB_DOMAIN", host)
}

func (r *run) tlsConfig(serverName string, protos ...string) *tls.Config {
	return &tls.Config{ServerName: serverName, RootCAs: r.o.RootCAs, NextProtos: protos, MinVersion: tls.VersionTLS12}
}

// client returns an HTTP client whose every connection goes to a (or LOCAL_DOMAIN's
// address of the same family), over the matching family only.
func (r *run) client(a netip.Addr, h2, follow bool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _ string, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			t, err := r.target(a, host, port)
			if err != nil {
				return nil, err
			}
			return r.o.Dialer.DialContext(ctx, tcpFamily(t.Addr()), t.String())
		},
		TLSClientConfig:   r.tlsConfig(""),
		ForceAttemptHTTP2: h2,
		DisableKeepAlives: true,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	cl := &http.Client{Transport: tr}
	if !follow {
		cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return cl
}

func (r *run) get(ctx context.Context, cl *http.Client, rawURL string, hdr http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("User-Agent", "v6kit-probe/1 (+https://github.com/v6kit/v6kit)")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body, err
}

func (r *run) httpsURL(host, path string) string {
	return (&url.URL{Scheme: "https", Host: host, Path: path}).String()
}

// dialErr turns a dial error into a detail and a hint.
func dialErr(err error, target string) (detail, hint string) {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens on " + target, "start the web server or make it listen on " + target + " (nginx: listen [::]:PORT)"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable: " + err.Error(), "this machine has no route to " + target + ": check its IPv6 connectivity"
	case isTimeout(err):
		return "no answer (timed out): packets to " + target + " are dropped", "open the port in the firewall (nftables/ufw/security group) for IPv6"
	}
	return err.Error(), "check the server at " + target
}

func checkTCP(port func(o Options) uint16) checkFunc {
	return func(ctx context.Context, r *run, c *Check) {
		t := netip.AddrPortFrom(c.Addr, port(r.o))
		start := time.Now()
		conn, err := r.o.Dialer.DialContext(ctx, tcpFamily(c.Addr), t.String())
		if err != nil {
			d, h := dialErr(err, t.String())
			c.fail(h, "%s", d)
			return
		}
		conn.Close()
		set(c, "connect_ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
		c.ok("%s accepts connections", t)
	}
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLS 1.3"
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS11:
		return "TLS 1.1"
	case tls.VersionTLS10:
		return "TLS 1.0"
	}
	return fmt.Sprintf("0x%04x", v)
}

// dialHTTPS opens the TCP connection of a per-address HTTPS check, in the address's own
// family, bounded by ctx's deadline; on failure it fails c with the dial's diagnosis.
func dialHTTPS(ctx context.Context, r *run, c *Check) (net.Conn, bool) {
	t := netip.AddrPortFrom(c.Addr, r.o.HTTPSPort)
	raw, err := r.o.Dialer.DialContext(ctx, tcpFamily(c.Addr), t.String())
	if err != nil {
		d, h := dialErr(err, t.String())
		c.fail(h, "%s", d)
		return nil, false
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	return raw, true
}

// checkTLS is inbound.tls: chain and name verified, expiry, version, ALPN.
func checkTLS(ctx context.Context, r *run, c *Check) {
	raw, ok := dialHTTPS(ctx, r, c)
	if !ok {
		return
	}
	defer raw.Close()
	counted := &countConn{Conn: raw}
	// Verify by hand after the handshake so that a bad certificate is still described.
	cfg := r.tlsConfig(r.o.WebDomain, "h2", "http/1.1")
	cfg.InsecureSkipVerify = true
	tc := tls.Client(counted, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if isTimeout(err) {
			set(c, "bytes_received", strconv.FormatInt(counted.n.Load(), 10))
			c.fail("TCP connects but the TLS handshake stalls after "+strconv.FormatInt(counted.n.Load(), 10)+
				" bytes: the certificate flight is larger than one packet, so a path-MTU blackhole is likely (see mtu.transfer)",
				"TLS handshake timed out")
			return
		}
		c.fail("check the TLS configuration on "+raw.RemoteAddr().String()+" (ssl_certificate, ssl_protocols)", "TLS handshake failed: %v", err)
		return
	}
	st := tc.ConnectionState()
	set(c, "tls_version", tlsVersionName(st.Version))
	set(c, "alpn", st.NegotiatedProtocol)
	if len(st.PeerCertificates) == 0 {
		c.fail("configure a certificate", "no certificate presented")
		return
	}
	leaf := st.PeerCertificates[0]
	now := r.o.Now()
	days := int(leaf.NotAfter.Sub(now).Hours() / 24)
	set(c, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	set(c, "days_left", strconv.Itoa(days))
	set(c, "names", strings.Join(leaf.DNSNames, " "))
	set(c, "issuer", leaf.Issuer.CommonName)
	inter := x509.NewCertPool()
	for _, ic := range st.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{DNSName: r.o.WebDomain, Roots: r.o.RootCAs, Intermediates: inter, CurrentTime: now})
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(verr, &hn):
		set(c, "verify", "wrong name")
		c.fail("issue a certificate that names "+r.o.WebDomain+" (e.g. v6-certs / certbot -d "+r.o.WebDomain+") and point ssl_certificate at it",
			"certificate for the wrong name: it covers %s, not %s", strings.Join(leaf.DNSNames, ", "), r.o.WebDomain)
		return
	case errors.As(verr, &ci) && ci.Reason == x509.Expired:
		set(c, "verify", "expired")
		c.fail("renew the certificate (certbot renew / v6-certs renew) and reload nginx; check the renewal timer",
			"certificate expired on %s (%d days ago)", leaf.NotAfter.UTC().Format("2006-01-02"), -days)
		return
	case errors.As(verr, &ua):
		set(c, "verify", "unknown authority")
		c.fail("serve the full chain (fullchain.pem, not cert.pem) signed by a trusted CA; for a private CA pass --ca-cert",
			"certificate chain does not verify: signed by unknown authority %q", leaf.Issuer.CommonName)
		return
	case verr != nil:
		set(c, "verify", "invalid")
		c.fail("replace the certificate", "certificate does not verify: %v", verr)
		return
	}
	if st.Version < tls.VersionTLS12 {
		c.fail("enable TLS 1.2 and 1.3 (ssl_protocols TLSv1.2 TLSv1.3)", "%s negotiated", tlsVersionName(st.Version))
		return
	}
	set(c, "verify", "ok")
	if days < 14 {
		c.warn("renew now: the certificate expires in "+plural(days, "day")+"; check the renewal timer",
			"%s, valid for %s, expires in %s", tlsVersionName(st.Version), r.o.WebDomain, plural(days, "day"))
		return
	}
	c.ok("%s, chain and name valid for %s, %d days left", tlsVersionName(st.Version), r.o.WebDomain, days)
}

// checkRedirect is inbound.redirect.
func checkRedirect(ctx context.Context, r *run, c *Check) {
	u := (&url.URL{Scheme: "http", Host: r.o.WebDomain, Path: "/"}).String()
	resp, _, err := r.get(ctx, r.client(c.Addr, false, false), u, nil)
	if err != nil {
		c.fail("check the port-80 server block", "GET %s failed: %v", u, err)
		return
	}
	loc := resp.Header.Get("Location")
	set(c, "status", strconv.Itoa(resp.StatusCode))
	set(c, "location", loc)
	want := "https://" + r.o.WebDomain
	switch {
	case (resp.StatusCode == 301 || resp.StatusCode == 308) && strings.HasPrefix(loc, want):
		c.ok("%d to %s", resp.StatusCode, loc)
	case resp.StatusCode >= 300 && resp.StatusCode < 400 && strings.HasPrefix(loc, want):
		c.warn("use a permanent redirect: return 301 https://$host$request_uri;", "%d (temporary) to %s", resp.StatusCode, loc)
	default:
		c.fail("in the port-80 server block: location / { return 301 https://$host$request_uri; }",
			"http:// answers %d, not a redirect to %s", resp.StatusCode, want)
	}
}

// checkHSTS is inbound.hsts.
func checkHSTS(ctx context.Context, r *run, c *Check) {
	resp, _, err := r.get(ctx, r.client(c.Addr, false, false), r.httpsURL(r.o.WebDomain, "/"), nil)
	if err != nil {
		c.fail("check the site over https", "GET / failed: %v", err)
		return
	}
	h := resp.Header.Get("Strict-Transport-Security")
	set(c, "status", strconv.Itoa(resp.StatusCode))
	if h == "" {
		c.warn(`add_header Strict-Transport-Security "max-age=63072000; includeSubDomains";`, "no Strict-Transport-Security header")
		return
	}
	set(c, "hsts", h)
	c.ok("%s", h)
}

// checkHTTP2 is inbound.http2: ALPN from the TLS check.
func checkHTTP2(ctx context.Context, r *run, c *Check) {
	tc, _ := r.result(instanceID("inbound.tls", c.Addr))
	alpn := tc.Values["alpn"]
	set(c, "alpn", alpn)
	if alpn == "h2" {
		c.ok("ALPN h2")
		return
	}
	c.warn("enable HTTP/2: listen [::]:443 ssl; http2 on; (nginx ≥1.25) or listen [::]:443 ssl http2;", "ALPN %q: HTTP/2 not offered", alpn)
}

// status5xx explains a gateway error.
func gatewayDetail(code int) string {
	switch code {
	case 502:
		return "502 Bad Gateway: the proxy cannot reach its backend"
	case 503:
		return "503 Service Unavailable"
	case 504:
		return "504 Gateway Timeout: the backend does not answer in time"
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// checkHealth is inbound.health.
func checkHealth(ctx context.Context, r *run, c *Check) {
	if !r.o.Release.HasHealth() {
		c.State = NotChecked
		c.Detail = "Mastodon " + r.o.Release.String() + " has no /health (3.0+)"
		return
	}
	resp, body, err := r.get(ctx, r.client(c.Addr, false, false), r.httpsURL(r.o.WebDomain, "/health"), nil)
	if err != nil {
		c.fail("check the site over https", "GET /health failed: %v", err)
		return
	}
	set(c, "status", strconv.Itoa(resp.StatusCode))
	switch {
	case resp.StatusCode == 200:
		c.ok("200 %s", strings.TrimSpace(string(truncate(body, 40))))
	case resp.StatusCode == 502 || resp.StatusCode == 504:
		c.fail("the web service (puma) is down or not where nginx proxies: systemctl status mastodon-web; check BIND/PORT against nginx's upstream",
			"%s", gatewayDetail(resp.StatusCode))
	default:
		c.fail("GET /health must answer 200 OK from Mastodon (≥3.0); check the proxy's location blocks", "%s", gatewayDetail(resp.StatusCode))
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// checkInstance is inbound.instance.
func checkInstance(ctx context.Context, r *run, c *Check) {
	cl := r.client(c.Addr, false, false)
	var last int
	for _, p := range []string{"/api/v2/instance", "/api/v1/instance"} {
		resp, body, err := r.get(ctx, cl, r.httpsURL(r.o.WebDomain, p), http.Header{"Accept": {"application/json"}})
		if err != nil {
			c.fail("check the site over https", "GET %s failed: %v", p, err)
			return
		}
		last = resp.StatusCode
		if resp.StatusCode != 200 {
			continue
		}
		var doc struct {
			Domain  string `json:"domain"`
			URI     string `json:"uri"`
			Version string `json:"version"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			c.fail("the proxy serves something other than Mastodon's API at "+p, "GET %s: 200 but not JSON: %v", p, err)
			return
		}
		dom := doc.Domain
		if dom == "" {
			dom = doc.URI
		}
		set(c, "path", p)
		set(c, "status", "200")
		set(c, "version", doc.Version)
		set(c, "instance_domain", dom)
		if dom != "" && !strings.EqualFold(dom, r.o.Domain) {
			c.warn("the instance calls itself "+dom+": LOCAL_DOMAIN in .env.production must be "+r.o.Domain+" (or probe with --domain "+dom+")",
				"%s says domain %q, not %q", p, dom, r.o.Domain)
			return
		}
		c.ok("%s: %s, version %s", p, dom, doc.Version)
		return
	}
	set(c, "status", strconv.Itoa(last))
	if last == 502 || last == 504 {
		c.fail("the web service (puma) is down: systemctl status mastodon-web", "%s on the instance API", gatewayDetail(last))
		return
	}
	c.fail("the proxy must pass /api/ to Mastodon's web service", "instance API answers %d", last)
}

// checkWellKnown is inbound.webfinger, inbound.host-meta and inbound.nodeinfo, requested on
// LOCAL_DOMAIN and following its redirect to WEB_DOMAIN.
func checkWellKnown(kind string) checkFunc {
	return func(ctx context.Context, r *run, c *Check) {
		cl := r.client(c.Addr, false, true)
		var path string
		q := url.Values{}
		switch kind {
		case "webfinger":
			path = "/.well-known/webfinger"
			// The instance actor is named after the domain (Mastodon ≥3.0).
			q.Set("resource", "acct:"+r.o.Domain+"@"+r.o.Domain)
		case "host-meta":
			path = "/.well-known/host-meta"
		case "nodeinfo":
			path = "/.well-known/nodeinfo"
		}
		u := &url.URL{Scheme: "https", Host: r.o.Domain, Path: path, RawQuery: q.Encode()}
		resp, body, err := r.get(ctx, cl, u.String(), nil)
		if err != nil {
			hint := "serve " + path + " on " + r.o.Domain
			if r.o.Domain != r.o.WebDomain {
				hint = "on " + r.o.Domain + ": location " + path + " { return 301 https://" + r.o.WebDomain + "$request_uri; }"
			}
			c.fail(hint, "GET %s failed: %v", u, err)
			return
		}
		final := resp.Request.URL.String()
		set(c, "status", strconv.Itoa(resp.StatusCode))
		set(c, "final_url", final)
		if resp.StatusCode != 200 {
			hint := "the proxy must pass " + path + " to Mastodon"
			if r.o.Domain != r.o.WebDomain {
				hint = "on " + r.o.Domain + ": location " + path + " { return 301 https://" + r.o.WebDomain + "$request_uri; }"
			}
			if resp.StatusCode == 502 || resp.StatusCode == 504 {
				hint = "the web service (puma) is down: systemctl status mastodon-web"
			}
			c.fail(hint, "%s answers %s", path, gatewayDetail(resp.StatusCode))
			return
		}
		switch kind {
		case "webfinger":
			var doc struct {
				Subject string `json:"subject"`
			}
			if json.Unmarshal(body, &doc) != nil || doc.Subject == "" {
				c.fail("the proxy must pass /.well-known/webfinger to Mastodon", "webfinger answered 200 without a JRD subject")
				return
			}
			c.ok("%s via %s", doc.Subject, final)
		case "host-meta":
			if !strings.Contains(string(body), "XRD") {
				c.warn("the proxy must pass /.well-known/host-meta to Mastodon", "host-meta is not an XRD document")
				return
			}
			c.ok("XRD via %s", final)
		case "nodeinfo":
			var doc struct {
				Links []struct {
					Rel, Href string
				} `json:"links"`
			}
			if json.Unmarshal(body, &doc) != nil || len(doc.Links) == 0 {
				c.fail("the proxy must pass /.well-known/nodeinfo to Mastodon", "nodeinfo has no links")
				return
			}
			set(c, "href", doc.Links[0].Href)
			c.ok("%s", doc.Links[0].Href)
		}
	}
}

// checkIPv4Refused is inbound.ipv4-refused for IPv6-only sites.
func checkIPv4Refused(ctx context.Context, r *run, c *Check) {
	a, ok := r.result("dns.a.web")
	if !ok {
		c.State = NotChecked
		return
	}
	as := r.getAddrs("dns.a.web")
	if a.State != OK && a.State != Warn && len(as) == 0 {
		// A failed query is never "no record": nothing is known about IPv4 clients.
		c.State, c.Detail = Skipped, "skipped: dns.a.web did not pass ("+a.State.String()+"), so whether IPv4 clients find a way in is unknown"
		return
	}
	if len(as) == 0 {
		c.ok("no A record: IPv4 clients are turned away by DNS")
		return
	}
	var open []string
	for _, a := range as {
		t := netip.AddrPortFrom(a, r.o.HTTPSPort)
		conn, err := r.o.Dialer.DialContext(ctx, "tcp4", t.String())
		if err == nil {
			conn.Close()
			open = append(open, t.String())
		}
	}
	if len(open) > 0 {
		c.warn("the site is meant to be IPv6-only, but IPv4 clients reach "+strings.Join(open, " ")+": remove the A record or probe with --family dual-stack",
			"IPv4 answers on %s", strings.Join(open, " "))
		return
	}
	c.warn("remove the A record: nothing answers on it", "A %s exists but refuses connections", addrList(as))
}

// checkParity is inbound.parity for dual-stack sites.
func checkParity(ctx context.Context, r *run, c *Check) {
	src6 := "dns.aaaa.local"
	if r.o.WebDomain != r.o.Domain {
		src6 = "dns.aaaa.web"
	}
	r.result(src6)
	r.result("dns.a.web")
	r.waitExpanded()
	v6, v4 := r.getAddrs(src6), r.getAddrs("dns.a.web")
	if len(v6) == 0 || len(v4) == 0 {
		c.State = NotChecked
		c.Detail = "needs both AAAA and A addresses"
		return
	}
	var diffs []string
	for _, id := range []string{"inbound.tcp80", "inbound.tcp443", "inbound.tls", "inbound.redirect", "inbound.health", "inbound.websocket", "inbound.instance", "inbound.webfinger", "inbound.nodeinfo"} {
		a6, _ := r.result(instanceID(id, v6[0]))
		a4, _ := r.result(instanceID(id, v4[0]))
		if a6.Passed() != a4.Passed() || a6.Values["status"] != a4.Values["status"] {
			diffs = append(diffs, fmt.Sprintf("%s: IPv6 %s %s, IPv4 %s %s", id, a6.State, a6.Values["status"], a4.State, a4.Values["status"]))
		}
	}
	if len(diffs) > 0 {
		c.fail("serve the same site on both families: nginx needs listen [::]:PORT and listen PORT in the same server blocks",
			"IPv6 and IPv4 differ: %s", strings.Join(diffs, "; "))
		return
	}
	c.ok("same answers over %s and %s", v6[0], v4[0])
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
