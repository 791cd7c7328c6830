package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"

	"github.com/v6kit/v6kit/internal/fsutil"
)

// Client obtains and renews certificates into a [Store]. It is safe for use by one
// run at a time; the store's lock keeps separate processes apart.
type Client struct {
	cfg   Config
	store *Store
	rmu   sync.Mutex
	rnd   *mrand.Rand
}

// New checks cfg (no network) and returns a client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate().Err(); err != nil {
		return nil, err
	}
	rnd := cfg.Rand
	if rnd == nil {
		var seed [2]uint64
		var b [16]byte
		_, _ = rand.Read(b[:])
		for i := range 8 {
			seed[0] = seed[0]<<8 | uint64(b[i])
			seed[1] = seed[1]<<8 | uint64(b[8+i])
		}
		rnd = mrand.New(mrand.NewPCG(seed[0], seed[1]))
	}
	return &Client{cfg: cfg, store: &Store{Root: cfg.root(), Keep: cfg.Keep, Now: cfg.Now, noPending: cfg.Deploy.empty(), waiting: cfg.LockWaiting}, rnd: rnd}, nil
}

// Store returns the client's store.
func (c *Client) Store() *Store { return c.store }

func (c *Client) randBetween(a, b time.Time) time.Time {
	d := b.Sub(a)
	if d <= 0 {
		return a
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return a.Add(time.Duration(c.rnd.Int64N(int64(d))))
}

// session is one conversation with one CA: the directory, the account and the
// challenge responders shared by every order of the run.
type session struct {
	c       *Client
	server  string
	core    *api.Core
	key     crypto.Signer
	account string
	rt      *retryAfterTransport
	acctDir string

	mu         sync.Mutex
	responders map[string]responder
	regMu      sync.Mutex
}

// httpClient builds the client used for the CA, wrapped to record Retry-After.
func (c *Client) httpClient() (*http.Client, *retryAfterTransport, error) {
	var base http.Client
	if c.cfg.HTTPClient != nil {
		base = *c.cfg.HTTPClient
	} else {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if len(c.cfg.CACertPEM) > 0 && !pool.AppendCertsFromPEM(c.cfg.CACertPEM) {
			return nil, nil, errors.New("acme: the extra CA file holds no PEM certificate")
		}
		base = http.Client{
			Timeout: 2 * time.Minute,
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				TLSHandshakeTimeout:   30 * time.Second,
				ResponseHeaderTimeout: 60 * time.Second,
				MaxIdleConnsPerHost:   64,
				ForceAttemptHTTP2:     true,
				TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			},
		}
	}
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	rt := &retryAfterTransport{next: next, seen: map[string]time.Duration{}}
	base.Transport = rt
	return &base, rt, nil
}

// retryAfterTransport records the Retry-After header of each response by URL, so the
// polling loops can honour it although lego's api layer does not return it.
type retryAfterTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen map[string]time.Duration
}

func (t *retryAfterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			t.mu.Lock()
			t.seen[r.URL.String()] = d
			t.mu.Unlock()
		}
	}
	return resp, err
}

// take returns and forgets the last Retry-After seen for url.
func (t *retryAfterTransport) take(u string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.seen[u]
	delete(t.seen, u)
	return d
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// nextPoll is the wait before the next poll: the back-off interval, or the CA's
// Retry-After when it asks for longer. Retry-After is honoured in full, never capped:
// a wait that would outlast the order's deadline fails the order instead of polling
// early (see [pollWait]).
func nextPoll(interval, retryAfter time.Duration) time.Duration {
	return max(interval, retryAfter)
}

// growPoll doubles the interval between polls, up to MaxPollInterval.
func growPoll(interval time.Duration) time.Duration {
	return min(interval*2, MaxPollInterval)
}

// pollWait sleeps d before the next poll, or fails at once when ctx's deadline comes
// first (the CA asked us to wait longer than the order may take).
func pollWait(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("the CA asked to poll again in %s, after the order's deadline (%s): %w", d.Round(time.Millisecond), time.Until(dl).Round(time.Second), context.DeadlineExceeded)
	}
	return sleepCtx(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// accountDir is accounts/HOST/PATH/v6-certs for a directory URL: one account per CA
// directory, next to certbot's accounts.
func (s *Store) accountDir(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return s.Path("accounts", "invalid", "v6-certs")
	}
	parts := []string{"accounts", sanitize(u.Host)}
	for _, p := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if p != "" {
			parts = append(parts, sanitize(p))
		}
	}
	return s.Path(append(parts, "v6-certs")...)
}

