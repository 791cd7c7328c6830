// Package haproxy renders HAProxy in front of several Mastodon web nodes on IPv6:
// active health checks on Mastodon's own endpoints, websockets kept open past the
// streaming server's ping, and the TRUSTED_PROXY_IP the web nodes then need.
//
// It exists because a balancer in front of Mastodon fails in quiet ways: nginx OSS has no
// active health checks; HAProxy without "timeout tunnel" cuts every websocket at its
// client/server timeout, and any idle timeout at or under the streaming server's 30 s
// ping ([mastodon.StreamingPingSeconds]) drops idle streams; and Rails trusts
// X-Forwarded-For only from loopback, RFC 1918 and fc00::/7 unless TRUSTED_PROXY_IP says
// otherwise, so a balancer on a global address must be listed ([Config.Env]).
package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/v6kit/v6kit/files"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// Sentinels, one per rule.
var (
	ErrBind    = errors.New("invalid bind: give [address]:port pairs, e.g. [::]:443 (all IPv6 addresses, so a failover address works the moment it arrives)")
	ErrServer  = errors.New("invalid web node: give a name (letters, digits, '-', '_') and the node's unicast address without a zone")
	ErrTimeout = errors.New("timeout too short for Mastodon's streaming: websockets idle up to 30 s between pings, so tunnel, client and server timeouts must exceed 30 s")
	ErrCert    = errors.New("invalid certificate path: give an absolute path to a PEM holding certificate and key, without blanks or quotes")
	ErrCheck   = errors.New("invalid health check settings: inter at least 100ms, fall and rise 1-100")
	ErrSource  = errors.New("invalid front address: give the address the front connects to the web nodes from, without a zone")
)

// Server is one web node: its web (nginx or puma) and streaming ports.
type Server struct {
	// Name names the node in HAProxy's logs and stats.
	Name string
	// Addr is the node's address.
	Addr netip.Addr
	// Port serves the web app and /health. Zero: 80.
	Port int
	// StreamingPort serves /api/v1/streaming and its health check. Zero: Port (an nginx
	// on the node that routes streaming itself).
	StreamingPort int
}

// Config is one front. Web (one or more nodes) is required.
type Config struct {
	// Release is the target Mastodon release. Zero: mastodon.Newest().
	Release mastodon.Release
	// Binds are the listeners. Zero: [::]:80 (or [::]:443 with Cert), IPv6 only.
	Binds []netip.AddrPort
	// Cert is a PEM with certificate and key: TLS terminates here. Empty: plain HTTP
	// (TLS terminates on the web nodes' nginx, or a test).
	Cert string
	// Web are the web nodes.
	Web []Server
	// Tunnel is "timeout tunnel", the idle limit of an upgraded websocket. Zero: 1h.
	Tunnel time.Duration
	// Client and Server are the idle limits before an upgrade (server also bounds an
	// SSE stream between heartbeats). Zero: 90 s each.
	Client, ServerTimeout time.Duration
	// Inter is the health check interval. Zero: 2 s.
	Inter time.Duration
	// Fall and Rise are the failed and passed checks that mark a node down and up.
	// Zero: 3 and 2.
	Fall, Rise int
	// Sources are the addresses this front (and its peers) connect to the web nodes
	// from: TRUSTED_PROXY_IP is written when one is outside Rails' defaults.
	Sources []netip.Addr
}

func (c Config) release() mastodon.Release {
	return c.Release.OrNewest()
}

func (c Config) binds() []netip.AddrPort {
	if len(c.Binds) > 0 {
		return c.Binds
	}
	if c.Cert != "" {
		return []netip.AddrPort{netip.MustParseAddrPort("[::]:443")}
	}
	return []netip.AddrPort{netip.MustParseAddrPort("[::]:80")}
}

func orD(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}

