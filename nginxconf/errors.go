package nginxconf

import "errors"

// Sentinels, one per rule. Every [report.Problem] of [Site.Validate] wraps one of them.
var (
	// ErrDomain: a server name that is empty, not a valid IDNA host name, or holds a
	// character nginx would read as syntax.
	ErrDomain = errors.New("domain must be a valid DNS name (letters, digits, hyphens, dots; unicode only if IDNA-valid)")
	// ErrSameDomain: WEB_DOMAIN equal to LOCAL_DOMAIN, or a name listed twice.
	ErrSameDomain = errors.New("each server name may appear once: leave web_domain empty when it equals the local domain")
	// ErrPath: a path that is not absolute and clean, or holds whitespace, quotes, `;`,
	// `{`, `}`, `$`, `#`, a backslash or a control character.
	ErrPath = errors.New("path must be absolute and clean, without spaces, quotes or any of ; { } $ # \\")
	// ErrNginxVersion: an nginx version that is malformed or outside 1.22 … the newest known.
	ErrNginxVersion = errors.New("nginx version must be 1.22 or later, up to the newest v6kit knows")
	// ErrMastodonVersion: a Mastodon version v6kit does not know.
	ErrMastodonVersion = errors.New("mastodon version must be one of the supported lines (1.6 … 4.7)")
	// ErrFamily: an unknown address family, or listen addresses that contradict it.
	ErrFamily = errors.New("family must be v6only, dual or explicit (explicit needs http_listen and https_listen)")
	// ErrListen: a listen address that nginx can't bind as written (zone, mapped IPv4,
	// port 0).
	ErrListen = errors.New("listen address must be an IP literal without zone and a port 1-65535")
	// ErrPortCollision: two listeners, or a listener and an upstream, on the same port.
	ErrPortCollision = errors.New("ports collide: give HTTP, HTTPS, puma and each streaming instance its own port")
	// ErrUpstream: an upstream with both an address and a socket, a bad port, or several
	// streaming instances on one socket.
	ErrUpstream = errors.New("upstream must be an IP address and port, or a unix socket path")
	// ErrPrint: the directive tree holds something the printer can't write safely.
	ErrPrint = errors.New("nginxconf: cannot print directive")
	// ErrParse: nginx configuration text that doesn't tokenize.
	ErrParse = errors.New("nginxconf: cannot parse")
	// ErrCheck: `nginx -t` rejected the site, or warned about it.
	ErrCheck = errors.New("nginx -t rejected the site")
	// ErrCertMissing: --check with a certificate or key path that doesn't exist.
	ErrCertMissing = errors.New("certificate or key file missing: obtain the certificate first (v6-certs) or pass --cert and --key")
)
