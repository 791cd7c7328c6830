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
//     orders are polled from 50 ms, doubling, always honouring Retry-After, instead of
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
//     certbot). [Store.ImportCertbot] adopts certbot lineages in place and sets
//     autorenew = False in their renewal/NAME.conf ([SetCertbotAutorenewOff]), so
//     certbot's timer no longer renews them too.
//
// Accounts (one per CA directory URL, key 0600) live in accounts/HOST/PATH/v6-certs/.
//
// # Deploy pending markers
//
// When a deploy step is configured ([Config.Deploy]), then before live/NAME is switched
// to a new version (renewal, first issuance, or a switch completed by [Store.Repair]),
// renewal/NAME.v6-certs.deploy-pending ([PendingSuffix]) is written atomically. A run
// without a deploy step has nothing to deploy and writes no marker. It holds a [PendingDeploy] as JSON:
//
//	{
//	  "format": 1,
//	  "name": "social.example",
//	  "version": 3,
//	  "switched": "2026-11-27T04:00:00Z",
//	  "failures": 1,
//	  "last_error": "reloading the server failed: …"
//	}
//
// (failures and last_error only after a failed deploy step). It is removed only after
// a deploy step passed (the check, then the reload). So when the check or the reload
// fails, or the process dies between the switch and the deploy, the next run finds
// the marker in the same readdir of renewal/ that lists the lineages, and deploys once
// even though nothing is due: [Report.Pending] says so (v6-certs prints "pending"
// lines, and "pending_deploys" in --json). Markers are read only by a run that has a
// deploy step configured; a run without one leaves existing markers (of failed
// deploys) for the next run that has one. A marker naming a lineage that no longer exists is removed with a warning
// ([Report.Warnings]); one that cannot be parsed still counts as pending. A marker
// may cost one needless reload (a switch that failed after writing it), never a
// missed one. A marker that is not a regular file (a FIFO, a directory, a symlink) is
// never read, deployed or removed: [Client.Renew] fails its lineage with
// [ErrNotRegular], naming the file and the fix, with or without a deploy step, and
// the other lineages carry on.
//
// # Live files
//
// [Store.Load] checks the whole live set nginx and certbot-layout readers use, each
// opened without blocking and refused unless it is a regular file: cert.pem parses,
// privkey.pem is its key ([Lineage.KeyBroken]), chain.pem and fullchain.pem hold PEM
// certificates and nothing else, fullchain.pem's first certificate is cert.pem's and
// fullchain.pem is cert.pem followed by chain.pem ([Lineage.ChainBroken]). [Store.List]
// names each problem and its file; [Client.Renew] replaces a lineage whose key or
// chain is broken although nothing is due ([ReasonBrokenKey], [ReasonBrokenChain]),
// and during a failure back-off fails it instead of keeping it silently. While the
// files are those [Store.Install] checked ([Meta.PairStamp]), a load stats them
// instead of parsing them again.
package acme
