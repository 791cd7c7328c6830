package network

import "errors"

// Sentinels for bad options. Each names the fix.
var (
	// ErrDomain: --domain must be a valid DNS name such as example.org.
	ErrDomain = errors.New("domain must be a valid DNS name such as social.example.org (no scheme, port or path)")
	// ErrFamily: the family must be v6only or dual.
	ErrFamily = errors.New("family must be v6only or dual")
	// ErrResolver: the resolver must be an IP address, optionally with a port.
	ErrResolver = errors.New("resolver must be an IP address such as 2001:db8::53 or [2001:db8::53]:53")
	// ErrTimeout: the probe needs a deadline greater than zero.
	ErrTimeout = errors.New("timeout must be greater than zero, e.g. 10s")
	// ErrPort: a port must be between 1 and 65535.
	ErrPort = errors.New("port must be between 1 and 65535")
	// ErrURL: the outbound target must be an absolute http or https URL.
	ErrURL = errors.New("outbound target must be an absolute http:// or https:// URL")
	// ErrBind: a bind address must be an IP address and port.
	ErrBind = errors.New("bind must be an address and port such as [::]:3000")
	// ErrToken: the streaming access token is one word of token characters.
	ErrToken = errors.New("streaming access token must be one line of letters, digits and -._~+/ (as Mastodon issues them)")
	// ErrTokenFile: the token file must be a regular file only its owner can read.
	ErrTokenFile = errors.New("streaming token file must be a regular file readable by its owner only (chmod 600)")
	// ErrValue: a value contains control characters.
	ErrValue = errors.New("value must not contain control characters, spaces or quotes")
)
