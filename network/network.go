// Package network probes a Mastodon site's IPv6 readiness and returns a [Report]: a
// ladder of checks (host → DNS → TCP → TLS → HTTP → websocket → local services →
// outbound NAT64 → path MTU), each with a [State], measured values, its duration and a
// hint that says what to do, plus [Diagnosis] entries that turn symptoms into causes.
//
// It exists because the usual checkers test a site from outside with a bare TCP connect,
// or test a visitor's browser. A Mastodon host needs more: TLS and a websocket over IPv6,
// the federation endpoints, Redis and PostgreSQL on ::1, and above all outbound reach to
// IPv4-only peers through NAT64/DNS64, where Mastodon's own SSRF guard blocks the
// well-known NAT64 prefix unless ALLOWED_PRIVATE_ADDRESSES says otherwise.
//
// [Plan] is pure: it lists the checks [Options] call for, without touching the network.
// [Probe] runs that plan concurrently, every check bounded by the context's deadline, and
// dials each address with an explicit family (never trusting a Happy-Eyeballs winner).
package network

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/v6kit/v6kit/mastodon"
)

// Family is the address family a site is meant to serve.
type Family int

const (
	// V6Only is an IPv6-only site: AAAA records and deliberately no A record.
	V6Only Family = iota
	// DualStack serves IPv6 and IPv4 alike; both must give the same answers.
	DualStack
)

// String returns "v6only" or "dual".
func (f Family) String() string {
	switch f {
	case V6Only:
		return "v6only"
	case DualStack:
		return "dual"
	}
	return fmt.Sprintf("family(%d)", int(f))
}

// ParseFamily parses "v6only" or "dual" (also "ipv6-only", "dual-stack").
func ParseFamily(s string) (Family, error) {
	switch s {
	case "v6only", "ipv6-only", "v6":
		return V6Only, nil
	case "dual", "dual-stack", "dualstack":
		return DualStack, nil
	}
	return 0, fmt.Errorf("%w (got %q)", ErrFamily, s)
}

