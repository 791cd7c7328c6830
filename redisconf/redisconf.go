// Package redisconf renders the Redis settings a Mastodon host needs, checks that Redis
// answers on every address it binds, and yields the matching REDIS_* values for
// .env.production.
//
// It exists because the usual "bind 127.0.0.1 ::1" stops Redis from starting on a host
// with IPv6 disabled, a bare "::1" in REDIS_HOST gives Rails an invalid URL, and
// bracketed IPv6 REDIS_URLs work only from Mastodon 4.2.0. [Config.Write] renders
// "bind 127.0.0.1 -::1" (the dash makes ::1 optional) for dual-stack hosts and "bind ::1"
// for IPv6-only ones, protected-mode, port or unix socket and an optional password or
// ACL user; [Config.Env] picks the REDIS_* spelling the target release reads correctly;
// [Check] pings each listener with go-redis.
package redisconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/v6kit/v6kit/files"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// Family says which loopback addresses Redis binds.
type Family int

const (
	// DualStack binds 127.0.0.1 and, optionally, ::1 ("bind 127.0.0.1 -::1"): Redis still
	// starts on a host with IPv6 disabled. The zero value.
	DualStack Family = iota
	// IPv6Only binds ::1 alone.
	IPv6Only
	// IPv4Only binds 127.0.0.1 alone.
	IPv4Only
)

// String returns "dual-stack", "ipv6-only" or "ipv4-only".
func (f Family) String() string {
	switch f {
	case DualStack:
		return "dual-stack"
	case IPv6Only:
		return "ipv6-only"
	case IPv4Only:
		return "ipv4-only"
	}
	return fmt.Sprintf("family(%d)", int(f))
}

