package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNginxCheckIsStrict(t *testing.T) {
	t.Parallel()
	port := FreePort(t)
	ok := fmt.Sprintf("server { listen [::1]:%d; server_name a.example; return 204; }\n", port)
	NginxCheck(t, []byte(ok))

	// Two servers with the same name on one address: nginx -t exits 0 with a [warn].
	warn := NewNginxPrefix(t)
	warn.WriteSite(t, "site", []byte(ok+ok))
	out, err := warn.Check(context.Background())
	require.Error(t, err)
	assert.Contains(t, out, "[warn]")
	assert.Contains(t, out, `conflicting server name "a.example"`)

	bad := NewNginxPrefix(t)
	bad.WriteSite(t, "site", []byte("server { listen [::1]:1 }\n"))
	_, err = bad.Check(context.Background())
	require.Error(t, err)
}

func TestStartNginxServesTLSOverIPv6(t *testing.T) {
	t.Parallel()
	p := NewNginxPrefix(t)
	cert, key := NginxSelfSignedCert(t, p.Path("certs"), "a.example", "::1")
	port := FreePort(t)
	p.WriteSite(t, "site", []byte(fmt.Sprintf(`server {
  listen [::1]:%d ssl http2;
  server_name a.example;
  ssl_certificate %s;
  ssl_certificate_key %s;
  location / { return 200 "hello v6"; }
}
`, port, cert, key)))
	addr := "[::1]:" + strconv.Itoa(port)
	p.StartNginx(t, addr)

	pem, err := os.ReadFile(cert)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	cl := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := cl.Get("https://" + addr + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	assert.Equal(t, "hello v6", string(body))
}
