package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// PebbleVersion is the Pebble release the harness builds (the go.mod tool).
const PebbleVersion = "v2.10.0"

// PebbleProfile is one ACME profile Pebble offers.
type PebbleProfile struct {
	Description string `json:"description"`
	// ValidityPeriod is the certificate lifetime in seconds.
	ValidityPeriod uint64 `json:"validityPeriod"`
}

// PebbleOptions configures [StartPebble]. The zero value runs Pebble and
// pebble-challtestsrv on [::1] (free ports), answering every name with AAAA ::1 and
// no A record, with profiles "default" (90 days), "tlsserver" (45 days) and
// "shortlived" (6 days), Pebble's 5 % bad nonces, no authorization reuse, no
// validation sleeps, and no Retry-After.
type PebbleOptions struct {
	// Listen is the address both servers listen on. Zero: ::1. (From a network
	// namespace, pass the namespace's address.)
	Listen netip.Addr
	// HTTPPort and TLSPort are the ports Pebble's VA connects to for HTTP-01 and
	// TLS-ALPN-01. Zero: free ports.
	HTTPPort, TLSPort int
	// AAAA is the address challtestsrv answers for every name. Zero: ::1.
	AAAA netip.Addr
	// A is the IPv4 answer. Zero: none (validation is IPv6-only).
	A netip.Addr
	// Profiles replaces the default profiles.
	Profiles map[string]PebbleProfile
	// RequireEAB makes Pebble require external account binding with EABKeys (kid → base64url HMAC).
	RequireEAB bool
	EABKeys    map[string]string
	// RetryAfterAuthz and RetryAfterOrder make Pebble send Retry-After (seconds).
	RetryAfterAuthz, RetryAfterOrder int
	// NoNonceReject sets PEBBLE_WFE_NONCEREJECT=0 (benchmarks).
	NoNonceReject bool
	// AlwaysValid skips real validation (PEBBLE_VA_ALWAYS_VALID=1).
	AlwaysValid bool
	// CommandPrefix runs both programs under a wrapper, e.g. ["ip", "netns", "exec", "NS"].
	CommandPrefix []string
	// Dial opens the harness's own connections (readiness checks, the management API,
	// [Pebble.HTTPClient]). Nil: the root namespace's net.Dialer.
	Dial DialFunc
}

// Pebble is a running Pebble ACME server with its challtestsrv DNS server.
type Pebble struct {
	// DirURL is the ACME directory URL, e.g. https://[::1]:PORT/dir.
	DirURL string
	// CAPEM is the CA that signed Pebble's HTTPS certificate (not the issuing CA);
	// CAFile holds it on disk.
	CAPEM  []byte
	CAFile string
	// MgmtURL is Pebble's management API (roots, set-renewal-info).
	MgmtURL string
	// DNSMgmtURL is challtestsrv's management API (set-txt, clear-txt); DNSAddr its DNS server.
	DNSMgmtURL, DNSAddr string
	// HTTPPort and TLSPort are the ports Pebble validates HTTP-01 and TLS-ALPN-01 on.
	HTTPPort, TLSPort int
	// Dir is the state directory.
	Dir string
	// Proc and DNSProc are the two processes.
	Proc, DNSProc *Process

	client *http.Client
	cmd    func() *exec.Cmd
	addr   string
}

var pebbleBuild struct {
	once sync.Once
	dir  string
	err  error
}

