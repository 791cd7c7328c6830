package acme_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

// env is one Pebble plus a store directory and a config that trusts it.
type env struct {
	p    *testenv.Pebble
	root string
	cfg  acme.Config
}

func newEnv(t *testing.T, opt testenv.PebbleOptions) *env {
	t.Helper()
	p := testenv.StartPebble(t, opt)
	root := testenv.TempDir(t)
	cfg := acme.Config{
		Root:      root,
		Server:    p.DirURL,
		CACertPEM: p.CAPEM,
		Challenge: acme.Challenge{Listen: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(p.HTTPPort))},
		Timeout:   90 * time.Second,
		Profile:   "default",
	}
	return &env{p: p, root: root, cfg: cfg}
}

func (e *env) client(t *testing.T, mod func(*acme.Config)) *acme.Client {
	t.Helper()
	cfg := e.cfg
	if mod != nil {
		mod(&cfg)
	}
	c, err := acme.New(cfg)
	require.NoError(t, err)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) obtain(t *testing.T, c *acme.Client, reqs ...acme.Request) acme.Report {
	t.Helper()
	rep, err := c.Obtain(ctxT(t), reqs...)
	require.NoError(t, err, "%+v", rep)
	return rep
}

// verifyChain checks the live certificate chains to Pebble's issuing root.
func (e *env) verifyChain(t *testing.T, c *acme.Client, name string) *x509.Certificate {
	t.Helper()
	full, err := os.ReadFile(filepath.Join(c.Store().LiveDir(name), "fullchain.pem"))
	require.NoError(t, err)
	pair, err := tls.X509KeyPair(full, mustRead(t, filepath.Join(c.Store().LiveDir(name), "privkey.pem")))
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(e.p.Roots(t)))
	inter := x509.NewCertPool()
	for _, d := range pair.Certificate[1:] {
		ic, _ := x509.ParseCertificate(d)
		inter.AddCert(ic)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: leaf.DNSNames[0]})
	require.NoError(t, err)
	return leaf
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func TestObtainHTTP01BuiltinOverIPv6(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, nil)
	rep := e.obtain(t, c, acme.Request{Names: []string{"social.test", "Média.social.test"}})
	require.Len(t, rep.Outcomes, 1)
	require.Equal(t, acme.Issued, rep.Outcomes[0].Action)
	l, err := c.Store().Load("social.test")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"social.test", "xn--mdia-bpa.social.test"}, l.Names)
	e.verifyChain(t, c, "social.test")
	// Account: one per directory URL, key 0600 in a 0700 directory.
	keys, _ := filepath.Glob(filepath.Join(e.root, "accounts", "*", "dir", "v6-certs", "private_key.pem"))
	require.Len(t, keys, 1)
	st, _ := os.Stat(keys[0])
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, _ = os.Stat(filepath.Dir(keys[0]))
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	// Pebble 2.10 has ARI: the window was cached at issuance.
	require.NotNil(t, l.Meta.ARI)
	assert.Equal(t, acme.ARICertID(l.Leaf), l.Meta.ARI.CertID)
	assert.False(t, l.Meta.ARI.RenewAt.Before(l.Meta.ARI.Start))
	assert.True(t, l.Meta.ARI.RenewAt.Before(l.Meta.ARI.End))

	// Obtaining again is a no-op (not due), without --force.
	rep = e.obtain(t, c, acme.Request{Names: []string{"social.test", "média.social.test"}})
	assert.Equal(t, acme.Kept, rep.Outcomes[0].Action)
	assert.False(t, rep.Changed)
}

func TestObtainManyNamesConcurrentlyOneResponder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, func(c *acme.Config) { c.Concurrency = 4; c.Email = "admin@social.test" })
	var reqs []acme.Request
	for i := range 8 {
		reqs = append(reqs, acme.Request{Names: []string{fmt.Sprintf("n%d.many.test", i)}})
	}
	rep := e.obtain(t, c, reqs...)
	require.Len(t, rep.Outcomes, 8)
	for _, o := range rep.Outcomes {
		assert.Equal(t, acme.Issued, o.Action, o.Name)
	}
	ls, ps := c.Store().List()
	require.NoError(t, ps.Err())
	require.Len(t, ls, 8)
}

