package envfile

import "errors"

// Sentinels, one per rule. Problems wrap them, so errors.Is(err, envfile.ErrX) works on
// anything Parse, Validate, Merge or Write returns.
var (
	// ErrSyntax: a line neither reader parses as KEY=VALUE, comment or blank.
	ErrSyntax = errors.New("line is not KEY=VALUE, a # comment or blank: fix or remove it")
	// ErrBadKey: a key with characters other than letters, digits and underscores.
	ErrBadKey = errors.New("key must be letters, digits and underscores, not starting with a digit")
	// ErrUnterminatedQuote: a quoted value without its closing quote on the same line.
	// Rails and streaming read multi-line double-quoted values alike only from Mastodon 3.5
	// (Ruby dotenv 2.7.6+, Node dotenv 16+), and v6kit writes one line per value.
	ErrUnterminatedQuote = errors.New("quoted value is not closed on the same line: before Mastodon 3.5 Rails and streaming read a value spanning lines differently, and v6kit keeps each value on one line")
	// ErrTrailingText: text after a closing quote that is not a # comment.
	ErrTrailingText = errors.New("text after the closing quote: put a space and # before a comment")
	// ErrEncoding: bytes that are not UTF-8, a byte-order mark or a lone carriage return.
	ErrEncoding = errors.New("file must be UTF-8 text without byte-order mark, with LF or CRLF line ends")
	// ErrDuplicateKey: a key set twice (the last one wins in both readers).
	ErrDuplicateKey = errors.New("key is set more than once: the last one wins, delete the others")
	// ErrReadersDisagree: Rails (Ruby dotenv) and streaming (Node dotenv) read different values.
	ErrReadersDisagree = errors.New("Rails and the streaming server read this value differently")
	// ErrRailsFails: a line on which the target release's Ruby dotenv raises, so Rails does not boot.
	ErrRailsFails = errors.New("Ruby's dotenv stops on this line with Dotenv::FormatError: Rails does not boot")
	// ErrCommandSubstitution: $(…) that Ruby dotenv executes when Rails boots.
	ErrCommandSubstitution = errors.New("$(…) in an unquoted or double-quoted value runs a shell command every time Rails boots")
	// ErrUnwritable: a value no quoting form carries alike to both readers.
	ErrUnwritable = errors.New("value cannot be written so that Rails and streaming read it alike")
	// ErrControlChar: a newline, NUL or other control character in a value.
	ErrControlChar = errors.New("value contains a newline, NUL or other control character")
	// ErrSMTP: an SMTP_SERVER that is no host name or IP address, or an SMTP_FROM_ADDRESS
	// that is no e-mail address: Mastodon could send no mail.
	ErrSMTP = errors.New("SMTP setting unusable: give the relay as a host name or IP address and the from address as an e-mail address")
	// ErrDomain: LOCAL_DOMAIN, WEB_DOMAIN or an alternate domain that is not a valid DNS name.
	ErrDomain = errors.New("not a valid domain name: use letters, digits, hyphens and dots, at most 253 characters")
	// ErrPort: a port outside 1–65535.
	ErrPort = errors.New("port must be a number from 1 to 65535")
	// ErrBool: a switch that is neither true nor false.
	ErrBool = errors.New("value must be true or false")
	// ErrPrefix: an address list entry that is not an IP address or CIDR prefix.
	ErrPrefix = errors.New("value must be IP addresses or CIDR prefixes separated by commas")
	// ErrMissing: a variable the target release needs is not set.
	ErrMissing = errors.New("required variable is not set")
	// ErrSecretFormat: a secret that is not in the format Mastodon generates.
	ErrSecretFormat = errors.New("secret is not in the format Mastodon generates")
	// ErrVAPIDMismatch: the VAPID public key is not the private key's public key.
	ErrVAPIDMismatch = errors.New("VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY")
	// ErrRemoved: a variable the target release no longer reads.
	ErrRemoved = errors.New("variable is not read by this Mastodon release")
	// ErrDBHostYAML: DB_HOST starting with ':' or in brackets (Rails reads it through YAML).
	ErrDBHostYAML = errors.New("DB_HOST is pasted into config/database.yml: a value starting with ':' becomes a Ruby symbol and [brackets] are a YAML syntax error")
	// ErrRedisPasswordURL: a REDIS_PASSWORD that Rails before 4.3 pastes unescaped into a URL.
	ErrRedisPasswordURL = errors.New("before Mastodon 4.3 REDIS_PASSWORD is pasted unescaped into a redis:// URL: use a password without : / ? # [ ] @ %")
	// ErrDBPassYAML: a DB_PASS that Rails before 3.5 reads differently (pasted raw into YAML).
	ErrDBPassYAML = errors.New("before Mastodon 3.5 DB_PASS is pasted unquoted into config/database.yml: use a password of letters, digits and _ + / . = - : @ ~")
	// ErrYAMLValue: a value Rails pastes unquoted into one of its YAML files (DB_HOST,
	// DB_NAME, DB_USER, DB_SSLMODE, DB_PORT, REPLICA_DB_*, SMTP_* from 4.4, …) that YAML
	// reads as another value or type, or as syntax.
	ErrYAMLValue = errors.New("Rails pastes this value unquoted into YAML: use one YAML reads back as the same text, number or boolean")
	// ErrDatabaseURLBrackets: a bracketed IPv6 literal in DATABASE_URL on 4.2+.
	ErrDatabaseURLBrackets = errors.New("streaming (4.2+) cannot connect to a bracketed IPv6 literal in DATABASE_URL")
	// ErrSSLModePrefer: DB_SSLMODE=prefer on 4.2+.
	ErrSSLModePrefer = errors.New("DB_SSLMODE=prefer makes the streaming server (4.2+) demand TLS")
	// ErrRedisIPv6: an IPv6 Redis address in a form Rails or streaming cannot use.
	ErrRedisIPv6 = errors.New("Redis address in a form Rails or streaming cannot connect to")
	// ErrNAT64: an IPv6-only site behind NAT64 whose ALLOWED_PRIVATE_ADDRESSES lacks the prefix.
	ErrNAT64 = errors.New("ALLOWED_PRIVATE_ADDRESSES lacks the NAT64 prefix: IPv4-only peers are refused as private")
	// ErrBind: BIND with an IPv6 address in .env.production before 4.3.
	ErrBind = errors.New("before Mastodon 4.3 one BIND cannot serve puma and streaming with IPv6: set BIND per systemd unit")
	// ErrBindBrackets: a bare IPv6 BIND in .env.production from 4.3 (puma needs brackets).
	ErrBindBrackets = errors.New("puma reads BIND as part of a URI: write an IPv6 BIND in [brackets]")
	// ErrRotate: a rotation request for a key that is not a secret of this release.
	ErrRotate = errors.New("only the secrets this Mastodon release generates can be rotated")
	// ErrRotateNeedsConfirmation: a destructive rotation without the second confirmation.
	ErrRotateNeedsConfirmation = errors.New("rotating this secret destroys data: confirm it explicitly")
	// ErrUnparsable: refusing to overwrite an existing file that does not parse.
	ErrUnparsable = errors.New("the existing file does not parse: fix it by hand, v6kit never overwrites a file it cannot read")
	// ErrValue: a value of the wrong type or form for its key.
	ErrValue = errors.New("value has the wrong form for this key")
)