// PebbleBinaries builds pebble and pebble-challtestsrv from the go.mod tools once per
// test binary (into a per-user cache directory reused across runs) and returns their paths.
func PebbleBinaries(t testing.TB) (pebble, challtestsrv string) {
	t.Helper()
	pebbleBuild.once.Do(func() {
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			if goBin, err = exec.LookPath("go"); err != nil {
				pebbleBuild.err = fmt.Errorf("go toolchain not found to build pebble: %v", err)
				return
			}
		}
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("v6kit-pebble-%s-%d", PebbleVersion, os.Getuid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			pebbleBuild.err = err
			return
		}
		for _, name := range []string{"pebble", "pebble-challtestsrv"} {
			out := filepath.Join(dir, name)
			if st, err := os.Stat(out); err == nil && st.Mode()&0o111 != 0 {
				continue
			}
			tmp := out + ".tmp" + strconv.Itoa(os.Getpid())
			cmd := exec.Command(goBin, "build", "-mod=mod", "-o", tmp, "github.com/letsencrypt/pebble/v2/cmd/"+name)
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
			if b, err := cmd.CombinedOutput(); err != nil {
				pebbleBuild.err = fmt.Errorf("go build %s: %v\n%s", name, err, b)
				return
			}
			if err := os.Rename(tmp, out); err != nil {
				pebbleBuild.err = err
				return
			}
		}
		pebbleBuild.dir = dir
	})
	if pebbleBuild.err != nil {
		Unavailable(t, "cannot build Pebble %s: %v", PebbleVersion, pebbleBuild.err)
	}
	return filepath.Join(pebbleBuild.dir, "pebble"), filepath.Join(pebbleBuild.dir, "pebble-challtestsrv")
}

// PebbleTLS writes a fresh CA and a server certificate for the given IPs (and
// localhost) into dir as ca.pem, cert.pem, key.pem, and returns the CA PEM.
func PebbleTLS(t testing.TB, dir string, ips ...netip.Addr) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "v6kit pebble API test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, b := range map[string][]byte{
		"ca.pem":   caPEM,
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caPEM
}

// StartPebble builds (once) and starts Pebble and pebble-challtestsrv, waits until the
// directory answers, and stops both at cleanup.
func StartPebble(t testing.TB, opt PebbleOptions) *Pebble {
	t.Helper()
	pebbleBin, challBin := PebbleBinaries(t)
	listen := opt.Listen
	if !listen.IsValid() {
		listen = netip.IPv6Loopback()
	}
	aaaa := opt.AAAA
	if !aaaa.IsValid() {
		aaaa = netip.IPv6Loopback()
	}
	p := &Pebble{Dir: TempDir(t), HTTPPort: opt.HTTPPort, TLSPort: opt.TLSPort}
	if p.HTTPPort == 0 {
		p.HTTPPort = FreePort(t)
	}
	if p.TLSPort == 0 {
		p.TLSPort = FreePort(t)
	}
	hp := func(port int) string { return net.JoinHostPort(listen.String(), strconv.Itoa(port)) }
	apiPort, mgmtPort, dnsPort, dnsMgmtPort := FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	p.CAPEM = PebbleTLS(t, p.Dir, listen, netip.IPv6Loopback(), netip.MustParseAddr("127.0.0.1"))
	p.CAFile = filepath.Join(p.Dir, "ca.pem")
	profiles := opt.Profiles
	if profiles == nil {
		profiles = map[string]PebbleProfile{
			"default":    {Description: "90-day certificates", ValidityPeriod: 90 * 24 * 3600},
			"tlsserver":  {Description: "45-day certificates", ValidityPeriod: 45 * 24 * 3600},
			"shortlived": {Description: "6-day certificates", ValidityPeriod: 6 * 24 * 3600},
		}
	}
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  hp(apiPort),
		"managementListenAddress":        hp(mgmtPort),
		"certificate":                    filepath.Join(p.Dir, "cert.pem"),
		"privateKey":                     filepath.Join(p.Dir, "key.pem"),
		"httpPort":                       p.HTTPPort,
		"tlsPort":                        p.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": opt.RequireEAB,
		"externalAccountMACKeys":         opt.EABKeys,
		"keyAlgorithm":                   "ecdsa",
		"retryAfter":                     map[string]int{"authz": opt.RetryAfterAuthz, "order": opt.RetryAfterOrder},
		"profiles":                       profiles,
	}}
	cb, _ := json.MarshalIndent(conf, "", "  ")
	confFile := filepath.Join(p.Dir, "pebble-config.json")
	if err := os.WriteFile(confFile, cb, 0o644); err != nil {
		t.Fatal(err)
	}
	p.DNSAddr = hp(dnsPort)
	p.DNSMgmtURL = "http://" + hp(dnsMgmtPort)
	p.DirURL = "https://" + hp(apiPort) + "/dir"
	p.MgmtURL = "https://" + hp(mgmtPort)
	p.addr = hp(apiPort)
	wrap := func(bin string, args ...string) *exec.Cmd {
		argv := append(append(append([]string{}, opt.CommandPrefix...), bin), args...)
		return exec.Command(argv[0], argv[1:]...)
	}
	a := ""
	if opt.A.IsValid() {
		a = opt.A.String()
	}
	dcmd := wrap(challBin, "-dnsserver", p.DNSAddr, "-management", hp(dnsMgmtPort),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv6", aaaa.String(), "-defaultIPv4", a)
	p.DNSProc = Start(t, dcmd, 0)
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_AUTHZREUSE=0"}
	if opt.NoNonceReject {
		env = append(env, "PEBBLE_WFE_NONCEREJECT=0")
	}
	if opt.AlwaysValid {
		env = append(env, "PEBBLE_VA_ALWAYS_VALID=1")
	}
	p.cmd = func() *exec.Cmd {
		c := wrap(pebbleBin, "-config", confFile, "-dnsserver", p.DNSAddr)
		c.Env = append(os.Environ(), env...)
		c.Dir = p.Dir
		return c
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CAPEM)
	dial := opt.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	p.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := WaitTCPWith(ctx, dial, p.DNSProc, hp(dnsMgmtPort)); err != nil {
		t.Fatalf("pebble-challtestsrv: %v", err)
	}
	p.Start(t)
	return p
}