func TestObtainHTTP01WebrootServedByNginx(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	webroot := testenv.TempDir(t)
	ng := testenv.NewNginxPrefix(t)
	tlsPort := testenv.FreePort(t)
	live := filepath.Join(e.root, "live", "web.test")
	// Port 80 server (as nginxconf renders it) on the port Pebble validates, plus a TLS
	// server using the live certificate once it exists.
	ng.WriteSite(t, "acme", fmt.Appendf(nil, `server {
    listen [::1]:%d;
    server_name _;
    location ^~ /.well-known/acme-challenge/ { root %s; default_type text/plain; }
    location / { return 404; }
}
`, e.p.HTTPPort, webroot))
	ng.StartNginx(t, fmt.Sprintf("[::1]:%d", e.p.HTTPPort))
	check := []string{ng.Binary, "-t", "-q", "-p", ng.Dir + "/", "-c", ng.Conf(), "-e", ng.Path("logs", "error.log")}
	reload := []string{ng.Binary, "-s", "reload", "-p", ng.Dir + "/", "-c", ng.Conf(), "-e", ng.Path("logs", "error.log")}
	c := e.client(t, func(c *acme.Config) {
		c.Challenge = acme.Challenge{Webroot: webroot}
		c.Deploy = acme.Deploy{Check: check, Reload: reload}
	})
	rep := e.obtain(t, c, acme.Request{Names: []string{"web.test"}})
	require.Equal(t, acme.Issued, rep.Outcomes[0].Action)
	require.True(t, rep.Deployed, rep.DeployError)
	leaf := e.verifyChain(t, c, "web.test")
	ents, _ := os.ReadDir(filepath.Join(webroot, ".well-known", "acme-challenge"))
	assert.Empty(t, ents, "challenge files are cleaned up")

	// Now serve TLS with the live files, renew, and see nginx serve the new certificate.
	ng.WriteSite(t, "tls", fmt.Appendf(nil, `server {
    listen [::1]:%d ssl;
    server_name web.test;
    ssl_certificate %s/fullchain.pem;
    ssl_certificate_key %s/privkey.pem;
    location / { return 204; }
}
`, tlsPort, live, live))
	out, err := execOut(reload...)
	require.NoError(t, err, out)
	served := func() string {
		var s string
		require.Eventually(t, func() bool {
			conn, err := tls.Dial("tcp", fmt.Sprintf("[::1]:%d", tlsPort), &tls.Config{ServerName: "web.test", InsecureSkipVerify: true})
			if err != nil {
				return false
			}
			defer conn.Close()
			s = conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
			return true
		}, 30*time.Second, 50*time.Millisecond)
		return s
	}
	require.Eventually(t, func() bool { return served() == leaf.SerialNumber.String() }, 30*time.Second, 100*time.Millisecond)
	rep, err = c.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.NoError(t, err)
	require.Equal(t, acme.Renewed, rep.Outcomes[0].Action)
	require.True(t, rep.Deployed, rep.DeployError)
	l, _ := c.Store().Load("web.test")
	require.NotEqual(t, leaf.SerialNumber.String(), l.Leaf.SerialNumber.String())
	require.Eventually(t, func() bool { return served() == l.Leaf.SerialNumber.String() }, 30*time.Second, 100*time.Millisecond)
}

func execOut(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := execCommand(ctx, argv...)
	return string(b), err
}

func TestObtainTLSALPN01OverIPv6(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, func(c *acme.Config) {
		c.Challenge = acme.Challenge{Type: acme.TLSALPN01, Listen: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(e.p.TLSPort))}
		c.KeyType = acme.EC384
	})
	rep := e.obtain(t, c, acme.Request{Names: []string{"alpn.test", "www.alpn.test"}})
	require.Equal(t, acme.Issued, rep.Outcomes[0].Action)
	leaf := e.verifyChain(t, c, "alpn.test")
	assert.Equal(t, "P-384", leaf.PublicKey.(interface{ Params() *ellipticParams }).Params().Name)
}

