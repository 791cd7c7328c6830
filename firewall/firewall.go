// Package firewall renders a host's packet filter from what it listens on and who may
// reach it: an nftables ruleset for the host itself and the same policy as a Yamaha RTX
// router ACL (`ipv6 filter N pass …`), the way the origin story filtered in front of its
// IPv6-only Mastodon.
//
// It exists because an IPv6 host has a global address and nothing else stands in front
// of it, and because an IPv6 host is easy to break by over-filtering: dropping ICMPv6
// Packet Too Big makes a path MTU blackhole, dropping neighbour discovery cuts the host
// off. The ruleset keeps what RFC 4890 §4.4.1 says must never be dropped.
//
// A [Config] lists [Service] values (ports and the prefixes allowed to reach them), the
// [SSH] admin prefix and the [Family]. [Config.Validate] reports every problem at once;
// [Config.Write] renders the nftables ruleset (check it with [Check], which runs
// `nft -c -f`); [Config.RouterACL] builds the router [ACL], which [ACL.Write] prints and
// [ParseACL] reads back. [Mastodon] returns the services of a Mastodon host.
package firewall

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/files"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/report"
)

// Family says which IP versions the host serves.
type Family int

const (
	// IPv6Only filters IPv6 and drops every IPv4 packet that is not loopback or part of a
	// connection the host opened. The zero value.
	IPv6Only Family = iota
	// DualStack filters IPv4 the same way as IPv6 (ICMPv4 essentials included).
	DualStack
)

// String returns "v6only" or "dual".
func (f Family) String() string {
	switch f {
	case IPv6Only:
		return "v6only"
	case DualStack:
		return "dual"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// MarshalText writes the family's name.
func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads "v6only" (or "ipv6-only", "v6", "") or "dual" (or "dual-stack").
func (f *Family) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "v6only", "ipv6-only", "ipv6only", "v6", "":
		*f = IPv6Only
	case "dual", "dual-stack", "dualstack":
		*f = DualStack
	default:
		return fmt.Errorf("%w (got %q)", ErrFamily, string(b))
	}
	return nil
}

// Proto is a transport protocol.
type Proto int

const (
	// TCP is the zero value.
	TCP Proto = iota
	// UDP (HTTP/3 on 443, say).
	UDP
)

// String returns "tcp" or "udp".
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText writes the protocol's name.
func (p Proto) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads "tcp" (or "") or "udp".
func (p *Proto) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "tcp", "":
		*p = TCP
	case "udp":
		*p = UDP
	default:
		return fmt.Errorf("%w (got %q)", ErrProto, string(b))
	}
	return nil
}

// Service is something the host listens on and who may reach it.
type Service struct {
	// Name labels the rules (an nftables comment, an RTX comment): "nginx", "postgresql".
	Name string `json:"name"`
	// Proto is the transport. Zero: TCP.
	Proto Proto `json:"proto"`
	// Ports are the destination ports, at least one.
	Ports []uint16 `json:"ports"`
	// From are the source prefixes allowed. Empty: nobody, unless Public.
	From []netip.Prefix `json:"from,omitempty"`
	// Public opens the ports to every address (::/0, and 0.0.0.0/0 on a dual-stack host).
	// It may not be combined with From, nor used for an internal service's port.
	Public bool `json:"public,omitempty"`
}

// SSH says who may log in.
type SSH struct {
	// Port is sshd's port. Zero: 22.
	Port uint16 `json:"port,omitempty"`
	// From are the admin prefixes. Empty is an error unless Any is set.
	From []netip.Prefix `json:"from,omitempty"`
	// Any opens SSH to every address; it must be asked for explicitly (--ssh-from any).
	Any bool `json:"any,omitempty"`
	// Off leaves SSH out of the filter entirely (no sshd on the host, or the console only).
	Off bool `json:"off,omitempty"`
}