// Start (re)starts Pebble itself (after [Pebble.Stop]); Pebble forgets its accounts
// and certificates when restarted.
func (p *Pebble) Start(t testing.TB) {
	t.Helper()
	p.Proc = Start(t, p.cmd(), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		resp, err := p.client.Get(p.DirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.Proc.Done():
			t.Fatalf("pebble exited: %v\n%s", p.Proc.Err(), p.Proc.Output.String())
		case <-ctx.Done():
			t.Fatalf("pebble did not answer on %s: %v\n%s", p.DirURL, err, p.Proc.Output.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops Pebble (not challtestsrv): a CA that goes away mid-run.
func (p *Pebble) Stop(t testing.TB) {
	t.Helper()
	_ = p.Proc.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.Proc.Done():
	case <-time.After(10 * time.Second):
		_ = p.Proc.Cmd.Process.Kill()
		<-p.Proc.Done()
	}
}

// Addr is the host:port of the ACME API.
func (p *Pebble) Addr() string { return p.addr }

func (p *Pebble) post(t testing.TB, c *http.Client, url string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s: %s", url, resp.Status, msg)
	}
}

// SetTXT adds a TXT record in challtestsrv (host is a FQDN with trailing dot).
func (p *Pebble) SetTXT(t testing.TB, host, value string) {
	p.post(t, http.DefaultClient, p.DNSMgmtURL+"/set-txt", map[string]string{"host": host, "value": value})
}

// ClearTXT removes the TXT records of host.
func (p *Pebble) ClearTXT(t testing.TB, host string) {
	p.post(t, http.DefaultClient, p.DNSMgmtURL+"/clear-txt", map[string]string{"host": host})
}

// SetAAAA makes challtestsrv answer host with addr (instead of the default).
func (p *Pebble) SetAAAA(t testing.TB, host string, addr netip.Addr) {
	p.post(t, http.DefaultClient, p.DNSMgmtURL+"/add-aaaa", map[string]any{"host": host, "addresses": []string{addr.String()}})
}

// SetRenewalInfo overrides Pebble's ARI answer for a certificate (PEM) with raw JSON.
func (p *Pebble) SetRenewalInfo(t testing.TB, certPEM []byte, ariJSON string) {
	p.post(t, p.client, p.MgmtURL+"/set-renewal-info/", map[string]string{"certificate": string(certPEM), "ariResponse": ariJSON})
}

// Roots returns the PEM of Pebble's (per-process) issuing root.
func (p *Pebble) Roots(t testing.TB) []byte {
	t.Helper()
	resp, err := p.client.Get(p.MgmtURL + "/roots/0")
	if err != nil {
		t.Fatalf("pebble roots: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// HTTPClient returns a client that trusts Pebble's API certificate.
func (p *Pebble) HTTPClient() *http.Client { return p.client }