func TestObtainDNS01ChalltestsrvWildcard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, func(c *acme.Config) {
		c.Challenge = acme.Challenge{Type: acme.DNS01, DNSProvider: "pebble-challtestsrv",
			DNSCredentials: map[string]string{"CHALLTESTSRV_URL": e.p.DNSMgmtURL}}
		c.KeyType = acme.RSA2048
	})
	rep := e.obtain(t, c, acme.Request{Names: []string{"*.wild.test", "wild.test"}})
	require.Equal(t, acme.Issued, rep.Outcomes[0].Action)
	assert.Equal(t, "wild.test", rep.Outcomes[0].Name)
	l, err := c.Store().Load("wild.test")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"*.wild.test", "wild.test"}, l.Names)
	assert.Equal(t, acme.DNS01, l.Meta.Challenge.Type)
	assert.Equal(t, "pebble-challtestsrv", l.Meta.Challenge.DNSProvider)
	assert.NotContains(t, string(mustRead(t, filepath.Join(e.root, "renewal", "wild.test"+acme.MetaSuffix))), e.p.DNSMgmtURL, "credentials are never stored")
	// Renewal takes the credentials from the run's config again.
	rep, err = c.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.NoError(t, err)
	assert.Equal(t, acme.Renewed, rep.Outcomes[0].Action)
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, func(c *acme.Config) { c.Profile = "shortlived" })
	ps, err := c.Profiles(ctxT(t))
	require.NoError(t, err)
	assert.Contains(t, ps, "shortlived")
	e.obtain(t, c, acme.Request{Names: []string{"short.test"}})
	l, err := c.Store().Load("short.test")
	require.NoError(t, err)
	assert.Equal(t, "shortlived", l.Meta.Profile)
	assert.InDelta(t, float64(6*24*time.Hour), float64(l.NotAfter.Sub(l.NotBefore)), float64(time.Minute))

	// An unknown profile is refused before any order, nothing is written.
	bad := e.client(t, func(c *acme.Config) { c.Profile = "forever" })
	rep, err := bad.Obtain(ctxT(t), acme.Request{Names: []string{"forever.test"}})
	require.ErrorIs(t, err, acme.ErrProfile)
	assert.Contains(t, err.Error(), "shortlived")
	require.Equal(t, acme.Failed, rep.Outcomes[0].Action)
	_, err = os.Lstat(filepath.Join(e.root, "live", "forever.test"))
	assert.True(t, os.IsNotExist(err))

	// An expiring 6-day certificate (day 5) is renewed and keeps its profile.
	later := l.NotBefore.Add(5 * 24 * time.Hour)
	r := e.client(t, func(c *acme.Config) { c.Now = func() time.Time { return later } })
	rep, err = r.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	require.Equal(t, acme.Renewed, rep.Outcomes[0].Action, "%+v", rep.Outcomes[0])
	l2, _ := r.Store().Load("short.test")
	assert.Equal(t, "shortlived", l2.Meta.Profile)
	assert.InDelta(t, float64(6*24*time.Hour), float64(l2.NotAfter.Sub(l2.NotBefore)), float64(time.Minute))
}

func TestRenewNothingDueMakesNoRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, nil)
	e.obtain(t, c, acme.Request{Names: []string{"a.quiet.test"}}, acme.Request{Names: []string{"b.quiet.test"}})
	before := mustRead(t, filepath.Join(e.root, "renewal", "a.quiet.test"+acme.MetaSuffix))
	// With the CA gone, a renew that needs nothing from it still succeeds.
	e.p.Stop(t)
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Outcomes, 2)
	for _, o := range rep.Outcomes {
		assert.Equal(t, acme.Kept, o.Action)
		assert.False(t, o.Due.Now)
		assert.False(t, o.Due.CheckARI)
	}
	assert.False(t, rep.Changed)
	assert.Equal(t, before, mustRead(t, filepath.Join(e.root, "renewal", "a.quiet.test"+acme.MetaSuffix)), "nothing written")
}

func TestRenewFollowsARIWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, nil)
	e.obtain(t, c, acme.Request{Names: []string{"ari.test"}}, acme.Request{Names: []string{"calm.test"}})
	l, _ := c.Store().Load("ari.test")
	// The CA moves ari.test's window into the past (e.g. a mass revocation).
	past := time.Now().Add(-2 * time.Hour).UTC()
	e.p.SetRenewalInfo(t, mustRead(t, filepath.Join(e.root, "live", "ari.test", "cert.pem")),
		fmt.Sprintf(`{"suggestedWindow":{"start":%q,"end":%q},"explanationURL":"https://ca.test/why"}`, past.Format(time.RFC3339), past.Add(time.Hour).Format(time.RFC3339)))
	// Before the cached answer's Retry-After (6 h) nothing is asked and nothing renews.
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	assert.False(t, rep.Changed)
	// After it, the new window is fetched and only ari.test renews, with replaces.
	later := time.Now().Add(7 * time.Hour)
	r := e.client(t, func(c *acme.Config) { c.Now = func() time.Time { return later } })
	rep, err = r.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	byName := map[string]acme.Outcome{}
	for _, o := range rep.Outcomes {
		byName[o.Name] = o
	}
	require.Equal(t, acme.Renewed, byName["ari.test"].Action, "%+v", byName["ari.test"])
	assert.Equal(t, acme.ReasonARI, byName["ari.test"].Due.Reason)
	assert.Equal(t, acme.Kept, byName["calm.test"].Action)
	l2, _ := r.Store().Load("ari.test")
	assert.NotEqual(t, l.Serial, l2.Serial)
	assert.Equal(t, 2, l2.Version)
	require.NotNil(t, l2.Meta.ARI)
	assert.Equal(t, acme.ARICertID(l2.Leaf), l2.Meta.ARI.CertID)
}

func TestRenewRevokedCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, nil)
	e.obtain(t, c, acme.Request{Names: []string{"revoked.test"}})
	l, _ := c.Store().Load("revoked.test")
	revoke(t, e, l.Leaf)
	later := time.Now().Add(7 * time.Hour) // past the cached ARI answer
	r := e.client(t, func(c *acme.Config) { c.Now = func() time.Time { return later } })
	rep, err := r.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	require.Equal(t, acme.Renewed, rep.Outcomes[0].Action, "%+v", rep.Outcomes[0])
}

// revoke revokes leaf with the store's account, through lego's api layer.
func revoke(t *testing.T, e *env, leaf *x509.Certificate) {
	t.Helper()
	keys, _ := filepath.Glob(filepath.Join(e.root, "accounts", "*", "dir", "v6-certs", "private_key.pem"))
	require.Len(t, keys, 1)
	var af struct{ URL string }
	require.NoError(t, json.Unmarshal(mustRead(t, filepath.Join(filepath.Dir(keys[0]), "account.json")), &af))
	key, err := parsePKCS8(mustRead(t, keys[0]))
	require.NoError(t, err)
	core, err := api.New(e.p.HTTPClient(), "test", e.p.DirURL, af.URL, key)
	require.NoError(t, err)
	require.NoError(t, core.Certificates.Revoke(ctxT(t), legoacme.RevokeCertMessage{Certificate: base64.RawURLEncoding.EncodeToString(leaf.Raw)}))
}

// failingProxy sits in front of Pebble and answers 500 to finalize requests while fail is set.
func failingProxy(t *testing.T, e *env, fail *atomic.Bool) (dirURL string, caPEM []byte) {
	t.Helper()
	dir := testenv.TempDir(t)
	caPEM = testenv.PebbleTLS(t, dir, netip.IPv6Loopback())
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	require.NoError(t, err)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "https", e.p.Addr()
			r.Out.Host = r.In.Host
		},
		Transport: e.p.HTTPClient().Transport,
	}
	ln, err := net.Listen("tcp6", "[::1]:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() && strings.HasPrefix(r.URL.Path, "/finalize-order/") {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"type":"urn:ietf:params:acme:error:serverInternal","detail":"the CA fell over mid-order"}`))
			return
		}
		rp.ServeHTTP(w, r)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String() + "/dir", caPEM
}

func TestRenewCAFailsMidOrderKeepsCurrentCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	var fail atomic.Bool
	dirURL, caPEM := failingProxy(t, e, &fail)
	c := e.client(t, func(c *acme.Config) { c.Server = dirURL; c.CACertPEM = caPEM })
	e.obtain(t, c, acme.Request{Names: []string{"keep.test"}})
	before := mustRead(t, filepath.Join(e.root, "live", "keep.test", "fullchain.pem"))
	fail.Store(true)
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.Error(t, err)
	require.Equal(t, acme.Failed, rep.Outcomes[0].Action)
	assert.Contains(t, rep.Outcomes[0].Error, "fell over")
	assert.Equal(t, before, mustRead(t, filepath.Join(e.root, "live", "keep.test", "fullchain.pem")))
	l, err := c.Store().Load("keep.test")
	require.NoError(t, err)
	assert.Equal(t, 1, l.Version)
	assert.Equal(t, 1, l.Meta.Failures)
	assert.True(t, l.Meta.NextAttempt.After(time.Now()))
	require.NoError(t, readPair(c.Store().LiveDir("keep.test")))

	// Pebble itself gone: same story.
	fail.Store(false)
	e.p.Stop(t)
	rep, err = c.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.Error(t, err)
	assert.Equal(t, acme.Failed, rep.Outcomes[0].Action)
	assert.Equal(t, before, mustRead(t, filepath.Join(e.root, "live", "keep.test", "fullchain.pem")))
}

