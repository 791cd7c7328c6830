package pgconnect

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pgxEnv is every variable pgconn v5.12.0's parseEnvSettings reads, plus HOME (where it
// finds ~/.pgpass, ~/.pg_service.conf and ~/.postgresql).
var pgxEnv = []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGAPPNAME",
	"PGCONNECT_TIMEOUT", "PGSSLMODE", "PGSSLKEY", "PGSSLCERT", "PGSSLCERTMODE", "PGSSLSNI", "PGSSLROOTCERT",
	"PGSSLPASSWORD", "PGSSLNEGOTIATION", "PGTARGETSESSIONATTRS", "PGSERVICE", "PGSERVICEFILE", "PGTZ", "PGOPTIONS",
	"PGMINPROTOCOLVERSION", "PGMAXPROTOCOLVERSION", "PGCHANNELBINDING", "PGREQUIREAUTH", "HOME"}

// SetHostileEnv sets every PG* variable pgx reads, and HOME, to values that would
// change or break a connection: a wrong password (also in a pgpass file and a service),
// another host, port, user and database, sslmode=require with unreadable certificates,
// a 1 ms statement_timeout in PGOPTIONS, read-only sessions, channel binding required.
func setHostileEnv(t *testing.T) {
	d := t.TempDir()
	home := filepath.Join(d, "home")
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".postgresql"), 0o700))
	for _, f := range []string{".postgresql/root.crt", ".postgresql/postgresql.crt", ".postgresql/postgresql.key"} {
		require.NoError(t, os.WriteFile(filepath.Join(home, f), []byte("not PEM\n"), 0o600))
	}
	pgpass := filepath.Join(d, "pgpass")
	require.NoError(t, os.WriteFile(pgpass, []byte("*:*:*:*:wrong-from-pgpass\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".pgpass"), []byte("*:*:*:*:wrong-from-home\n"), 0o600))
	svc := filepath.Join(d, "services")
	require.NoError(t, os.WriteFile(svc, []byte("[hostile]\nhost=/nonexistent\nport=1\nuser=nobody\npassword=wrong-from-service\n"+
		"sslmode=verify-full\noptions=-c statement_timeout=1\ntarget_session_attrs=standby\ndefault_query_exec_mode=simple_protocol\n"), 0o600))
	for k, v := range map[string]string{
		"PGHOST": "/nonexistent", "PGPORT": "1", "PGDATABASE": "nope", "PGUSER": "nobody", "PGPASSWORD": "wrong",
		"PGPASSFILE": pgpass, "PGAPPNAME": "hostile", "PGCONNECT_TIMEOUT": "1", "PGSSLMODE": "require",
		"PGSSLKEY": "/nonexistent/key", "PGSSLCERT": "/nonexistent/cert", "PGSSLCERTMODE": "require", "PGSSLSNI": "0",
		"PGSSLROOTCERT": "/nonexistent/root.crt", "PGSSLPASSWORD": "x", "PGSSLNEGOTIATION": "direct",
		"PGTARGETSESSIONATTRS": "read-only", "PGSERVICE": "hostile", "PGSERVICEFILE": svc, "PGTZ": "Pacific/Chatham",
		"PGOPTIONS": "-c statement_timeout=1", "PGMINPROTOCOLVERSION": "3.2", "PGMAXPROTOCOLVERSION": "3.2",
		"PGCHANNELBINDING": "require", "PGREQUIREAUTH": "password", "HOME": home,
	} {
		t.Setenv(k, v)
	}
}

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
		p    Params
		want []string
	}{
		{"socket", Params{Host: "/run/pg", Port: 5433, User: "postgres", Password: "pw", SSLMode: SSLDisable},
			[]string{"host=/run/pg port=5433 user=postgres password=pw database=postgres params=map[] timeout=0s validate=false", "  try /run/pg:5433 no TLS\n"}},
		{"verify logins", Params{Host: "::1", Port: 5432, User: "mastodon", Database: "postgres", SSLMode: SSLDisable,
			ApplicationName: "v6kit-verify", ConnectTimeout: 15 * time.Second},
			[]string{"password= database=postgres params=map[application_name:v6kit-verify] timeout=15s validate=false", "  try ::1:5432 no TLS\n"}},
		{"prefer", Params{Host: "127.0.0.1", User: "mastodon", Password: "pw"},
			[]string{"  try 127.0.0.1:5432 TLS skip-verify=true server= roots=false certs=0 verify-func=false\n  try 127.0.0.1:5432 no TLS\n"}},
		{"verify-full", Params{Host: "db.example.org", User: "mastodon", Password: "pw", SSLMode: SSLVerifyFull, SSLRootCert: ca},
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
	setHostileEnv(t)
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
	_, err := Params{Host: "::1", User: "u", Password: "secret-pw"}.Config()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unset PGSERVICE")
	assert.NotContains(t, err.Error(), "secret-pw")
}

func TestConfigDialFunc(t *testing.T) {
	t.Parallel()
	called := false
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		called = true
		return nil, fmt.Errorf("dial %s %s refused by test", network, addr)
	}
	cfg, err := Params{Host: "::1", Port: 1, User: "u", SSLMode: SSLDisable, DialFunc: dial}.Config()
	require.NoError(t, err)
	_, err = pgx.ConnectConfig(context.Background(), cfg)
	require.Error(t, err)
	assert.True(t, called)
	assert.Contains(t, err.Error(), "dial tcp [::1]:1 refused by test")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p    Params
		want string
	}{
		{Params{User: "u"}, "no host"},
		{Params{Host: "::1"}, "no user"},
		{Params{Host: "a,b", User: "u"}, "several hosts"},
		{Params{Host: "relative/dir", User: "u"}, "neither an absolute socket directory"},
		{Params{Host: "::1", User: "u", SSLMode: "on"}, `sslmode "on"`},
		{Params{Host: "::1", User: "u", SSLCert: "c"}, "both or neither"},
		{Params{Host: "::1", User: "u", Password: "a\x00b"}, "password holds a control character"},
		{Params{Host: "::1", User: "u\nv"}, "user holds a control character"},
		{Params{Host: "::1", User: "u", ConnectTimeout: -time.Second}, "negative"},
	} {
		err := c.p.Check()
		require.ErrorIs(t, err, ErrInvalid, c.want)
		assert.Contains(t, err.Error(), c.want)
		_, err = c.p.Config()
		assert.ErrorIs(t, err, ErrInvalid)
	}
	require.NoError(t, Params{Host: "fe80::1%eth0", User: "u"}.Check())
	require.NoError(t, Params{Host: "db-1.example.org", User: "u"}.Check())
}