func sanitize(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_:[]", r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || s == "." || s == ".." {
		return "_"
	}
	return s
}

// accountFile is what accounts/.../v6-certs/account.json holds.
type accountFile struct {
	Server  string    `json:"server"`
	URL     string    `json:"url"`
	Email   string    `json:"email,omitempty"`
	Created time.Time `json:"created"`
}

// openSession reads or creates the account key for server and fetches the directory.
// It registers no account yet: ARI checks need none.
func (c *Client) openSession(ctx context.Context, server string) (*session, error) {
	if err := validateServer(server).Err(); err != nil {
		return nil, err
	}
	hc, rt, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	s := &session{c: c, server: server, rt: rt, responders: map[string]responder{}}
	s.acctDir = c.store.accountDir(server)
	keyPath := filepath.Join(s.acctDir, "private_key.pem")
	kb, err := readRegular(keyPath, false)
	switch {
	case err == nil:
		if s.key, err = parseKey(kb); err != nil {
			return nil, fmt.Errorf("%w: account key %s: %v", ErrCorrupt, keyPath, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		pemb := pemEncode("PRIVATE KEY", der)
		if err := checkReplaceable(keyPath); err != nil {
			return nil, fmt.Errorf("write account key: %w", err)
		}
		if _, err := fsutil.WriteFile(keyPath, pemb, fsutil.Options{Mode: 0o600, MkdirAll: true, DirMode: 0o700}); err != nil {
			return nil, fmt.Errorf("write account key: %w", err)
		}
		s.key = k
	default:
		return nil, fmt.Errorf("read account key: %w", fileErr(err))
	}
	var af accountFile
	if b, err := readRegular(filepath.Join(s.acctDir, "account.json"), false); err == nil {
		if err := json.Unmarshal(b, &af); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Join(s.acctDir, "account.json"), err)
		}
		if af.Server == server {
			s.account = af.URL
		}
	}
	ua := c.cfg.UserAgent
	if ua == "" {
		ua = "v6kit-acme"
	}
	s.core, err = api.New(hc, ua, server, s.account, s.key)
	if err != nil {
		return nil, fmt.Errorf("acme: directory %s: %w", server, err)
	}
	return s, nil
}

// ensureAccount registers the account if this directory has none yet (or again, when
// the CA forgot it).
func (s *session) ensureAccount(ctx context.Context, again bool) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if s.account != "" && !again {
		return nil
	}
	cfg := s.c.cfg
	req := legoacme.Account{TermsOfServiceAgreed: true}
	if cfg.Email != "" {
		req.Contact = []string{"mailto:" + cfg.Email}
	}
	dir := s.core.GetDirectory()
	var acct legoacme.ExtendedAccount
	var err error
	switch {
	case cfg.EAB.KID != "":
		acct, err = s.core.Accounts.NewEAB(ctx, req, cfg.EAB.KID, cfg.EAB.HMAC)
	case dir.Meta.ExternalAccountRequired:
		return fmt.Errorf("%w: the CA %s requires an external account binding: give --eab-kid and --eab-hmac-file", ErrEAB, s.server)
	default:
		acct, err = s.core.Accounts.New(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("acme: register account at %s: %w", s.server, err)
	}
	s.account = acct.Location
	af := accountFile{Server: s.server, URL: acct.Location, Email: cfg.Email, Created: cfg.now().UTC().Truncate(time.Second)}
	b, _ := json.MarshalIndent(af, "", "  ")
	if err := checkReplaceable(filepath.Join(s.acctDir, "account.json")); err != nil {
		return fmt.Errorf("write account: %w", err)
	}
	if _, err := fsutil.WriteFile(filepath.Join(s.acctDir, "account.json"), append(b, '\n'), fsutil.Options{Mode: 0o600, MkdirAll: true, DirMode: 0o700}); err != nil {
		return fmt.Errorf("write account: %w", err)
	}
	return nil
}