func TestRenewOneFailureOthersStillRenew(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	webroot := testenv.TempDir(t)
	// A Go file server serves the webroot on the port Pebble validates.
	ln, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", e.p.HTTPPort))
	require.NoError(t, err)
	fsrv := &http.Server{Handler: http.FileServer(http.Dir(webroot))}
	go func() { _ = fsrv.Serve(ln) }()
	t.Cleanup(func() { _ = fsrv.Close() })
	wr := e.client(t, func(c *acme.Config) { c.Challenge = acme.Challenge{Webroot: webroot} })
	e.obtain(t, wr, acme.Request{Names: []string{"ok.test"}}, acme.Request{Names: []string{"doomed.test"}})
	// doomed.test's lineage now names a webroot that no longer exists.
	m, err := wr.Store().ReadMeta("doomed.test")
	require.NoError(t, err)
	m.Challenge.Webroot = filepath.Join(webroot, "gone")
	require.NoError(t, wr.Store().WriteMeta("doomed.test", m, time.Now()))
	before := mustRead(t, filepath.Join(e.root, "live", "doomed.test", "cert.pem"))
	rep, err := wr.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.Error(t, err)
	require.Len(t, rep.Outcomes, 2)
	assert.Equal(t, "doomed.test", rep.Outcomes[0].Name)
	assert.Equal(t, acme.Failed, rep.Outcomes[0].Action)
	assert.Equal(t, acme.Renewed, rep.Outcomes[1].Action)
	assert.True(t, rep.Changed)
	assert.Equal(t, before, mustRead(t, filepath.Join(e.root, "live", "doomed.test", "cert.pem")))
}

func TestConcurrentRenewWaitsOrExits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c := e.client(t, nil)
	e.obtain(t, c, acme.Request{Names: []string{"lock.test"}})
	unlock, err := c.Store().Lock(ctxT(t), 0)
	require.NoError(t, err)
	_, err = c.Renew(ctxT(t), acme.RenewOptions{})
	require.ErrorIs(t, err, acme.ErrLocked)
	// With a wait, the second run proceeds once the first releases the lock.
	waiter := e.client(t, func(c *acme.Config) { c.LockWait = time.Minute })
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Renew(ctxT(t), acme.RenewOptions{Force: true})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("renew ran while the lock was held: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	require.NoError(t, <-done)
	l, _ := c.Store().Load("lock.test")
	assert.Equal(t, 2, l.Version)
}

func TestRenewRepairsCrashAndReadersNeverSeeMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	marker := filepath.Join(testenv.TempDir(t), "deploys")
	c := e.client(t, func(c *acme.Config) {
		c.Deploy = acme.Deploy{Check: []string{"/bin/sh", "-c", "echo check >> " + marker}, Reload: []string{"/bin/sh", "-c", "echo reload $RENEWED_DOMAINS >> " + marker}}
	})
	e.obtain(t, c, acme.Request{Names: []string{"crash.test"}})
	w := watchPair(c.Store().LiveDir("crash.test"))
	for range 3 {
		rep, err := c.Renew(ctxT(t), acme.RenewOptions{Force: true})
		require.NoError(t, err)
		require.Equal(t, acme.Renewed, rep.Outcomes[0].Action)
	}
	// Simulate a crash after the archive files of the next version were written.
	l, _ := c.Store().Load("crash.test")
	next := l.Version + 1
	v := issueOffline(t, e, c)
	for k, b := range map[string][]byte{"cert": v.Cert, "chain": v.Chain, "fullchain": v.Fullchain(), "privkey": v.Key} {
		require.NoError(t, os.WriteFile(filepath.Join(e.root, "archive", "crash.test", k+strconv.Itoa(next)+".pem"), b, 0o600))
	}
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	assert.True(t, rep.Changed)
	assert.True(t, rep.Deployed)
	l2, _ := c.Store().Load("crash.test")
	assert.Equal(t, next, l2.Version)
	w.finish(t)
	lines := strings.Split(strings.TrimSpace(string(mustRead(t, marker))), "\n")
	// obtain + 3 renewals + the repair: each run checks then reloads once.
	assert.Equal(t, 10, len(lines), lines)
	assert.Equal(t, "reload crash.test", lines[len(lines)-1])
}