func or(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func (c Config) tunnel() time.Duration { return orD(c.Tunnel, time.Hour) }
func (c Config) client() time.Duration { return orD(c.Client, 90*time.Second) }
func (c Config) server() time.Duration { return orD(c.ServerTimeout, 90*time.Second) }
func (c Config) inter() time.Duration  { return orD(c.Inter, 2*time.Second) }
func (s Server) port() int             { return or(s.Port, 80) }
func (s Server) sport() int            { return or(s.StreamingPort, s.port()) }

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	pathRE = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)
)

func bad(ps *report.Problems, path string, sentinel error, format string, args ...any) {
	ps.Errorf(path, sentinel, "%s: %v", fmt.Sprintf(format, args...), sentinel)
}

// Validate reports every problem at once.
func (c Config) Validate() report.Problems {
	var ps report.Problems
	for i, b := range c.Binds {
		path := fmt.Sprintf("binds[%d]", i)
		if !b.IsValid() || b.Port() == 0 || b.Addr().Zone() != "" || b.Addr().Is4In6() || b.Addr().IsMulticast() || slices.Contains(c.Binds[:i], b) {
			bad(&ps, path, ErrBind, "%q", b)
		}
	}
	if len(c.Web) == 0 {
		bad(&ps, "web", ErrServer, "no web nodes")
	}
	for i, s := range c.Web {
		path := fmt.Sprintf("web[%d]", i)
		if !nameRE.MatchString(s.Name) || slices.ContainsFunc(c.Web[:i], func(o Server) bool { return o.Name == s.Name }) {
			bad(&ps, path+".name", ErrServer, "%q (names must be unique)", s.Name)
		}
		if a := s.Addr; !a.IsValid() || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || a.Is4In6() {
			bad(&ps, path+".addr", ErrServer, "%q", s.Addr)
		}
		for p, v := range map[string]int{".port": s.Port, ".streaming_port": s.StreamingPort} {
			if v < 0 || v > 65535 {
				bad(&ps, path+p, ErrServer, "port %d", v)
			}
		}
	}
	ping := time.Duration(mastodon.StreamingPingSeconds) * time.Second
	for path, d := range map[string]time.Duration{"tunnel": c.tunnel(), "client": c.client(), "server": c.server()} {
		if d <= ping {
			bad(&ps, path, ErrTimeout, "%s timeout %v", path, d)
		}
	}
	if c.Cert != "" && !pathRE.MatchString(c.Cert) {
		bad(&ps, "cert", ErrCert, "%q", c.Cert)
	}
	if c.Inter < 0 || (c.Inter > 0 && c.Inter < 100*time.Millisecond) || c.Fall < 0 || c.Fall > 100 || c.Rise < 0 || c.Rise > 100 {
		bad(&ps, "inter", ErrCheck, "inter %v, fall %d, rise %d", c.Inter, c.Fall, c.Rise)
	}
	for i, a := range c.Sources {
		if !a.IsValid() || a.Zone() != "" || a.IsUnspecified() {
			bad(&ps, fmt.Sprintf("sources[%d]", i), ErrSource, "%q", a)
		}
	}
	return ps.Sorted()
}

