package pgconnect_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/pgconnect"
	"github.com/v6kit/v6kit/internal/testenv"
)

// pgxEnv is every variable pgconn v5.12.0's parseEnvSettings reads, plus HOME (where it
// finds ~/.pgpass, ~/.pg_service.conf and ~/.postgresql).
var pgxEnv = []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGAPPNAME",
	"PGCONNECT_TIMEOUT", "PGSSLMODE", "PGSSLKEY", "PGSSLCERT", "PGSSLCERTMODE", "PGSSLSNI", "PGSSLROOTCERT",
	"PGSSLPASSWORD", "PGSSLNEGOTIATION", "PGTARGETSESSIONATTRS", "PGSERVICE", "PGSERVICEFILE", "PGTZ", "PGOPTIONS",
	"PGMINPROTOCOLVERSION", "PGMAXPROTOCOLVERSION", "PGCHANNELBINDING", "PGREQUIREAUTH", "HOME"}

// clearEnv unsets every variable pgx reads (restored at cleanup).
func clearEnv(t *testing.T) {
	for _, k := range pgxEnv {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
}

// facts is what a config would do on the wire.
func facts(c *pgx.ConnConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "host=%s port=%d user=%s password=%s database=%s params=%v timeout=%s validate=%v\n",
		c.Host, c.Port, c.User, c.Password, c.Database, c.RuntimeParams, c.ConnectTimeout, c.ValidateConnect != nil)
	fmt.Fprintf(&b, "proto=%s-%s binding=%s requireauth=%q negotiation=%s krb=%q/%q mode=%d cert=%v\n",
		c.MinProtocolVersion, c.MaxProtocolVersion, c.ChannelBinding, c.RequireAuth, c.SSLNegotiation,
		c.KerberosSrvName, c.KerberosSpn, c.DefaultQueryExecMode, c.SSLCertMode)
	try := func(host string, port uint16, t *tls.Config) {
		fmt.Fprintf(&b, "  try %s:%d ", host, port)
		if t == nil {
			b.WriteString("no TLS\n")
			return
		}
		fmt.Fprintf(&b, "TLS skip-verify=%v server=%s roots=%v certs=%d verify-func=%v\n",
			t.InsecureSkipVerify, t.ServerName, t.RootCAs != nil, len(t.Certificates), t.VerifyPeerCertificate != nil)
	}
	try(c.Host, c.Port, c.TLSConfig)
	for _, f := range c.Fallbacks {
		try(f.Host, f.Port, f.TLSConfig)
	}
	return b.String()
}

// writeCA writes a self-signed CA certificate (PEM) to a file and returns its name.
func writeCA(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	name := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return name
}

func TestConfigIgnoresEnvironment(t *testing.T) {
	ca := writeCA(t)
	cases := []struct {
		name string
		p    pgconnect.Params
		want []string
	}{
		{"socket", pgconnect.Params{Host: "/run/pg", Port: 5433, User: "postgres", Password: "pw", SSLMode: pgconnect.SSLDisable},
			[]string{"host=/run/pg port=5433 user=postgres password=pw database=postgres params=map[] timeout=0s validate=false", "  try /run/pg:5433 no TLS\n"}},
		{"verify logins", pgconnect.Params{Host: "::1", Port: 5432, User: "mastodon", Database: "postgres", SSLMode: pgconnect.SSLDisable,
			ApplicationName: "v6kit-verify", ConnectTimeout: 15 * time.Second},
			[]string{"password= database=postgres params=map[application_name:v6kit-verify] timeout=15s validate=false", "  try ::1:5432 no TLS\n"}},
		{"prefer", pgconnect.Params{Host: "127.0.0.1", User: "mastodon", Password: "pw"},
			[]string{"  try 127.0.0.1:5432 TLS skip-verify=true server= roots=false certs=0 verify-func=false\n  try 127.0.0.1:5432 no TLS\n"}},
		{"verify-full", pgconnect.Params{Host: "db.example.org", User: "mastodon", Password: "pw", SSLMode: pgconnect.SSLVerifyFull, SSLRootCert: ca},
			[]string{"  try db.example.org:5432 TLS skip-verify=false server=db.example.org roots=true certs=0 verify-func=false\n"}},
	}
	clearEnv(t)
	clean := map[string]string{}
	for _, c := range cases {
		cfg, err := c.p.Config()
		require.NoError(t, err, c.name)
		clean[c.name] = facts(cfg)
		for _, w := range c.want {
			assert.Contains(t, clean[c.name], w, c.name)
		}
		assert.Contains(t, clean[c.name], "proto=3.0-3.0 binding=prefer requireauth=\"\" negotiation=postgres", c.name)
	}
	testenv.PostgresHostileEnv(t)
	for _, c := range cases {
		cfg, err := c.p.Config()
		require.NoError(t, err, c.name)
		assert.Equal(t, clean[c.name], facts(cfg), "%s: the environment changed the config", c.name)
	}
	// pgx's own ParseConfig does read it: plain sslmode=disable fails on PGSSLROOTCERT,
	// and without that the password and options come from the environment.
	_, err := pgx.ParseConfig("host=::1 user=mastodon sslmode=disable")
	require.ErrorContains(t, err, "/nonexistent/root.crt")
	raw, err := pgx.ParseConfig("host=::1 user=mastodon sslmode=disable sslrootcert=''")
	require.NoError(t, err)
	assert.Equal(t, "wrong-from-service", raw.Password)
	assert.Equal(t, "-c statement_timeout=1", raw.RuntimeParams["options"])
}

func TestConfigUnknownService(t *testing.T) {
	clearEnv(t)
	t.Setenv("PGSERVICE", "nope")
	t.Setenv("PGSERVICEFILE", filepath.Join(t.TempDir(), "none"))
	_, err := pgconnect.Params{Host: "::1", User: "u", Password: "secret-pw"}.Config()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unset PGSERVICE")
	assert.NotContains(t, err.Error(), "secret-pw")
}
