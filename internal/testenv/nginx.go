package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NginxPrefix is a throwaway nginx prefix: a directory with conf/nginx.conf (a minimal
// main config that includes every sites/*.conf), logs/, tmp/ and cache/, so that
// neither `nginx -t` nor a live nginx touches /var, /run or /etc. Workers run as root
// when the test does (see validators: workers as nobody can't read 0700 test dirs).
type NginxPrefix struct {
	// Dir is the prefix directory (0755, removed at cleanup).
	Dir string
	// Binary is the nginx program.
	Binary string
}

// NewNginxPrefix finds nginx (Debian package nginx) and makes a prefix for it.
func NewNginxPrefix(t testing.TB) *NginxPrefix {
	t.Helper()
	bin := Tool(t, "nginx", "nginx")
	dir := TempDir(t)
	for _, d := range []string{"conf", "sites", "logs", "tmp", "cache", "certs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatalf("nginx prefix: %v", err)
		}
	}
	p := &NginxPrefix{Dir: dir, Binary: bin}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;\n"
	}
	mime := ""
	if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
		mime = "    include /etc/nginx/mime.types;\n"
	}
	main := fmt.Sprintf(`%sworker_processes 1;
daemon off;
pid %[2]s/logs/nginx.pid;
error_log %[2]s/logs/error.log info;
events { worker_connections 256; }
http {
%[3]s    default_type application/octet-stream;
    access_log %[2]s/logs/access.log;
    client_body_temp_path %[2]s/tmp/body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;
    include %[2]s/sites/*.conf;
}
`, user, dir, mime)
	if err := os.WriteFile(p.Conf(), []byte(main), 0o644); err != nil {
		t.Fatalf("nginx prefix: %v", err)
	}
	return p
}

// Conf is the main config's path.
func (p *NginxPrefix) Conf() string { return filepath.Join(p.Dir, "conf", "nginx.conf") }

// CachePath is a directory for the site's proxy_cache_path.
func (p *NginxPrefix) CachePath() string { return filepath.Join(p.Dir, "cache") }

// Path joins elements under the prefix.
func (p *NginxPrefix) Path(elem ...string) string {
	return filepath.Join(append([]string{p.Dir}, elem...)...)
}

// WriteSite writes a site file (an http-context include) as sites/NAME.conf.
func (p *NginxPrefix) WriteSite(t testing.TB, name string, site []byte) string {
	t.Helper()
	f := filepath.Join(p.Dir, "sites", name+".conf")
	if err := os.WriteFile(f, site, 0o644); err != nil {
		t.Fatalf("write site: %v", err)
	}
	return f
}

func (p *NginxPrefix) args(extra ...string) []string {
	return append(extra, "-p", p.Dir+"/", "-c", p.Conf(), "-e", filepath.Join(p.Dir, "logs", "error.log"))
}

// Check runs `nginx -t -q` strictly: an error when nginx exits non-zero or prints any
// `[warn]`. It returns nginx's output.
func (p *NginxPrefix) Check(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, p.Binary, p.args("-t", "-q")...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("nginx -t: %v: %s", err, s)
	}
	if strings.Contains(s, "[warn]") {
		return s, fmt.Errorf("nginx -t warned (strict): %s", s)
	}
	return s, nil
}

// NginxCheck writes site into a fresh prefix and fails the test unless `nginx -t`
// accepts it without a warning. It returns the prefix for further use.
func NginxCheck(t testing.TB, site []byte) *NginxPrefix {
	t.Helper()
	p := NewNginxPrefix(t)
	p.WriteSite(t, "site", site)
	p.MustCheck(t)
	return p
}

// MustCheck fails the test unless `nginx -t` accepts the prefix's sites without a warning.
func (p *NginxPrefix) MustCheck(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := p.Check(ctx); err != nil {
		t.Fatalf("%v\nsites:\n%s", err, p.sites())
	} else if out != "" {
		t.Logf("nginx -t: %s", out)
	}
}

func (p *NginxPrefix) sites() string {
	files, _ := filepath.Glob(filepath.Join(p.Dir, "sites", "*.conf"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			fmt.Fprintf(&b, "%s:%d: %s\n", filepath.Base(f), i+1, l)
		}
	}
	return b.String()
}

// StartNginx checks the prefix strictly, then runs nginx in the foreground as a child of
// the test (master process, one worker) and waits until every address in readyAddrs
// ("[::1]:8443") accepts connections. nginx stops gracefully (SIGQUIT) at cleanup.
func (p *NginxPrefix) StartNginx(t testing.TB, readyAddrs ...string) *Process {
	t.Helper()
	proc, err := p.TryStartNginx(t, readyAddrs...)
	if err != nil {
		t.Fatal(err)
	}
	return proc
}

// TryStartNginx is StartNginx returning the error instead of failing the test, so a
// caller can render again with new ports when [NginxAddrInUse] says a port was taken
// between [FreePort] and nginx's bind. The process, if started, is stopped at cleanup.
func (p *NginxPrefix) TryStartNginx(t testing.TB, readyAddrs ...string) (*Process, error) {
	t.Helper()
	p.MustCheck(t)
	proc := Start(t, exec.Command(p.Binary, p.args()...), syscall.SIGQUIT)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, a := range readyAddrs {
		if err := WaitTCP(ctx, proc, a); err != nil {
			return proc, fmt.Errorf("nginx not ready on %s: %v\nerror.log:\n%s", a, err, p.ErrorLog())
		}
	}
	return proc, nil
}

// NginxAddrInUse reports whether err from [NginxPrefix.TryStartNginx] is a lost port race.
func NginxAddrInUse(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Address already in use")
}

// ErrorLog returns the main error log's content so far.
func (p *NginxPrefix) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "logs", "error.log"))
	return string(b)
}

// NginxSelfSignedCert writes a self-signed ECDSA P-256 certificate (its own CA, valid
// for a day) for hosts (DNS names or IP literals) into dir as cert.pem and key.pem
// (0600), and returns their paths. Trust it in a client by adding cert.pem to a pool.
func NginxSelfSignedCert(t testing.TB, dir string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("serial: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "v6kit test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(hosts) > 0 {
		tmpl.Subject.CommonName = hosts[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatalf("write cert: %v", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatalf("write key: %v", err)
	}
	return certFile, keyFile
}
