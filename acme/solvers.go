package acme

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
	"github.com/go-acme/lego/v5/providers/dns/cloudflare"
	"github.com/go-acme/lego/v5/providers/dns/dnsupdate"
	"github.com/go-acme/lego/v5/providers/http/webroot"
	"github.com/miekg/dns"
)

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func sortStrings(s []string) { slices.Sort(s) }

// responder answers challenges of one kind for every order of a run.
type responder interface {
	challenge.Provider
	Close()
}

// responderKey identifies a shared responder.
func responderKey(ch Challenge) string {
	switch ch.typ() {
	case HTTP01:
		if ch.Webroot != "" {
			return "webroot|" + ch.Webroot
		}
		return "http|" + ch.Family.String() + "|" + ch.listen().String()
	case TLSALPN01:
		return "tls|" + ch.Family.String() + "|" + ch.listen().String()
	}
	return "dns|" + ch.dnsProviderName()
}

// responder returns the run's shared responder for ch, starting it on first use. A
// built-in server binds its port here, before any order is placed, so a taken port
// fails fast.
func (s *session) responder(ch Challenge) (responder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := responderKey(ch)
	if r, ok := s.responders[k]; ok {
		return r, nil
	}
	var r responder
	var err error
	switch ch.typ() {
	case HTTP01:
		if ch.Webroot != "" {
			var p *webroot.HTTPProvider
			p, err = webroot.NewHTTPProvider(ch.Webroot)
			r = webrootResponder{p}
		} else {
			r, err = startHTTPResponder(ch)
		}
	case TLSALPN01:
		r, err = startTLSResponder(ch)
	case DNS01:
		var p challenge.Provider
		p, err = s.dnsProvider(ch)
		r = dnsResponder{p}
	default:
		err = fmt.Errorf("%w: %q", ErrChallenge, ch.Type)
	}
	if err != nil {
		return nil, err
	}
	s.responders[k] = r
	return r, nil
}

type webrootResponder struct{ *webroot.HTTPProvider }

func (webrootResponder) Close() {}

type dnsResponder struct{ challenge.Provider }

func (dnsResponder) Close() {}

func listen(ch Challenge) (net.Listener, error) {
	ap := ch.listen()
	network := ch.Family.stack().Network("tcp")
	if ap.Addr().Is4() && network == "tcp6" {
		network = "tcp4"
	}
	ln, err := net.Listen(network, ap.String())
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: %s: %v", ErrPortBusy, ap, err)
		}
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%w: %s needs root or CAP_NET_BIND_SERVICE: %v", ErrPortBusy, ap, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrListen, ap, err)
	}
	return ln, nil
}

// httpResponder is one HTTP-01 server with a token map, shared by concurrent orders.
type httpResponder struct {
	srv    *http.Server
	mu     sync.Mutex
	tokens map[string]string
}

func startHTTPResponder(ch Challenge) (*httpResponder, error) {
	ln, err := listen(ch)
	if err != nil {
		return nil, err
	}
	r := &httpResponder{tokens: map[string]string{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *httpResponder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	tok, ok := strings.CutPrefix(req.URL.Path, "/.well-known/acme-challenge/")
	r.mu.Lock()
	ka, found := r.tokens[tok]
	r.mu.Unlock()
	if !ok || !found || req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(ka))
}

func (r *httpResponder) Present(_ context.Context, _, token, keyAuth string) error {
	r.mu.Lock()
	r.tokens[token] = keyAuth
	r.mu.Unlock()
	return nil
}

func (r *httpResponder) CleanUp(_ context.Context, _, token, _ string) error {
	r.mu.Lock()
	delete(r.tokens, token)
	r.mu.Unlock()
	return nil
}

func (r *httpResponder) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

// tlsResponder is one TLS-ALPN-01 server answering acme-tls/1 handshakes with the
// challenge certificate of the name asked for (SNI).
type tlsResponder struct {
	ln    net.Listener
	mu    sync.Mutex
	certs map[string]*tls.Certificate
	wg    sync.WaitGroup
}

func startTLSResponder(ch Challenge) (*tlsResponder, error) {
	ln, err := listen(ch)
	if err != nil {
		return nil, err
	}
	r := &tlsResponder{certs: map[string]*tls.Certificate{}}
	conf := &tls.Config{
		NextProtos: []string{tlsalpn01.ACMETLS1Protocol},
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if c, ok := r.certs[strings.ToLower(strings.TrimSuffix(h.ServerName, "."))]; ok {
				return c, nil
			}
			return nil, fmt.Errorf("no challenge for %q", h.ServerName)
		},
	}
	r.ln = tls.NewListener(ln, conf)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := r.ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				_ = c.Close()
			}()
		}
	}()
	return r, nil
}