// ParseFamily reads "dual-stack", "ipv6-only" or "ipv4-only".
func ParseFamily(s string) (Family, error) {
	for _, f := range []Family{DualStack, IPv6Only, IPv4Only} {
		if s == f.String() {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrFamily, s)
}

// Sentinels, one per rule.
var (
	ErrFamily   = errors.New("unknown address family: use dual-stack, ipv6-only or ipv4-only")
	ErrPort     = errors.New("invalid port: use 1-65535, or a unix socket")
	ErrSocket   = errors.New("invalid unix socket path: give an absolute path of at most 107 bytes without blanks or quotes")
	ErrAddr     = errors.New("invalid bind address: give an IP address of this host without a zone")
	ErrPassword = errors.New("invalid password: use 16 or more printable ASCII characters without blanks, quotes, backslashes or URL delimiters (:/?#[]@%)")
	ErrUser     = errors.New("invalid ACL user: use letters, digits, '_', '.' or '-', and set a password")
	ErrExposed  = errors.New("Redis on a non-loopback address without a password is open to the network: set a password")
	ErrVersion  = errors.New("this Mastodon release can't use these Redis settings")
)

// Config is the Redis a Mastodon host runs. The zero value is dual-stack loopback on
// port 6379 without a password.
type Config struct {
	// Release is the Mastodon release whose REDIS_* rules [Config.Env] follows. Zero:
	// [mastodon.Newest].
	Release mastodon.Release
	// Family chooses the loopback addresses bound. Zero: DualStack.
	Family Family
	// Port is the TCP port. Zero: 6379. Ignored when UnixSocket is set.
	Port int
	// UnixSocket, when set, makes Redis listen on this socket only (port 0).
	UnixSocket string
	// UnixSocketPerm is the socket's mode. Zero: 0770 (Redis' user and group).
	UnixSocketPerm fs.FileMode
	// Bind adds addresses for remote app hosts (split topologies); they need a Password.
	Bind []netip.Addr
	// Password is requirepass, or the ACL user's password when User is set.
	Password string
	// User is an ACL user given every permission; the default user is then disabled.
	// Mastodon reads REDIS_USER from 4.3.0. Empty: requirepass only.
	User string
	// ClientAddr is the address Mastodon connects to. Zero: ::1 for IPv6Only,
	// 127.0.0.1 otherwise (the address "bind" never skips).
	ClientAddr netip.Addr
}

func (c Config) port() int {
	if c.Port == 0 {
		return mastodon.DefaultRedisPort
	}
	return c.Port
}

var userRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

var (
	loop4 = netip.MustParseAddr("127.0.0.1")
	loop6 = netip.MustParseAddr("::1")
)

// Listener is one address Redis listens on.
type Listener struct {
	// Addr is "host:port" ("[::1]:6379") or the socket path.
	Addr string
	// Network is "tcp" or "unix".
	Network string
	// Optional is true for "-::1": Redis starts without it.
	Optional bool
}

// Listeners lists where the rendered Redis listens, in bind order.
func (c Config) Listeners() []Listener {
	if c.UnixSocket != "" {
		return []Listener{{Addr: c.UnixSocket, Network: "unix"}}
	}
	p := strconv.Itoa(c.port())
	var out []Listener
	switch c.Family {
	case IPv6Only:
		out = append(out, Listener{Addr: net.JoinHostPort("::1", p), Network: "tcp"})
	case IPv4Only:
		out = append(out, Listener{Addr: net.JoinHostPort("127.0.0.1", p), Network: "tcp"})
	default:
		out = append(out, Listener{Addr: net.JoinHostPort("127.0.0.1", p), Network: "tcp"},
			Listener{Addr: net.JoinHostPort("::1", p), Network: "tcp", Optional: true})
	}
	for _, a := range c.Bind {
		out = append(out, Listener{Addr: net.JoinHostPort(a.String(), p), Network: "tcp"})
	}
	return out
}

func (c Config) clientAddr() netip.Addr {
	if c.ClientAddr.IsValid() {
		return c.ClientAddr
	}
	if c.Family == IPv6Only {
		return loop6
	}
	return loop4
}

func (c Config) bound() []netip.Addr {
	var out []netip.Addr
	switch c.Family {
	case IPv6Only:
		out = []netip.Addr{loop6}
	case IPv4Only:
		out = []netip.Addr{loop4}
	default:
		out = []netip.Addr{loop4, loop6}
	}
	return append(out, c.Bind...)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() report.Problems {
	var ps report.Problems
	if err := c.Release.Check(); err != nil {
		ps.Errorf("mastodon", ErrVersion, "%v", err)
	}
	if c.Family < DualStack || c.Family > IPv4Only {
		ps.Errorf("family", ErrFamily, "family %d", int(c.Family))
	}
	if c.Port < 0 || c.Port > 65535 {
		ps.Errorf("port", ErrPort, "port %d", c.Port)
	}
	if s := c.UnixSocket; s != "" {
		if !filepath.IsAbs(s) || len(s) > 107 || strings.ContainsAny(s, " \t\"'\\") || strings.ContainsFunc(s, isControl) {
			ps.Errorf("unixsocket", ErrSocket, "%q", s)
		}
		if c.Port != 0 {
			ps.Warnf("port", ErrPort, "port %d is ignored: with a unix socket Redis listens on no TCP port", c.Port)
		}
		if len(c.Bind) > 0 {
			ps.Errorf("bind", ErrAddr, "remote addresses need TCP; drop unixsocket or bind")
		}
	}
	if c.UnixSocketPerm&^0o777 != 0 {
		ps.Errorf("unixsocketperm", ErrSocket, "mode %o has bits beyond 0777", c.UnixSocketPerm)
	}
	for i, a := range c.Bind {
		path := fmt.Sprintf("bind[%d]", i)
		switch {
		case !a.IsValid() || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast():
			ps.Errorf(path, ErrAddr, "%q: give a unicast address of this host, without a zone", a)
		case a.IsLinkLocalUnicast():
			ps.Errorf(path, ErrAddr, "%s is link-local: Redis can't bind it without an interface (bind: Invalid argument); use a global or ULA address", a)
		case a.Is4In6():
			ps.Errorf(path, ErrAddr, "%s is IPv4-mapped, which Redis can't bind (it sets IPV6_V6ONLY): write %s", a, a.Unmap())
		case slices.Contains(c.bound()[:len(c.bound())-len(c.Bind)], a):
			ps.Errorf(path, ErrAddr, "%s is already bound by the %s family", a, c.Family)
		case slices.Contains(c.Bind[:i], a):
			ps.Errorf(path, ErrAddr, "%s is listed twice (Redis aborts with \"Address already in use\"); list it once", a)
		case !a.IsLoopback() && c.Password == "":
			ps.Errorf(path, ErrExposed, "%s is reachable from the network; set a password", a)
		}
	}
	if c.Password != "" {
		if strings.ContainsFunc(c.Password, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"'\`, r) }) {
			ps.Errorf("password", ErrPassword, "the password holds blanks, quotes, backslashes, control or non-ASCII characters")
		} else if i := strings.IndexAny(c.Password, urlDelims); i >= 0 {
			// Rails up to 4.2 (lib/mastodon/redis_config.rb) pastes REDIS_PASSWORD unescaped into
			// "redis://:PASSWORD@HOST:PORT/DB", and a REDIS_URL's userinfo is decoded differently by
			// Ruby's redis client and the streaming server's node-redis/ioredis across releases: a
			// URL delimiter in the password makes some process parse another host, port or database.
			ps.Errorf("password", ErrPassword, "the password holds %q, a URL delimiter that Mastodon's Redis URL parsing breaks on (Rails up to 4.2 pastes REDIS_PASSWORD into a URL unescaped); use letters, digits, '-', '.', '_' or '~', e.g. the output of openssl rand -hex 32", c.Password[i])
		} else if len(c.Password) < 16 {
			ps.Warnf("password", ErrPassword, "the password has %d characters; use 16 or more random ones", len(c.Password))
		}
	}
	if c.User != "" {
		if !userRE.MatchString(c.User) || c.User == "default" {
			ps.Errorf("user", ErrUser, "%q", c.User)
		}
		if c.Password == "" {
			ps.Errorf("user", ErrUser, "ACL user %q needs a password", c.User)
		}
	}
	if c.UnixSocket == "" && c.ClientAddr.IsValid() && !slices.Contains(c.bound(), c.ClientAddr) {
		ps.Errorf("client_addr", ErrAddr, "%s is not bound; choose one of %v", c.ClientAddr, c.bound())
	}
	return ps
}

// urlDelims are the characters that end or split a URL's userinfo (RFC 3986 gen-delims, plus
// '%', which starts an escape).
const urlDelims = ":/?#[]@%"

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Write validates the configuration and renders the Redis settings: a file to include
// from redis.conf, or to put in its place. It holds the password, so write it 0600 or
// 0640 (WriteFile does).
func (c Config) Write(w io.Writer) error {
	if err := c.Validate().Err(); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("# Redis for Mastodon, generated by v6kit redisconf.\n")
	if c.UnixSocket != "" {
		perm := c.UnixSocketPerm
		if perm == 0 {
			perm = 0o770
		}
		b.WriteString("# Unix socket only: no TCP listener.\nport 0\n")
		fmt.Fprintf(&b, "unixsocket %s\nunixsocketperm %o\n", c.UnixSocket, perm)
	} else {
		var addrs []string
		switch c.Family {
		case IPv6Only:
			b.WriteString("# IPv6-only: loopback ::1 alone.\n")
			addrs = []string{"::1"}
		case IPv4Only:
			b.WriteString("# IPv4-only: loopback 127.0.0.1 alone.\n")
			addrs = []string{"127.0.0.1"}
		default:
			b.WriteString("# Dual-stack: the leading dash makes ::1 optional, so Redis still starts where IPv6 is disabled.\n")
			addrs = []string{"127.0.0.1", "-::1"}
		}
		for _, a := range c.Bind {
			addrs = append(addrs, a.String())
		}
		fmt.Fprintf(&b, "bind %s\nport %d\n", strings.Join(addrs, " "), c.port())
	}
	b.WriteString("# Refuse clients from other addresses while no password is set.\nprotected-mode yes\n")
	switch {
	case c.User != "":
		fmt.Fprintf(&b, "# ACL: Mastodon's user gets every command and key; the default user is disabled.\n")
		fmt.Fprintf(&b, "user default off\nuser %s on >%s ~* &* +@all\n", c.User, c.Password)
	case c.Password != "":
		fmt.Fprintf(&b, "requirepass %s\n", c.Password)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Snippet is Write into a byte slice.
func (c Config) Snippet() ([]byte, error) {
	var b bytes.Buffer
	err := c.Write(&b)
	return b.Bytes(), err
}

// WriteFile writes the snippet atomically under its lock (a second run waits) with mode
// 0640 for a new file (it may hold the password; group-readable so a redis group can
// read it); an existing file keeps its owner, group and mode, except that other users
// lose read access (said in Result.Notes). Links and non-regular files follow package
// files' rules.
func (c Config) WriteFile(name string) (files.Result, error) {
	data, err := c.Snippet()
	if err != nil {
		return files.Result{}, err
	}
	r, err := fsutil.Update(context.Background(), name, fsutil.Options{Mode: 0o640, KeepMode: true, Secret: true},
		func([]byte, bool) ([]byte, error) { return data, nil })
	if err != nil {
		return r, fmt.Errorf("redisconf: write %s: %w", name, err)
	}
	return r, nil
}

// EnvVar is one .env.production entry. It has the fields of envfile.Var, so
// envfile.Var(e) converts it for envfile.Config.Extra.
type EnvVar struct {
	Key, Value string
}

// Env returns the REDIS_* entries for .env.production that reach this Redis from the
// target release (c.Release), in a stable order. A bracketed IPv6 REDIS_URL is used only
// where the release reads it correctly (4.2.0+); REDIS_NAMESPACE is never emitted. An
// error problem means the release can't reach this Redis; its message says what to change.
func (c Config) Env() ([]EnvVar, report.Problems) {
	ps := c.Validate()
	if ps.HasErrors() {
		return nil, ps
	}
	rel := c.Release.OrNewest()
	if c.UnixSocket != "" {
		if !rel.RedisURLUnixSocket() {
			ps.Errorf("unixsocket", ErrVersion, "Mastodon %s can't reach Redis over a unix socket; use TCP", rel)
			return nil, ps
		}
		if c.Password != "" && rel.RedisURLOverridesParts() {
			ps.Errorf("password", ErrVersion, "Mastodon can't take a password together with a unix:// REDIS_URL in every process; drop the password (the socket's mode guards it) or use TCP")
			return nil, ps
		}
		return []EnvVar{{"REDIS_URL", "unix://" + c.UnixSocket}}, ps
	}
	if c.User != "" && !rel.RedisUser() {
		ps.Errorf("user", ErrVersion, "Mastodon %s has no REDIS_USER (added in 4.3.0); use requirepass (drop the user)", rel)
		return nil, ps
	}
	addr := c.clientAddr()
	hostport := net.JoinHostPort(addr.String(), strconv.Itoa(c.port()))
	if addr.Is6() && !rel.RedisURLBrackets() {
		fix := "give Mastodon an IPv4 address of the Redis host, or upgrade Mastodon to 4.2 or newer"
		switch {
		case addr.IsLoopback() && c.Family == DualStack:
			fix = "leave client_addr empty or set it to 127.0.0.1 (Redis binds it too)"
		case addr.IsLoopback():
			fix = "use the dual-stack family (Mastodon then connects to 127.0.0.1) or a unix socket"
		}
		ps.Errorf("client_addr", ErrVersion, "Mastodon %s can't reach Redis at %s: Rails builds redis://%s:%d (invalid) from REDIS_HOST and its streaming server keeps the brackets of a REDIS_URL (fixed in 4.2.0); %s", rel, addr, addr, c.port(), fix)
		return nil, ps
	}
	if c.Family == DualStack && addr == loop6 {
		ps.Warnf("client_addr", ErrAddr, "::1 is optional in the dual-stack bind (-::1): where IPv6 is disabled Redis starts without it and Mastodon can't connect; use 127.0.0.1 or the ipv6-only family")
	}
	if addr.Is4() && c.User == "" {
		env := []EnvVar{{"REDIS_HOST", addr.String()}, {"REDIS_PORT", strconv.Itoa(c.port())}}
		if c.Password != "" {
			env = append(env, EnvVar{"REDIS_PASSWORD", c.Password})
		}
		return env, ps
	}
	u := url.URL{Scheme: "redis", Host: hostport, Path: "/0"}
	switch {
	case c.User != "":
		u.User = url.UserPassword(c.User, c.Password)
	case c.Password != "":
		u.User = url.UserPassword("", c.Password)
	}
	return []EnvVar{{"REDIS_URL", u.String()}}, ps
}

// Reach is the outcome of pinging one listener.
type Reach struct {
	Listener
	// OK says whether PING answered PONG; Err says why not.
	OK  bool
	Err error
}

// Check pings Redis with go-redis over every listener of c (each TCP address, or the
// socket), authenticating as c says. Each ping is bounded by timeout (zero: 10 s).
// A failure on an optional listener ("-::1") is reported like any other; the caller
// decides whether it matters.
func Check(ctx context.Context, c Config, timeout time.Duration) []Reach {
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	var out []Reach
	for _, l := range c.Listeners() {
		r := Reach{Listener: l}
		// Dial once first: a refused connection is reported here, without go-redis
		// retrying and logging it.
		cctx, cancel := context.WithTimeout(ctx, timeout)
		nc, err := (&net.Dialer{}).DialContext(cctx, l.Network, l.Addr)
		cancel()
		if err != nil {
			r.Err = fmt.Errorf("redisconf: ping %s %s: %w", l.Network, l.Addr, err)
			out = append(out, r)
			continue
		}
		_ = nc.Close()
		opt := &redis.Options{Network: l.Network, Addr: l.Addr, Username: c.User, Password: c.Password,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, MaxRetries: -1,
			DialerRetries: 1, PoolSize: 1, Protocol: 2, DisableIdentity: true}
		cl := redis.NewClient(opt)
		cctx, cancel = context.WithTimeout(ctx, timeout)
		pong, err := cl.Ping(cctx).Result()
		cancel()
		_ = cl.Close()
		switch {
		case err != nil:
			r.Err = fmt.Errorf("redisconf: ping %s %s: %w", l.Network, l.Addr, err)
		case pong != "PONG":
			r.Err = fmt.Errorf("redisconf: ping %s %s: answered %q", l.Network, l.Addr, pong)
		default:
			r.OK = true
		}
		out = append(out, r)
	}
	return out
}