// MarshalText writes the family's name.
func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads a family's name.
func (f *Family) UnmarshalText(b []byte) error {
	v, err := ParseFamily(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// State is the outcome of one check. NotChecked (the probe could not look, e.g. missing
// privileges) differs from Skipped (a prerequisite failed) and from Fail.
type State int

const (
	// OK means the check passed.
	OK State = iota
	// Warn means it passed with advice, or an optional part failed.
	Warn
	// Fail means it failed; when the check is required the report fails.
	Fail
	// NotChecked means the probe could not run it (privileges, nothing to look at).
	NotChecked
	// Skipped means a prerequisite check did not pass.
	Skipped
)

// String returns "ok", "warn", "fail", "not checked" or "skipped".
func (s State) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	case NotChecked:
		return "not checked"
	case Skipped:
		return "skipped"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for st := OK; st <= Skipped; st++ {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("network: unknown state %q", b)
}

// Group is a layer of the ladder.
type Group string

// The groups, in ladder order.
const (
	GroupHost     Group = "host"
	GroupDNS      Group = "dns"
	GroupInbound  Group = "inbound"
	GroupLocal    Group = "local"
	GroupOutbound Group = "outbound"
	GroupMTU      Group = "mtu"
)

// Groups lists the groups in ladder order.
func Groups() []Group {
	return []Group{GroupHost, GroupDNS, GroupInbound, GroupLocal, GroupOutbound, GroupMTU}
}

// Dialer opens connections; *net.Dialer implements it. Tests and the namespace harness
// substitute their own.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// PacketListener opens packet sockets; *net.ListenConfig implements it.
type PacketListener interface {
	ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
}

// Options says what to probe. The zero value of every field but Domain has a default,
// named in its doc.
type Options struct {
	// Domain is LOCAL_DOMAIN, the name in user handles. Required.
	Domain string `json:"domain"`
	// WebDomain is WEB_DOMAIN, the name that serves the site. Empty: Domain.
	WebDomain string `json:"web_domain,omitempty"`
	// Family is what the site is meant to serve. Zero: V6Only.
	Family Family `json:"family"`
	// Release is the Mastodon version whose rules apply (private address list,
	// /etc/hosts). Zero: mastodon.Newest().
	Release mastodon.Release `json:"-"`
	// Local runs the checks that only make sense on the Mastodon host itself: the host's
	// addresses, routes and resolv.conf, the AAAA matching the host, and the local
	// services (puma, streaming, Redis, PostgreSQL).
	Local bool `json:"local,omitempty"`
	// Outbound runs the outbound checks: NAT64 prefix discovery (RFC 7050), reach to an
	// IPv4-only destination, and Mastodon's private address list.
	Outbound bool `json:"outbound,omitempty"`
	// Firewall runs the inbound checks of the host's packet filter (network/firewall.go):
	// the internal services' ports closed to the probe, and Packet Too Big acted on.
	// They are left out on the host itself (Local), where loopback bypasses the filter.
	Firewall bool `json:"firewall,omitempty"`
	// Resolver is the DNS server the DNS checks ask. Zero: the first nameserver of
	// ResolvConf (the resolver Mastodon itself uses).
	Resolver netip.AddrPort `json:"resolver,omitzero"`
	// ResolvConf is the resolv.conf to read. Empty: /etc/resolv.conf.
	ResolvConf string `json:"resolv_conf,omitempty"`
	// RootCAs verifies the site's certificate chain. Nil: the system roots.
	RootCAs *x509.CertPool `json:"-"`
	// HTTPPort and HTTPSPort are the site's ports. Zero: 80 and 443.
	HTTPPort  uint16 `json:"http_port,omitempty"`
	HTTPSPort uint16 `json:"https_port,omitempty"`
	// WebBind and StreamingBind are where the puma and streaming units listen (BIND and
	// PORT in their units). An unspecified address (::, 0.0.0.0) is probed on its
	// loopback. Zero: the family's loopback ([mastodon.Release.LoopbackBind]), where
	// v6-unitgen and the bundles bind them: [::1]:3000 and [::1]:4000 on an IPv6-only
	// site, 127.0.0.1:3000 and 127.0.0.1:4000 on a dual-stack one.
	WebBind       netip.AddrPort `json:"web_bind,omitzero"`
	StreamingBind netip.AddrPort `json:"streaming_bind,omitzero"`
	// RedisAddrs are the addresses the local checks PING Redis on, each required. Empty:
	// ::1, and 127.0.0.1 (required on a dual-stack site only).
	RedisAddrs []netip.Addr `json:"redis_addrs,omitempty"`
	// RedisPort is Redis's port on RedisAddrs. Zero: 6379.
	RedisPort uint16 `json:"redis_port,omitempty"`
	// RedisPassword is REDIS_PASSWORD. Empty: none.
	RedisPassword string `json:"-"`
	// PostgresAddrs are the addresses the local checks log into PostgreSQL on, each
	// required. Empty: ::1, and 127.0.0.1 (required on a dual-stack site only).
	PostgresAddrs []netip.Addr `json:"postgres_addrs,omitempty"`
	// PostgresPort is PostgreSQL's port on PostgresAddrs. Zero: 5432.
	PostgresPort uint16 `json:"postgres_port,omitempty"`
	// PostgresUser, PostgresPassword and PostgresDatabase are DB_USER, DB_PASS and
	// DB_NAME. Empty: "mastodon", none, "mastodon_production".
	PostgresUser     string `json:"postgres_user,omitempty"`
	PostgresPassword string `json:"-"`
	PostgresDatabase string `json:"postgres_database,omitempty"`
	// StreamingToken is an access token with the read scope (Preferences → Development →
	// New application) for inbound.websocket: sent as "Authorization: Bearer", the way
	// every Mastodon release accepts it, it lets the check subscribe over the open socket
	// and prove the websocket end to end; a 401 with it is a failure. It is never
	// reported: the report and its JSON say only "auth": "bearer token". Read it with
	// [ReadStreamingToken]. Empty: the check only upgrades, and the 401 that Mastodon
	// 4.2+ gives every upgrade without a token is a warning.
	StreamingToken string `json:"-"`
	// AllowedPrivateAddresses is the instance's ALLOWED_PRIVATE_ADDRESSES.
	AllowedPrivateAddresses []netip.Prefix `json:"allowed_private_addresses,omitempty"`
	// Proxy is the instance's http_proxy ("http://[2001:db8::3]:3128"): with it the
	// outbound checks go through the proxy instead of NAT64. Empty: no proxy.
	Proxy string `json:"proxy,omitempty"`
	// SSRFTarget is the private IPv4 destination outbound.ssrf asks for through the
	// outbound path; it must be refused. Zero: 127.0.0.1:80 (give a LAN address that
	// answers to make the NAT64 proof conclusive).
	SSRFTarget netip.AddrPort `json:"ssrf_target,omitzero"`
	// OutboundURL is an IPv4-only destination fetched through NAT64. Empty:
	// https://github.com/ (no AAAA record, and Mastodon installs need it).
	OutboundURL string `json:"outbound_url,omitempty"`
	// MTUPath is fetched over TLS to move more than one 1280-byte packet from the site.
	// Empty: "/" (Mastodon's landing page, tens of kilobytes).
	MTUPath string `json:"mtu_path,omitempty"`
	// CheckTimeout bounds each check (the context's deadline bounds them all).
	// Zero: 5s.
	CheckTimeout time.Duration `json:"check_timeout,omitempty"`
	// Dialer opens every connection (DNS, HTTP, Redis, PostgreSQL). Nil: a net.Dialer.
	Dialer Dialer `json:"-"`
	// PacketListener opens the raw ICMPv6 socket of mtu.icmp ("ip6:ipv6-icmp", needs
	// CAP_NET_RAW). Nil: a net.ListenConfig.
	PacketListener PacketListener `json:"-"`
	// Now is the clock (certificate expiry, timings). Nil: time.Now.
	Now func() time.Time `json:"-"`
	// Logger receives a debug line per check. Nil: discard.
	Logger *slog.Logger `json:"-"`
}

// Check is one rung of the ladder.
type Check struct {
	// ID names the check, with the probed address after "@" for per-address checks:
	// "dns.aaaa.local", "inbound.tls@2001:db8::1".
	ID string `json:"id"`
	// Group is the layer.
	Group Group `json:"group"`
	// Title says what was checked, for people.
	Title string `json:"title"`
	// Addr is the address probed, for per-address checks.
	Addr netip.Addr `json:"addr,omitzero"`
	// Required checks must pass (OK or Warn) for the report to pass.
	Required bool `json:"required"`
	// State is the outcome.
	State State `json:"state"`
	// Detail says what was observed.
	Detail string `json:"detail,omitempty"`
	// Hint says what to do about a warning or failure.
	Hint string `json:"hint,omitempty"`
	// Values are measurements, by name ("days_left", "tls_version", "prefix").
	Values map[string]string `json:"values,omitempty"`
	// Started and Duration time the check.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
}

// Passed reports whether the check is OK or Warn.
func (c Check) Passed() bool { return c.State == OK || c.State == Warn }

// Diagnosis is a cause inferred from several checks, as an admin would reason.
type Diagnosis struct {
	// Cause names the problem: "web service (puma) down".
	Cause string `json:"cause"`
	// Evidence lists the IDs of the checks it rests on.
	Evidence []string `json:"evidence"`
	// Hint says what to do.
	Hint string `json:"hint"`
}

// Report is the result of [Probe].
type Report struct {
	Domain    string `json:"domain"`
	WebDomain string `json:"web_domain"`
	Family    Family `json:"family"`
	// Release is the exact Mastodon release whose rules the probe applied
	// (Options.Release, or mastodon.Newest when that was zero): never zero.
	Release mastodon.Release `json:"mastodon"`
	Started time.Time        `json:"started"`
	// Duration is the wall time of the whole probe.
	Duration time.Duration `json:"duration_ns"`
	// Checks is the ladder, in plan order.
	Checks []Check `json:"checks"`
	// Diagnoses are the causes inferred from the checks.
	Diagnoses []Diagnosis `json:"diagnoses,omitempty"`
}

// OK reports whether every required check passed.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if c.Required && !c.Passed() {
			return false
		}
	}
	return true
}

// Find returns the check with the given ID ("inbound.tls@2001:db8::1").
func (r *Report) Find(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Failed returns the required checks that did not pass, in ladder order.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Required && !c.Passed() {
			out = append(out, c)
		}
	}
	return out
}

// Slowest returns the check that took longest.
func (r *Report) Slowest() Check {
	var s Check
	for _, c := range r.Checks {
		if c.Duration > s.Duration {
			s = c
		}
	}
	return s
}