// sniName is the SNI a validator sends for an identifier: the name, or for an IP
// address its reverse-DNS name (RFC 8738).
func sniName(domain string) string {
	if a, err := netip.ParseAddr(domain); err == nil {
		rev, err := dns.ReverseAddr(a.String())
		if err == nil {
			return strings.TrimSuffix(rev, ".")
		}
	}
	return strings.ToLower(domain)
}

func (r *tlsResponder) Present(_ context.Context, domain, _, keyAuth string) error {
	c, err := tlsalpn01.ChallengeCert(domain, keyAuth)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.certs[sniName(domain)] = c
	r.mu.Unlock()
	return nil
}

func (r *tlsResponder) CleanUp(_ context.Context, domain, _, _ string) error {
	r.mu.Lock()
	delete(r.certs, sniName(domain))
	r.mu.Unlock()
	return nil
}

func (r *tlsResponder) Close() {
	_ = r.ln.Close()
	r.wg.Wait()
}

// dnsProvider builds the named DNS provider from explicit settings (never from the
// process environment: the CLI passes what it read).
func (s *session) dnsProvider(ch Challenge) (challenge.Provider, error) {
	if ch.Provider != nil {
		return ch.Provider, nil
	}
	creds := s.c.cfg.Challenge.DNSCredentials
	if len(ch.DNSCredentials) > 0 {
		creds = ch.DNSCredentials
	}
	name := ch.dnsProviderName()
	if err := validateDNS(name, creds).Err(); err != nil {
		return nil, err
	}
	switch name {
	case "cloudflare":
		return cloudflare.NewDNSProviderConfig(&cloudflare.Config{
			AuthEmail: credential(creds, "CLOUDFLARE_EMAIL"), AuthKey: credential(creds, "CLOUDFLARE_API_KEY"),
			AuthToken: credential(creds, "CLOUDFLARE_DNS_API_TOKEN"), ZoneToken: credential(creds, "CLOUDFLARE_ZONE_API_TOKEN"),
			TTL: 120, PropagationTimeout: 2 * time.Minute, PollingInterval: 2 * time.Second,
			HTTPClient: &http.Client{Timeout: 30 * time.Second},
		})
	case "dnsupdate":
		alg := credential(creds, "DNSUPDATE_TSIG_ALGORITHM")
		if alg == "" {
			alg = dns.HmacSHA256
		}
		return dnsupdate.NewDNSProviderConfig(&dnsupdate.Config{
			Nameserver: credential(creds, "DNSUPDATE_NAMESERVER"), DNSTimeout: 10 * time.Second,
			TSIGAlgorithm: alg, TSIGKey: credential(creds, "DNSUPDATE_TSIG_KEY"), TSIGSecret: credential(creds, "DNSUPDATE_TSIG_SECRET"),
			TTL: 120, PropagationTimeout: 2 * time.Minute, PollingInterval: 2 * time.Second, SequenceInterval: time.Minute,
		})
	case "pebble-challtestsrv":
		return &ChalltestsrvProvider{URL: strings.TrimRight(credential(creds, "CHALLTESTSRV_URL"), "/")}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrDNSProvider, name)
}

