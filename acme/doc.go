// Package acme obtains and renews TLS certificates with ACME (Let's Encrypt by
// default) for servers that are reached over IPv6 first, and keeps them in certbot's
// directory layout so existing nginx configurations keep working.
//
// It exists because the usual tools fall short on an IPv6-first Mastodon host: certbot
// and the lego CLI sleep seconds per certificate, certbot swaps live links non-atomically,
// and neither follows ARI (RFC 9773) windows with cached Retry-After for hundreds of
// lineages cheaply. This package drives lego v5's ACME protocol layer itself:
//
//   - [Client.Obtain] issues certificates for one or more [Request]s concurrently with
//     one shared challenge responder: HTTP-01 into a webroot or on a built-in server
//     ([::]:80, IPv6-only unless [DualStack]), TLS-ALPN-01 on [::]:443, or DNS-01
//     through cloudflare, dnsupdate (RFC 2136) or pebble-challtestsrv. Challenges and
//     orders are polled from 200 ms with back-off, honouring Retry-After, instead of
//     lego's fixed 5 s.
//   - [Client.Renew] renews what [DueAt] says is due: a random time inside the CA's ARI
//     window (the answer cached until its Retry-After), or, without ARI, when a third
//     of the lifetime remains. With nothing due it makes no request beyond stale ARI
//     checks. Orders carry "replaces". Failures back off per lineage and never touch
//     the current certificate; [Deploy] checks (nginx -t) then reloads once per run.
//   - [Store] is the certbot layout: archive/NAME/*N.pem, live/NAME/*.pem, plus
//     renewal/NAME.v6-certs.json. A version switch is one rename of the live/NAME
//     symlink, so nginx never reads a certificate with another version's key; an
//     interrupted switch is completed by [Store.Repair], and [Store.Prune] bounds the
//     archive after each switch ([Store.Keep]: the live version and 5 before it, as
//     certbot). [Store.ImportCertbot] adopts certbot lineages in place.
//
// Accounts (one per CA directory URL, key 0600) live in accounts/HOST/PATH/v6-certs/.
package acme