// issueOffline gets a real certificate for crash.test into a scratch store and returns it.
func issueOffline(t *testing.T, e *env, c *acme.Client) acme.Version {
	t.Helper()
	scratch := testenv.TempDir(t)
	sc := e.client(t, func(cfg *acme.Config) { cfg.Root = scratch })
	e.obtain(t, sc, acme.Request{Names: []string{"crash.test"}})
	d := filepath.Join(scratch, "live", "crash.test")
	return acme.Version{Cert: mustRead(t, d+"/cert.pem"), Chain: mustRead(t, d+"/chain.pem"), Key: mustRead(t, d+"/privkey.pem")}
}

type countReloader struct{ n atomic.Int32 }

func (r *countReloader) Reload(context.Context) error { r.n.Add(1); return nil }

func TestDeployCheckGatesReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	var rl countReloader
	c := e.client(t, func(c *acme.Config) { c.Deploy = acme.Deploy{Check: []string{"false"}, Reloader: &rl} })
	rep, err := c.Obtain(ctxT(t), acme.Request{Names: []string{"d1.test"}}, acme.Request{Names: []string{"d2.test"}})
	require.ErrorIs(t, err, acme.ErrCheckFailed)
	assert.Equal(t, int32(0), rl.n.Load(), "never reload after a failed check")
	assert.True(t, rep.Changed)
	ok := e.client(t, func(c *acme.Config) { c.Deploy = acme.Deploy{Check: []string{"true"}, Reloader: &rl} })
	rep, err = ok.Renew(ctxT(t), acme.RenewOptions{Force: true})
	require.NoError(t, err)
	assert.Equal(t, int32(1), rl.n.Load(), "one reload per run for two lineages")
	rep, err = ok.Renew(ctxT(t), acme.RenewOptions{})
	require.NoError(t, err)
	assert.False(t, rep.Changed)
	assert.Equal(t, int32(1), rl.n.Load(), "no reload when nothing changed")
}

func TestExternalAccountBinding(t *testing.T) {
	t.Parallel()
	hmac := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	e := newEnv(t, testenv.PebbleOptions{RequireEAB: true, EABKeys: map[string]string{"kid-1": hmac}})
	c := e.client(t, nil)
	_, err := c.Obtain(ctxT(t), acme.Request{Names: []string{"eab.test"}})
	require.ErrorIs(t, err, acme.ErrEAB)
	c = e.client(t, func(c *acme.Config) { c.EAB = acme.EAB{KID: "kid-1", HMAC: hmac} })
	e.obtain(t, c, acme.Request{Names: []string{"eab.test"}})
}

