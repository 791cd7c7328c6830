package firewall

import "errors"

// Sentinels, one per rule. Every [report.Problem] of [Config.Validate] and
// [ACL.Validate] wraps one of them.
var (
	// ErrFamily: an unknown address family, or a prefix of the other family in an
	// IPv6-only config.
	ErrFamily = errors.New("family must be v6only or dual; an IPv6-only host takes IPv6 prefixes only")
	// ErrName: a service name that is empty or not lowercase letters, digits and hyphens.
	ErrName = errors.New("service name must be 1-32 lowercase letters, digits or hyphens")
	// ErrPort: a port list that is empty, holds 0, or names a port twice.
	ErrPort = errors.New("ports must be 1-65535, each once per protocol across all services")
	// ErrProto: a protocol other than tcp and udp.
	ErrProto = errors.New("protocol must be tcp or udp")
	// ErrPrefix: a source prefix that is invalid, has host bits set, is IPv4-mapped or has
	// a zone.
	ErrPrefix = errors.New("source must be a prefix in canonical form (address with its host bits zero, e.g. 2001:db8:1::/48)")
	// ErrNoSource: a service that names neither sources nor public.
	ErrNoSource = errors.New("a service needs the prefixes allowed to reach it, or public for everyone")
	// ErrOpenToWorld: an internal service (PostgreSQL, PgBouncer, Redis, Sentinel) made
	// public or allowed from a prefix wider than one site.
	ErrOpenToWorld = errors.New("internal services (PostgreSQL, PgBouncer, Redis, Sentinel) must be reachable only from the app hosts' prefix: a ULA or private prefix, or a global prefix of /48 or longer (/24 for IPv4)")
	// ErrNoAdmin: SSH with no admin prefix and no explicit any.
	ErrNoAdmin = errors.New("ssh needs the admin prefix allowed to log in (or an explicit any, which opens SSH to everyone)")
	// ErrTable: an nftables table name that nft would not take as an identifier.
	ErrTable = errors.New("table name must be 1-32 letters, digits or underscores, starting with a letter")
	// ErrHost: a router ACL without the host's global IPv6 address.
	ErrHost = errors.New("the router ACL needs the host's IPv6 address (no zone, not IPv4-mapped)")
	// ErrRange: a filter number range that is empty, out of 1-2147483647, too small for the
	// rules, or overlapping the router's existing filters.
	ErrRange = errors.New("filter numbers must be a range inside 1-2147483647 that holds every rule and overlaps no existing filter")
	// ErrInterface: a router interface name that is not like lan2 or pp1, or a tunnel
	// number out of range.
	ErrInterface = errors.New("interface must be a name like lan2, pp1 or bridge1, or a tunnel number 1-3000")
	// ErrSyntax: a line of router configuration the parser does not know.
	ErrSyntax = errors.New("firewall: not an RTX filter line v6kit writes")
)
