// Package pgconnect builds pgx connection configs from explicit settings only.
//
// pgx's ParseConfig, like libpq, fills every setting a connection string leaves out from
// the PG* environment variables (PGHOST, PGPASSWORD, PGSSLMODE, PGOPTIONS,
// PGTARGETSESSIONATTRS, PGCHANNELBINDING …), from ~/.pgpass or PGPASSFILE, from a
// service file and from ~/.postgresql. An administrator who runs an installer with
// PGPASSWORD or PGSSLMODE=require exported for something else would get another
// connection than the one asked for. [Params.Config] writes every one of those settings
// into the connection string it hands to pgx, so the environment is overridden, then
// sets the resulting fields (password, runtime parameters, dialer, timeouts, protocol)
// once more from [Params]. [ParseDSN] reads a keyword/value or URL connection string
// without consulting the environment.
//
// One variable can't be neutralised: PGSERVICE makes pgx read the named service before
// it applies the connection string. Every value the service holds is overridden here,
// but pgx fails when the service can't be found; the error then says to unset PGSERVICE.
package pgconnect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPort is PostgreSQL's port, used when Params.Port is zero.
const DefaultPort = 5432

// SSL modes, as libpq names them.
const (
	SSLDisable    = "disable"
	SSLAllow      = "allow"
	SSLPrefer     = "prefer"
	SSLRequire    = "require"
	SSLVerifyCA   = "verify-ca"
	SSLVerifyFull = "verify-full"
)

var sslModes = []string{SSLDisable, SSLAllow, SSLPrefer, SSLRequire, SSLVerifyCA, SSLVerifyFull}

// Params is one connection, every setting explicit.
type Params struct {
	// Host is an absolute socket directory ("/var/run/postgresql"), an IP literal
	// ("::1") or a host name. Required.
	Host string
	// Port is the server's port. Zero: 5432.
	Port uint16
	// User is the role to log in as. Required.
	User string
	// Password is sent when the server asks for one. Empty: none (~/.pgpass is never read).
	Password string
	// Database is the database to connect to. Empty: User, as libpq does.
	Database string
	// SSLMode is libpq's sslmode. Empty: "prefer" (libpq's default: TLS when the server
	// offers it, unverified, else plain). Ignored over a socket.
	SSLMode string
	// SSLRootCert is a PEM file of CAs to verify the server with. Empty: none
	// (~/.postgresql/root.crt is never read).
	SSLRootCert string
	// SSLCert and SSLKey are a client certificate and its key, both or neither. Empty:
	// none (~/.postgresql/postgresql.crt is never read).
	SSLCert, SSLKey string
	// ApplicationName is sent as application_name, the only runtime parameter. Empty: none.
	ApplicationName string
	// ConnectTimeout bounds the whole connection attempt. Zero: only the context does.
	ConnectTimeout time.Duration
	// DialFunc dials the server. Nil: a plain net.Dialer.
	DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
}

// IsSocket reports whether Host is a socket directory.
func (p Params) IsSocket() bool { return filepath.IsAbs(p.Host) }

func (p Params) port() uint16 {
	if p.Port == 0 {
		return DefaultPort
	}
	return p.Port
}

func (p Params) database() string {
	if p.Database == "" {
		return p.User
	}
	return p.Database
}

func (p Params) sslMode() string {
	if p.SSLMode == "" {
		return SSLPrefer
	}
	return p.SSLMode
}