// Config is the host's filter policy. The zero value is an IPv6-only host that accepts
// nothing but loopback, ICMP essentials and its own connections' replies, except that
// SSH needs [SSH.From] (or Any, or Off).
type Config struct {
	// Family chooses the IP versions filtered. Zero: [IPv6Only].
	Family Family `json:"family"`
	// Services are the open ports, in the order the rules are written.
	Services []Service `json:"services,omitempty"`
	// SSH is the admin access.
	SSH SSH `json:"ssh"`
	// Table is the nftables table (family inet). Zero: "v6kit".
	Table string `json:"table,omitempty"`
	// Router, when set, describes the Yamaha RTX in front of the host ([Config.RouterACL]).
	Router *RTX `json:"router,omitempty"`
}

// DefaultTable is the nftables table a zero [Config.Table] means.
const DefaultTable = "v6kit"

// Ports of the services [Mastodon] lists. PostgreSQL's, PgBouncer's, Redis's and
// Sentinel's are the daemons' own defaults (the same in every Mastodon release).
const (
	PortHTTP       = 80
	PortHTTPS      = 443
	PortSSH        = 22
	PortPostgreSQL = 5432
	PortPgBouncer  = 6432
	PortRedis      = 6379
	PortSentinel   = 26379
)

// Internal names the internal service that uses port p by default (PostgreSQL,
// PgBouncer, Redis, Sentinel), or "" for any other port. Such a port may never be public.
func Internal(p uint16) string {
	switch p {
	case PortPostgreSQL:
		return "PostgreSQL"
	case PortPgBouncer:
		return "PgBouncer"
	case PortRedis:
		return "Redis"
	case PortSentinel:
		return "Redis Sentinel"
	}
	return ""
}

// Mastodon returns the services of a Mastodon host: nginx on 80 and 443 from anywhere
// and, when app is not empty, PostgreSQL, PgBouncer, Redis and Sentinel from the app
// hosts' prefixes only (an all-in-one host, where they listen on loopback, passes nil).
func Mastodon(app []netip.Prefix) []Service {
	s := []Service{{Name: "nginx", Ports: []uint16{PortHTTP, PortHTTPS}, Public: true}}
	if len(app) == 0 {
		return s
	}
	for _, x := range []struct {
		name string
		port uint16
	}{{"postgresql", PortPostgreSQL}, {"pgbouncer", PortPgBouncer}, {"redis", PortRedis}, {"sentinel", PortSentinel}} {
		s = append(s, Service{Name: x.name, Ports: []uint16{x.port}, From: slices.Clone(app)})
	}
	return s
}

func (c Config) table() string {
	if c.Table == "" {
		return DefaultTable
	}
	return c.Table
}

func (s SSH) port() uint16 {
	if s.Port == 0 {
		return PortSSH
	}
	return s.Port
}