func ms(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// Write validates the configuration and renders haproxy.cfg.
func (c Config) Write(w io.Writer) error {
	if err := c.Validate().Err(); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("# HAProxy in front of Mastodon's web nodes, generated by v6kit haproxy.\n")
	b.WriteString("global\n\tlog stdout format raw local0\n\n")
	b.WriteString("defaults\n\tmode http\n\tlog global\n\toption httplog\n\toption dontlognull\n")
	b.WriteString("\t# Rails reads the client from X-Forwarded-For (trusted from this front: see TRUSTED_PROXY_IP).\n\toption forwardfor\n")
	b.WriteString("\t# A node that refuses a connection before its health check fails: try another.\n\tretries 3\n\toption redispatch\n")
	b.WriteString("\ttimeout connect 5s\n\ttimeout http-request 10s\n")
	fmt.Fprintf(&b, "\ttimeout client %s\n\ttimeout server %s\n", ms(c.client()), ms(c.server()))
	fmt.Fprintf(&b, "\t# Websockets: streaming pings every %d s; an upgraded connection lives by this timeout.\n", mastodon.StreamingPingSeconds)
	fmt.Fprintf(&b, "\ttimeout tunnel %s\n\ttimeout client-fin 30s\n\n", ms(c.tunnel()))
	b.WriteString("frontend mastodon\n")
	for _, a := range c.binds() {
		line := "\tbind " + a.String()
		if a.Addr().Is6() && a.Addr().IsUnspecified() {
			line += " v6only"
		}
		if c.Cert != "" {
			line += " ssl crt " + c.Cert + " alpn h2,http/1.1"
		}
		b.WriteString(line + "\n")
	}
	if c.Cert != "" {
		b.WriteString("\thttp-request set-header X-Forwarded-Proto https\n")
	}
	fmt.Fprintf(&b, "\tuse_backend streaming if { path_beg %s }\n\tdefault_backend web\n\n", strings.TrimSuffix(mastodon.StreamingHealthPath, "/health"))
	check := fmt.Sprintf("check inter %s fall %d rise %d", ms(c.inter()), or(c.Fall, 3), or(c.Rise, 2))
	backend := func(name, balance, health string, port func(Server) int) {
		fmt.Fprintf(&b, "backend %s\n\tbalance %s\n\toption httpchk\n\thttp-check send meth GET uri %s\n\thttp-check expect status 200\n", name, balance, health)
		for _, s := range c.Web {
			fmt.Fprintf(&b, "\tserver %s %s %s\n", s.Name, netip.AddrPortFrom(s.Addr, uint16(port(s))), check)
		}
	}
	backend("web", "roundrobin", mastodon.HealthPath, Server.port)
	b.WriteString("\n")
	backend("streaming", "leastconn", mastodon.StreamingHealthPath, Server.sport)
	_, err := w.Write(b.Bytes())
	return err
}

// Bytes is Write into a byte slice.
func (c Config) Bytes() ([]byte, error) {
	var b bytes.Buffer
	err := c.Write(&b)
	return b.Bytes(), err
}

// WriteFile validates the configuration and replaces name with haproxy.cfg atomically,
// under the file's lock (a second run waits, then replaces it in turn), by the rules of
// package files: a new file gets mode 0644; an existing one keeps its owner, group and
// mode; what an interrupted run left behind is removed and said in Result.Notes; a
// symlinked lock file, a foreign or dangling link and a non-regular file are refused.
// Nothing is written when the configuration is invalid or the content is unchanged.
func (c Config) WriteFile(name string) (files.Result, error) {
	data, err := c.Bytes()
	if err != nil {
		return files.Result{}, err
	}
	res, err := fsutil.Replace(context.Background(), name, data, fsutil.Options{Mode: 0o644, KeepMode: true})
	if err != nil {
		return res, fmt.Errorf("haproxy: write %s: %w", name, err)
	}
	return res, nil
}

// EnvVar is one .env.production entry; envfile.Var(e) converts it.
type EnvVar struct {
	Key, Value string
}

// Env returns TRUSTED_PROXY_IP for the web nodes when a source address is outside
// Rails' default trusted proxies (loopback, RFC 1918, fc00::/7): the defaults plus the
// sources, since setting the variable replaces them. Otherwise nothing.
func (c Config) Env() ([]EnvVar, report.Problems) {
	ps := c.Validate()
	if ps.HasErrors() {
		return nil, ps
	}
	defaults := c.release().DefaultTrustedProxies()
	var extra []string
	for _, a := range c.Sources {
		if !slices.ContainsFunc(defaults, func(p string) bool { return netip.MustParsePrefix(p).Contains(a.Unmap()) }) {
			extra = append(extra, a.String())
		}
	}
	if len(extra) == 0 {
		return nil, ps
	}
	return []EnvVar{{"TRUSTED_PROXY_IP", strings.Join(append(slices.Clone(defaults), extra...), ",")}}, ps
}