// Profiles returns the profiles the directory advertises (name → description).
func (s *session) profiles() map[string]string { return s.core.GetDirectory().Meta.Profiles }

func (s *session) checkProfile(p string) error {
	if p == "" {
		return nil
	}
	ps := s.profiles()
	if _, ok := ps[p]; ok {
		return nil
	}
	var names []string
	for k := range ps {
		names = append(names, k)
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: profile %q asked for, but %s advertises no profiles: leave --profile empty", ErrProfile, p, s.server)
	}
	sortStrings(names)
	return fmt.Errorf("%w: profile %q is not one of %s (offered by %s)", ErrProfile, p, strings.Join(names, ", "), s.server)
}

func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.responders {
		r.Close()
		delete(s.responders, k)
	}
}

// orderSpec is what one order needs.
type orderSpec struct {
	names     []string
	keyType   KeyType
	profile   string
	replaces  string
	challenge Challenge
}

// order drives one ACME order through lego's api layer: newOrder, the challenges,
// finalize, download. Polls start at PollInterval and back off, honouring Retry-After.
func (s *session) order(ctx context.Context, o orderSpec) (Version, error) {
	cfg := s.c.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	if err := s.ensureAccount(ctx, false); err != nil {
		return Version{}, err
	}
	opts := &api.OrderOptions{Profile: o.profile, ReplacesCertID: o.replaces}
	ord, err := s.core.Orders.New(ctx, o.names, opts)
	var pd *legoacme.ProblemDetails
	if err != nil && errors.As(err, &pd) && pd.Type == legoacme.AccountDoesNotExistErrorType {
		if err := s.ensureAccount(ctx, true); err != nil {
			return Version{}, err
		}
		ord, err = s.core.Orders.New(ctx, o.names, opts)
	}
	if err != nil && o.replaces != "" && ctx.Err() == nil {
		// A replaces the CA refuses (e.g. another account issued it) must not block renewal.
		opts.ReplacesCertID = ""
		ord, err = s.core.Orders.New(ctx, o.names, opts)
	}
	if err != nil {
		return Version{}, s.wrapProblem("new order", err)
	}
	authzs := make([]legoacme.Authorization, len(ord.Authorizations))
	for i, u := range ord.Authorizations {
		a, err := s.core.Authorizations.Get(ctx, u)
		if err != nil {
			return Version{}, fmt.Errorf("acme: get authorization: %w", err)
		}
		authzs[i] = a
	}
	if err := s.solveAll(ctx, authzs, ord.Authorizations, o.challenge); err != nil {
		return Version{}, err
	}
	lkt, err := o.keyType.lego()
	if err != nil {
		return Version{}, err
	}
	key, err := certcrypto.GeneratePrivateKey(lkt)
	if err != nil {
		return Version{}, err
	}
	csr, err := certcrypto.CreateCSR(key, certcrypto.CSROptions{SAN: o.names})
	if err != nil {
		return Version{}, err
	}
	fin, err := s.core.Orders.UpdateForCSR(ctx, ord.Finalize, csr)
	if err != nil {
		return Version{}, s.wrapProblem("finalize", err)
	}
	interval := cfg.pollInterval()
	for fin.Status != legoacme.StatusValid {
		switch fin.Status {
		case legoacme.StatusInvalid:
			return Version{}, fmt.Errorf("acme: order became invalid: %v", fin.Err())
		case legoacme.StatusPending, legoacme.StatusProcessing, legoacme.StatusReady:
		default:
			return Version{}, fmt.Errorf("acme: unexpected order status %q", fin.Status)
		}
		// The first wait honours the finalize response's Retry-After, later ones the order's.
		ra := max(s.rt.take(ord.Finalize), s.rt.take(ord.Location))
		if err := pollWait(ctx, nextPoll(interval, ra)); err != nil {
			return Version{}, fmt.Errorf("acme: waiting for the certificate: %w", err)
		}
		interval = growPoll(interval)
		if fin, err = s.core.Orders.Get(ctx, ord.Location); err != nil {
			return Version{}, s.wrapProblem("poll order", err)
		}
	}
	raw, err := s.core.Certificates.Get(ctx, fin.Certificate, true)
	if err != nil {
		return Version{}, fmt.Errorf("acme: download certificate: %w", err)
	}
	cert, chain, err := SplitBundle(raw.Cert)
	if err != nil {
		return Version{}, fmt.Errorf("acme: downloaded certificate: %w", err)
	}
	v := Version{Cert: cert, Chain: chain, Key: certcrypto.PEMEncode(key)}
	if _, err := v.Check(); err != nil {
		return Version{}, fmt.Errorf("acme: downloaded certificate: %w", err)
	}
	return v, nil
}

