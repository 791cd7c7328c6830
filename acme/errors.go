package acme

import "errors"

// Sentinel errors, one per rule. Each says how to fix the problem; wrap them with
// the offending value.
var (
	// ErrNoNames is returned when a request names no domain.
	ErrNoNames = errors.New("no domain names: give at least one with -d NAME")
	// ErrInvalidName is returned for a name that is not a valid DNS name or IP address.
	ErrInvalidName = errors.New("invalid domain name: use letters, digits and hyphens in dot-separated labels of at most 63 characters (IDN names are converted to punycode)")
	// ErrWildcardChallenge is returned for a wildcard name with a challenge other than DNS-01.
	ErrWildcardChallenge = errors.New("wildcard names can only be validated with dns-01: use --challenge dns-01 with a DNS provider")
	// ErrIPChallenge is returned for an IP address with DNS-01.
	ErrIPChallenge = errors.New("IP address certificates can only be validated with http-01 or tls-alpn-01")
	// ErrChallenge is returned for an unknown challenge type.
	ErrChallenge = errors.New("unknown challenge type: use http-01, tls-alpn-01 or dns-01")
	// ErrWebroot is returned when the webroot directory does not exist or is not a directory.
	ErrWebroot = errors.New("webroot is not an existing directory: create it and serve /.well-known/acme-challenge/ from it on port 80")
	// ErrListen is returned for a listen address that cannot be used.
	ErrListen = errors.New("invalid listen address: use [ADDR]:PORT, e.g. [::]:80")
	// ErrPortBusy is returned when the built-in challenge server cannot bind its port.
	ErrPortBusy = errors.New("challenge port is already taken: stop the server holding it or use --webroot")
	// ErrDNSProvider is returned for an unknown DNS provider.
	ErrDNSProvider = errors.New("unknown DNS provider: use cloudflare, dnsupdate (rfc2136) or pebble-challtestsrv")
	// ErrDNSCredentials is returned when a DNS provider lacks its credentials.
	ErrDNSCredentials = errors.New("missing DNS provider credentials")
	// ErrKeyType is returned for an unknown key type.
	ErrKeyType = errors.New("unknown key type: use ec256, ec384, rsa2048, rsa3072 or rsa4096")
	// ErrProfile is returned for a profile the CA does not advertise.
	ErrProfile = errors.New("the CA does not offer this profile: pick one it advertises (v6-certs list-profiles) or leave it empty for the CA's default")
	// ErrServerURL is returned for a directory URL that is not https.
	ErrServerURL = errors.New("ACME directory URL must be an absolute https:// URL")
	// ErrEAB is returned for an incomplete External Account Binding.
	ErrEAB = errors.New("external account binding needs both the key ID and the base64url HMAC key")
	// ErrEmail is returned for an invalid contact e-mail address.
	ErrEmail = errors.New("invalid e-mail address: give a plain address like admin@example.org, or none")
	// ErrLineageName is returned for an unusable lineage (directory) name.
	ErrLineageName = errors.New("invalid certificate name: use a name like certbot's, e.g. social.example or social.example-0001 (letters, digits and . - _ :, starting with a letter or digit)")
	// ErrCorrupt is returned for a lineage whose files cannot be read or parsed. It is
	// never overwritten: move it away or repair it by hand.
	ErrCorrupt = errors.New("certificate lineage is damaged and was left untouched: inspect it, then move it away or re-import it")
	// ErrExists is returned when obtaining a lineage that already exists with other names.
	ErrExists = errors.New("a certificate with this name already exists for other domains: renew it, or give another --cert-name")
	// ErrNotFound is returned when a lineage does not exist.
	ErrNotFound = errors.New("no such certificate lineage")
	// ErrLocked is returned when another v6-certs run holds the lock on the directory.
	ErrLocked = errors.New("another v6-certs run holds the lock on this directory: it does the work; try again later")
	// ErrCheckFailed is returned when the deploy check (nginx -t) fails: nothing is
	// reloaded, and the deploy-pending markers stay for the next run.
	ErrCheckFailed = errors.New("the server configuration check failed, so the server was not reloaded: fix the configuration; the next run deploys again (or reload by hand)")
	// ErrReload is returned when the reload after a successful check fails; the
	// deploy-pending markers stay for the next run.
	ErrReload = errors.New("reloading the server failed: the new certificates are installed but not yet served; the next run deploys again")
	// ErrCertbotConf is returned for a certbot renewal configuration we cannot use.
	ErrCertbotConf = errors.New("cannot use this certbot renewal configuration")
	// ErrValidation is returned when the CA could not validate a challenge.
	ErrValidation = errors.New("the CA could not validate the challenge: check that the name resolves (AAAA first) to this host and the challenge is served")
	// ErrNotRegular is returned for a store file that is a symlink where none belongs,
	// a FIFO, a directory or another non-regular file: it is reported and never read,
	// followed or replaced.
	ErrNotRegular = errors.New("not a regular file: move it away (v6-certs never follows, reads or replaces it)")
	// ErrPermission is returned when a store file cannot be read for lack of
	// permission: the lineage is not damaged, this user may not read it.
	ErrPermission = errors.New("permission denied: run v6-certs as root (or the user owning the directory)")
	// ErrNoStore is returned by renew and list when the directory does not exist: they
	// never create it (a mistyped --dir would otherwise renew nothing, silently).
	ErrNoStore = errors.New("no such certificate directory: check --dir (obtain creates it)")
	// ErrEmptyStore is returned by renew and list for a directory that holds no
	// v6-certs lineage and no v6-certs account: most likely the wrong --dir.
	ErrEmptyStore = errors.New("the directory holds no v6-certs certificate and no account: check --dir, run v6-certs obtain first, or adopt certbot's lineages with v6-certs import")
	// ErrLockFile is returned when the lock file is a symlink, not a regular file, or
	// not owned by this user: it is never followed.
	ErrLockFile = errors.New("unsafe lock file: remove it (v6-certs recreates it as a regular file)")
	// ErrConcurrency is returned for a negative concurrency.
	ErrConcurrency = errors.New("concurrency must be zero (default) or positive")
)