func TestPortTakenFailsBeforeOrdering(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	ln, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", e.p.HTTPPort))
	require.NoError(t, err)
	defer ln.Close()
	c := e.client(t, nil)
	rep, err := c.Obtain(ctxT(t), acme.Request{Names: []string{"busy.test"}})
	require.ErrorIs(t, err, acme.ErrPortBusy)
	require.Equal(t, acme.Failed, rep.Outcomes[0].Action)
	_, err = os.Lstat(filepath.Join(e.root, "archive", "busy.test"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestImportCertbotLineageAndRenew(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	// Build a certbot 2.x lineage: real live dir with relative links, renewal conf with webroot.
	v := func() acme.Version {
		scratch := testenv.TempDir(t)
		sc := e.client(t, func(cfg *acme.Config) { cfg.Root = scratch })
		e.obtain(t, sc, acme.Request{Names: []string{"old.test", "www.old.test"}})
		d := filepath.Join(scratch, "live", "old.test")
		return acme.Version{Cert: mustRead(t, d+"/cert.pem"), Chain: mustRead(t, d+"/chain.pem"), Key: mustRead(t, d+"/privkey.pem")}
	}()
	cb := testenv.TempDir(t)
	webroot := testenv.TempDir(t)
	for _, d := range []string{"archive/old.test", "live/old.test", "renewal"} {
		require.NoError(t, os.MkdirAll(filepath.Join(cb, d), 0o700))
	}
	for k, b := range map[string][]byte{"cert": v.Cert, "chain": v.Chain, "fullchain": v.Fullchain(), "privkey": v.Key} {
		require.NoError(t, os.WriteFile(filepath.Join(cb, "archive/old.test", k+"1.pem"), b, 0o600))
		require.NoError(t, os.Symlink("../../archive/old.test/"+k+"1.pem", filepath.Join(cb, "live/old.test", k+".pem")))
	}
	conf := fmt.Sprintf(`# renew_before_expiry = 30 days
version = 2.1.0
archive_dir = %[1]s/archive/old.test
cert = %[1]s/live/old.test/cert.pem
privkey = %[1]s/live/old.test/privkey.pem
chain = %[1]s/live/old.test/chain.pem
fullchain = %[1]s/live/old.test/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef
authenticator = webroot
webroot_path = %[2]s,
server = %[3]s
key_type = ecdsa
[[webroot_map]]
old.test = %[2]s
www.old.test = %[2]s
`, cb, webroot, e.p.DirURL)
	require.NoError(t, os.WriteFile(filepath.Join(cb, "renewal", "old.test.conf"), []byte(conf), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(cb, "renewal", "broken.test.conf"), []byte("[renewalparams\n"), 0o644))
	st := &acme.Store{Root: cb}
	outs, ps := st.ImportCertbot(acme.ImportOptions{})
	require.Len(t, outs, 1)
	assert.Equal(t, acme.Imported, outs[0].Action)
	require.Len(t, ps.Errors(), 1, ps.String())
	assert.Contains(t, ps.String(), "broken.test.conf")
	m, err := st.ReadMeta("old.test")
	require.NoError(t, err)
	assert.Equal(t, webroot, m.Challenge.Webroot)
	assert.Equal(t, "certbot", m.Source)
	assert.True(t, outs[0].CertbotAutorenewOff)
	assert.Equal(t, strings.Replace(conf, "key_type = ecdsa\n", "key_type = ecdsa\nautorenew = False\n", 1),
		string(mustRead(t, filepath.Join(cb, "renewal", "old.test.conf"))), "certbot's file is kept but for autorenew = False")
	assert.Equal(t, conf, string(mustRead(t, outs[0].Backup)))

	// Renew: served by a Go file server; live/old.test turns into a symlink atomically.
	ln, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", e.p.HTTPPort))
	require.NoError(t, err)
	fsrv := &http.Server{Handler: http.FileServer(http.Dir(webroot))}
	go func() { _ = fsrv.Serve(ln) }()
	t.Cleanup(func() { _ = fsrv.Close() })
	w := watchPair(filepath.Join(cb, "live", "old.test"))
	c := e.client(t, func(cfg *acme.Config) { cfg.Root = cb })
	rep, err := c.Renew(ctxT(t), acme.RenewOptions{Names: []string{"old.test"}, Force: true})
	require.NoError(t, err)
	require.Equal(t, acme.Renewed, rep.Outcomes[0].Action)
	w.finish(t)
	link, err := os.Readlink(filepath.Join(cb, "live", "old.test"))
	require.NoError(t, err)
	assert.Equal(t, ".old.test.v2", link)
	_, err = os.Stat(filepath.Join(cb, "live", ".old.test.certbot", "cert.pem"))
	require.NoError(t, err, "certbot's directory is kept")
	require.NoError(t, readPair(filepath.Join(cb, "live", "old.test")))
}

func TestObtainWithRetryAfterFromCA(t *testing.T) {
	t.Parallel()
	// Pebble sends Retry-After (seconds or an HTTP date, at random) on processing
	// authorizations and orders; the poll loops read it through the transport.
	e := newEnv(t, testenv.PebbleOptions{RetryAfterAuthz: 1, RetryAfterOrder: 1})
	c := e.client(t, nil)
	rep := e.obtain(t, c, acme.Request{Names: []string{"patient.test"}}, acme.Request{Names: []string{"calm.patient.test"}})
	for _, o := range rep.Outcomes {
		assert.Equal(t, acme.Issued, o.Action)
	}
}