func (s *session) wrapProblem(what string, err error) error {
	var pd *legoacme.ProblemDetails
	if errors.As(err, &pd) && pd.Type == legoacme.InvalidProfileErrorType {
		return fmt.Errorf("%w: %s: %v", ErrProfile, what, err)
	}
	return fmt.Errorf("acme: %s: %w", what, err)
}

// validate answers one challenge and polls its authorization until the CA decides.
func (s *session) validate(ctx context.Context, core *api.Core, domain string, chlg legoacme.Challenge) error {
	ch, err := core.Challenges.New(ctx, chlg.URL)
	if err != nil {
		return fmt.Errorf("acme: %s: start %s: %w", domain, chlg.Type, err)
	}
	switch ch.Status {
	case legoacme.StatusValid:
		return nil
	case legoacme.StatusInvalid:
		return fmt.Errorf("%w: %s: %v", ErrValidation, domain, ch.Err())
	}
	authzURL := ch.AuthorizationURL
	retry := max(ch.RetryAfter, s.rt.take(chlg.URL))
	interval := s.c.cfg.pollInterval()
	for {
		if err := pollWait(ctx, nextPoll(interval, max(retry, s.rt.take(authzURL)))); err != nil {
			return fmt.Errorf("%w: %s: the CA did not decide in time: %v", ErrValidation, domain, err)
		}
		retry = 0
		interval = growPoll(interval)
		a, err := core.Authorizations.Get(ctx, authzURL)
		if err != nil {
			return fmt.Errorf("acme: %s: poll authorization: %w", domain, err)
		}
		switch a.Status {
		case legoacme.StatusValid:
			return nil
		case legoacme.StatusPending, legoacme.StatusProcessing:
			continue
		case legoacme.StatusInvalid:
			for _, c := range a.Challenges {
				if c.Status == legoacme.StatusInvalid && c.Error != nil {
					return fmt.Errorf("%w: %s: %v", ErrValidation, domain, c.Err())
				}
			}
			return fmt.Errorf("%w: %s: authorization invalid", ErrValidation, domain)
		default:
			return fmt.Errorf("%w: %s: authorization %s", ErrValidation, domain, a.Status)
		}
	}
}

// fetchARI asks the CA for the renewal window of leaf and returns the new cache
// entry. noARI reports a directory without renewalInfo.
func (s *session) fetchARI(ctx context.Context, certID string, prev *ARIState) (st *ARIState, noARI bool, err error) {
	if s.core.GetDirectory().RenewalInfo == "" {
		return nil, true, nil
	}
	info, err := s.core.Certificates.GetRenewalInfo(ctx, certID)
	if err != nil {
		return nil, false, fmt.Errorf("acme: renewal info: %w", err)
	}
	now := s.c.cfg.now()
	ra := info.RetryAfter
	if ra <= 0 {
		ra = 6 * time.Hour
	}
	ra = min(max(ra, time.Minute), 7*24*time.Hour)
	st = &ARIState{
		CertID: certID, Start: info.SuggestedWindow.Start.UTC(), End: info.SuggestedWindow.End.UTC(),
		ExplanationURL: info.ExplanationURL, CheckedAt: now.UTC().Truncate(time.Second),
		NextCheck: now.Add(ra).UTC().Truncate(time.Second),
	}
	if prev != nil && prev.CertID == certID && prev.Start.Equal(st.Start) && prev.End.Equal(st.End) && !prev.RenewAt.IsZero() {
		st.RenewAt = prev.RenewAt
	} else {
		st.RenewAt = s.c.randBetween(st.Start, st.End).UTC()
	}
	return st, false, nil
}

// ARICertID returns the RFC 9773 identifier of a certificate.
func ARICertID(leaf *x509.Certificate) string {
	id, err := api.MakeARICertID(leaf)
	if err != nil {
		return ""
	}
	return id
}