// Validate reports every problem at once, each with the field's path.
func (c Config) Validate() report.Problems {
	var ps report.Problems
	if c.Family != IPv6Only && c.Family != DualStack {
		ps.Errorf("family", ErrFamily, "unknown family %d: use v6only or dual", int(c.Family))
	}
	if c.Table != "" && !identifier(c.Table, 32) {
		ps.Errorf("table", ErrTable, "table %q: use letters, digits and underscores, starting with a letter (e.g. %s)", c.Table, DefaultTable)
	}
	type key struct {
		proto Proto
		port  uint16
	}
	owner := map[key]string{}
	claim := func(path string, p Proto, port uint16) {
		k := key{p, port}
		if o, dup := owner[k]; dup {
			ps.Errorf(path, ErrPort, "%s port %d is already opened by %s: list each port once", p, port, o)
			return
		}
		owner[k] = path
	}
	for i, s := range c.Services {
		path := fmt.Sprintf("services[%d]", i)
		if !serviceName(s.Name) {
			ps.Errorf(path+".name", ErrName, "service name %q: use lowercase letters, digits and hyphens (e.g. postgresql)", s.Name)
		}
		if s.Proto != TCP && s.Proto != UDP {
			ps.Errorf(path+".proto", ErrProto, "unknown protocol %d: use tcp or udp", int(s.Proto))
		}
		if len(s.Ports) == 0 {
			ps.Errorf(path+".ports", ErrPort, "service %s has no port: list the ports it listens on", s.Name)
		}
		for j, p := range s.Ports {
			pp := fmt.Sprintf("%s.ports[%d]", path, j)
			if p == 0 {
				ps.Errorf(pp, ErrPort, "port 0: use the port the service listens on (1-65535)")
				continue
			}
			claim(pp, s.Proto, p)
			if name := Internal(p); name != "" && s.Public {
				ps.Errorf(path+".public", ErrOpenToWorld, "port %d is %s's: it must not be public; allow only the app hosts' prefix in from", p, name)
			}
		}
		switch {
		case s.Public && len(s.From) > 0:
			ps.Errorf(path+".from", ErrNoSource, "service %s is public and also lists from: drop one (public already allows everyone)", s.Name)
		case !s.Public && len(s.From) == 0:
			ps.Errorf(path+".from", ErrNoSource, "service %s has no source: list the prefixes allowed to reach it, or set public", s.Name)
		}
		internal := ""
		for _, p := range s.Ports {
			if n := Internal(p); n != "" {
				internal = fmt.Sprintf("%s (port %d)", n, p)
				break
			}
		}
		c.checkPrefixes(&ps, path+".from", s.From, internal)
	}
	if c.SSH.Off {
		if c.SSH.Any || len(c.SSH.From) > 0 {
			ps.Errorf("ssh.off", ErrNoAdmin, "ssh is off but also lists from or any: drop one")
		}
	} else {
		switch {
		case c.SSH.Any && len(c.SSH.From) > 0:
			ps.Errorf("ssh.from", ErrNoAdmin, "ssh allows any and also lists from: drop one")
		case !c.SSH.Any && len(c.SSH.From) == 0:
			ps.Errorf("ssh.from", ErrNoAdmin, "no admin prefix for SSH: give the prefix you log in from (e.g. --ssh-from 2001:db8:a::/48), or any to open SSH to everyone, or off")
		}
		claim("ssh.port", TCP, c.SSH.port())
		if n := Internal(c.SSH.port()); n != "" {
			ps.Errorf("ssh.port", ErrPort, "ssh port %d is %s's default port: pick another", c.SSH.port(), n)
		}
		c.checkPrefixes(&ps, "ssh.from", c.SSH.From, "")
		for i, p := range c.SSH.From {
			if p.IsValid() && p.Bits() == 0 {
				ps.Warnf(fmt.Sprintf("ssh.from[%d]", i), ErrNoAdmin, "%s lets everyone try to log in: if that is meant, say any; else give the admin prefix", p)
			}
		}
	}
	if c.Router != nil {
		ps.Append("router", c.Router.validate(c))
	}
	return ps
}

// checkPrefixes validates source prefixes; internal names the internal service the
// prefixes open, if any, which must not be reached from the world.
func (c Config) checkPrefixes(ps *report.Problems, path string, from []netip.Prefix, internal string) {
	seen := map[netip.Prefix]bool{}
	for i, p := range from {
		pp := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !p.IsValid():
			ps.Errorf(pp, ErrPrefix, "invalid prefix: give one like 2001:db8:1::/64")
			continue
		case p.Addr().Zone() != "":
			ps.Errorf(pp, ErrPrefix, "prefix %s has a zone: drop it", p)
			continue
		case p.Addr().Is4In6():
			ps.Errorf(pp, ErrPrefix, "prefix %s is IPv4-mapped: write the IPv4 prefix %s on a dual-stack host", p, unmap(p))
			continue
		case p != p.Masked():
			ps.Errorf(pp, ErrPrefix, "prefix %s has host bits set: write %s", p, p.Masked())
			continue
		case seen[p]:
			ps.Errorf(pp, ErrPrefix, "prefix %s is listed twice", p)
			continue
		}
		seen[p] = true
		if p.Addr().Is4() && c.Family == IPv6Only {
			ps.Errorf(pp, ErrFamily, "IPv4 prefix %s on an IPv6-only host: drop it, or set family dual", p)
		}
		if internal != "" && tooWide(p) {
			ps.Errorf(pp, ErrOpenToWorld, "%s opens %s to the world: allow only the app hosts' prefix (a ULA such as fd12:3456:789a::/48, or your own /48 or longer)", p, internal)
		}
	}
}