// Check returns an error naming the first setting that can't be used.
func (p Params) Check() error {
	for _, f := range []struct{ name, v string }{{"host", p.Host}, {"user", p.User}, {"password", p.Password},
		{"dbname", p.Database}, {"sslrootcert", p.SSLRootCert}, {"sslcert", p.SSLCert}, {"sslkey", p.SSLKey},
		{"application_name", p.ApplicationName}} {
		if strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("%w: %s holds a control character (NUL, newline …); remove it", ErrInvalid, f.name)
		}
	}
	switch {
	case p.Host == "":
		return fmt.Errorf("%w: no host: give a socket directory such as /var/run/postgresql or an address such as ::1", ErrInvalid)
	case strings.Contains(p.Host, ","):
		return fmt.Errorf("%w: host %q lists several hosts; give one", ErrInvalid, p.Host)
	case !p.IsSocket() && !validHost(p.Host):
		return fmt.Errorf("%w: host %q is neither an absolute socket directory, an IP address nor a host name", ErrInvalid, p.Host)
	case p.User == "":
		return fmt.Errorf("%w: no user: give the role to log in as", ErrInvalid)
	case !slices.Contains(sslModes, p.sslMode()):
		return fmt.Errorf("%w: sslmode %q: use one of %s", ErrInvalid, p.SSLMode, strings.Join(sslModes, ", "))
	case (p.SSLCert == "") != (p.SSLKey == ""):
		return fmt.Errorf("%w: sslcert and sslkey go together: give both or neither", ErrInvalid)
	case p.ConnectTimeout < 0:
		return fmt.Errorf("%w: connect timeout %s is negative", ErrInvalid, p.ConnectTimeout)
	}
	return nil
}

func validHost(h string) bool {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == "" || a.Is6()
	}
	if len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// ErrInvalid is returned for settings that can't make a connection.
var ErrInvalid = errors.New("pgconnect: invalid connection setting")

// Config returns the pgx config for p. It does not depend on the process environment,
// ~/.pgpass, ~/.pg_service.conf or ~/.postgresql (see the package doc for PGSERVICE):
// every setting pgx would take from them is given explicitly, the password, runtime
// parameters (application_name only), dialer, timeout, session attributes, protocol
// versions, channel binding and Kerberos names are set again afterwards, and TLS is
// exactly what SSLMode, SSLRootCert, SSLCert and SSLKey say.
func (p Params) Config() (*pgx.ConnConfig, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	certMode := "disable"
	if p.SSLCert != "" {
		certMode = "allow"
	}
	kv := [][2]string{
		{"host", p.Host}, {"port", strconv.Itoa(int(p.port()))}, {"user", p.User}, {"password", p.Password},
		{"dbname", p.database()}, {"passfile", ""},
		{"sslmode", p.sslMode()}, {"sslrootcert", p.SSLRootCert}, {"sslcert", p.SSLCert}, {"sslkey", p.SSLKey},
		{"sslcertmode", certMode}, {"sslpassword", ""}, {"sslsni", "1"}, {"sslnegotiation", "postgres"},
		{"target_session_attrs", "any"}, {"connect_timeout", "0"},
		{"min_protocol_version", "3.0"}, {"max_protocol_version", "3.0"},
		{"channel_binding", "prefer"}, {"require_auth", ""},
	}
	cfg, err := pgx.ParseConfig(keywords(kv))
	if err != nil {
		return nil, parseError(err)
	}
	cfg.Password = p.Password
	cfg.RuntimeParams = map[string]string{}
	if p.ApplicationName != "" {
		cfg.RuntimeParams["application_name"] = p.ApplicationName
	}
	cfg.ConnectTimeout = p.ConnectTimeout
	cfg.DialFunc = p.DialFunc
	if cfg.DialFunc == nil {
		cfg.DialFunc = (&net.Dialer{}).DialContext
	}
	cfg.ValidateConnect = nil
	cfg.MinProtocolVersion, cfg.MaxProtocolVersion = "3.0", "3.0"
	cfg.ChannelBinding, cfg.RequireAuth, cfg.SSLNegotiation = "prefer", "", "postgres"
	cfg.KerberosSrvName, cfg.KerberosSpn = "", ""
	cfg.StatementCacheCapacity, cfg.DescriptionCacheCapacity = 512, 512
	cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	return cfg, nil
}

// parseError keeps only the cause of pgx's error: its own text quotes the connection
// string, whose password it masks only on a best-effort basis.
func parseError(err error) error {
	cause := errors.Unwrap(err)
	if cause == nil {
		return fmt.Errorf("%w: pgx refused the settings", ErrInvalid)
	}
	if strings.Contains(cause.Error(), "service") {
		return fmt.Errorf("pgconnect: %w (PGSERVICE in the environment names a service pgx can't read: unset PGSERVICE)", cause)
	}
	return fmt.Errorf("pgconnect: %w", cause)
}