// ChalltestsrvProvider is a DNS-01 provider that sets TXT records in
// pebble-challtestsrv through its management API: tests and local CAs only. Its
// records are live as soon as Present returns, so no propagation check is made.
type ChalltestsrvProvider struct {
	// URL is the management API, e.g. http://[::1]:8055.
	URL string
	// Client is the HTTP client. Nil: a client with a 10 s timeout.
	Client *http.Client

	mu   sync.Mutex
	refs map[string]int
}

// DNS01Record returns the TXT record name and value for a DNS-01 challenge.
func DNS01Record(domain, keyAuth string) (fqdn, value string) {
	sum := sha256.Sum256([]byte(keyAuth))
	return "_acme-challenge." + strings.TrimPrefix(domain, "*.") + ".", base64.RawURLEncoding.EncodeToString(sum[:])
}

func (p *ChalltestsrvProvider) post(ctx context.Context, path string, body any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("challtestsrv %s: %w", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("challtestsrv %s: %s", path, resp.Status)
	}
	return nil
}

// Present sets the TXT record.
func (p *ChalltestsrvProvider) Present(ctx context.Context, domain, _, keyAuth string) error {
	fqdn, value := DNS01Record(domain, keyAuth)
	p.mu.Lock()
	if p.refs == nil {
		p.refs = map[string]int{}
	}
	p.refs[fqdn]++
	p.mu.Unlock()
	return p.post(ctx, "/set-txt", map[string]string{"host": fqdn, "value": value})
}

// CleanUp clears the TXT records of the name once no challenge uses them.
func (p *ChalltestsrvProvider) CleanUp(ctx context.Context, domain, _, keyAuth string) error {
	fqdn, _ := DNS01Record(domain, keyAuth)
	p.mu.Lock()
	p.refs[fqdn]--
	last := p.refs[fqdn] <= 0
	if last {
		delete(p.refs, fqdn)
	}
	p.mu.Unlock()
	if !last {
		return nil
	}
	return p.post(ctx, "/clear-txt", map[string]string{"host": fqdn})
}

// solveAll answers every pending authorization of an order at once and waits for the
// CA to validate them.
func (s *session) solveAll(ctx context.Context, authzs []legoacme.Authorization, urls []string, ch Challenge) error {
	r, err := s.responder(ch)
	if err != nil {
		return err
	}
	ctype := challenge.Type(ch.typ())
	errs := make([]error, len(authzs))
	var wg sync.WaitGroup
	for i, a := range authzs {
		if a.Status == legoacme.StatusValid {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.solveOne(ctx, a, ctype, r)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *session) solveOne(ctx context.Context, a legoacme.Authorization, ctype challenge.Type, r responder) error {
	domain := challenge.GetTargetedDomain(a)
	chlg, err := challenge.FindChallenge(ctype, a)
	if err != nil {
		var offered []string
		for _, c := range a.Challenges {
			offered = append(offered, c.Type)
		}
		return fmt.Errorf("%w: the CA offers %s for %s, not %s", ErrChallenge, strings.Join(offered, ", "), domain, ctype)
	}
	if dr, ok := r.(dnsResponder); ok {
		if _, direct := dr.Provider.(*ChalltestsrvProvider); !direct {
			// A real DNS provider: lego's dns01 challenge waits for propagation, then
			// our validate polls quickly.
			c := dns01.NewChallenge(s.core, s.validate, dr.Provider)
			if err := c.PreSolve(ctx, a); err != nil {
				return err
			}
			defer func() { _ = c.CleanUp(context.WithoutCancel(ctx), a) }()
			return c.Solve(ctx, a)
		}
	}
	keyAuth, err := s.core.GetKeyAuthorization(chlg.Token)
	if err != nil {
		return err
	}
	if err := r.Present(ctx, a.Identifier.Value, chlg.Token, keyAuth); err != nil {
		return fmt.Errorf("acme: %s: present %s: %w", domain, ctype, err)
	}
	defer func() { _ = r.CleanUp(context.WithoutCancel(ctx), a.Identifier.Value, chlg.Token, keyAuth) }()
	return s.validate(ctx, s.core, domain, chlg)
}