func unmap(p netip.Prefix) netip.Prefix {
	b := p.Bits() - 96
	if b < 0 {
		b = 0
	}
	return netip.PrefixFrom(p.Addr().Unmap(), b).Masked()
}

// tooWide reports whether p reaches beyond one site: the default routes, and global
// prefixes shorter than /48 (IPv6) or /24 (IPv4). ULA, link-local, private and loopback
// prefixes are never too wide.
func tooWide(p netip.Prefix) bool {
	a := p.Addr()
	if p.Bits() == 0 {
		return true
	}
	if pb := privateBits(a); pb > 0 {
		// fc00::/6 starts inside fc00::/7 but reaches beyond it
		return p.Bits() < pb
	}
	if a.Is4() {
		return p.Bits() < 24
	}
	return p.Bits() < 48
}

// privateBits is the length of the private or local block a lies in.
func privateBits(a netip.Addr) int {
	for _, b := range []string{"fc00::/7", "fe80::/10", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16"} {
		bp := netip.MustParsePrefix(b)
		if bp.Contains(a) {
			return bp.Bits()
		}
	}
	return 0
}

func identifier(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '_'):
		default:
			return false
		}
	}
	return true
}

func serviceName(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Bytes validates the config and returns the nftables ruleset.
func (c Config) Bytes() ([]byte, error) {
	if err := c.Validate().Err(); err != nil {
		return nil, err
	}
	return c.nft(), nil
}

// Write validates the config and writes the nftables ruleset to w; nothing is written
// when the config is invalid.
func (c Config) Write(w io.Writer) error {
	b, err := c.Bytes()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteFile validates the config and replaces name with the ruleset atomically under
// the file's lock (a second run waits, then replaces it in turn), by the rules of
// package files: a new file gets mode 0644 (parent directories created), an existing
// one keeps its owner, group and mode; leftovers of an interrupted run are removed and
// said in Result.Notes. Nothing is written when the config is invalid.
func (c Config) WriteFile(name string) (files.Result, error) {
	return c.WriteFileOpts(name, WriteOptions{})
}

// WriteOptions controls how [Config.WriteFileOpts] and [ACL.WriteFileOpts] wait for
// another run writing the same file. The zero value waits, bounded.
type WriteOptions struct {
	// NoWait fails at once, naming the holder's PID, when another run holds the file's
	// lock (--no-wait).
	NoWait bool
	// Waiting, if set, is told once that another run (pid, 0 if unknown) holds lock,
	// before waiting for it.
	Waiting func(lock string, pid int)
}

// WriteFileOpts is [Config.WriteFile] with the lock's wait chosen by o.
func (c Config) WriteFileOpts(name string, o WriteOptions) (files.Result, error) {
	b, err := c.Bytes()
	if err != nil {
		return files.Result{}, err
	}
	return writeFile(name, b, o)
}

func writeFile(name string, b []byte, o WriteOptions) (files.Result, error) {
	res, err := fsutil.Replace(context.Background(), name, b, fsutil.Options{Mode: 0o644, KeepMode: true, MkdirAll: true,
		Lock: fsutil.LockOptions{NoWait: o.NoWait, Waiting: o.Waiting}})
	if err != nil {
		return res, fmt.Errorf("firewall: write %s: %w", name, err)
	}
	return res, nil
}
