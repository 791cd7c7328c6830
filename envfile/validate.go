package envfile

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// Validate checks the file for the target release (Options.Release) and returns every
// problem at once, each with its key and line:
//   - lines that Rails (Ruby dotenv) and the streaming server (Node dotenv) read
//     differently, such as DB_PASS=pa$$word (Rails reads "pa$"), and any $(…), which
//     Rails executes at boot (a security error);
//   - values no form can carry (newline, NUL, control characters); duplicate keys;
//   - missing secrets the release requires, secrets not in Mastodon's format, a VAPID
//     public key that does not belong to the private key;
//   - keys the release no longer reads (REDIS_NAMESPACE on 4.4+ is an error);
//   - invalid or non-ASCII domains, ports out of range, bad switches and prefixes;
//   - a DB_PASS that YAML reads differently before 3.0 (Rails pastes it unquoted into
//     config/database.yml), and a REDIS_PASSWORD with a URL delimiter before 4.3 (Rails
//     pastes it unescaped into redis://:PASSWORD@HOST:PORT/DB);
//   - the IPv6 pitfalls: DB_HOST starting with ':' or bracketed, a bracketed DATABASE_URL
//     on 4.2+, DB_SSLMODE=prefer on 4.2+, an IPv6 REDIS_HOST, a bracketed REDIS_URL
//     before 4.2, BIND with IPv6 before 4.3 (or without brackets from 4.3), and an IPv6-only site behind NAT64
//     (Options.NAT64) whose ALLOWED_PRIVATE_ADDRESSES lacks the prefix.
//
// Secret values never appear in the messages.
func (f *File) Validate(opt Options) report.Problems {
	rel := opt.release()
	var ps report.Problems
	f.checkLines(&ps)
	_, cps := f.Config()
	ps = append(ps, cps...)
	f.checkSecrets(&ps, rel)
	f.checkRemoved(&ps, rel)
	f.checkDomains(&ps)
	f.checkNetwork(&ps, rel, opt)
	f.checkYAML(&ps, rel)
	return ps
}

// show quotes a value for a message, or hides it for a secret.
func show(key, value string) string {
	if mastodon.IsSecret(key) || strings.Contains(key, "URL") && strings.Contains(value, "@") {
		return fmt.Sprintf("<secret, %d characters>", len(value))
	}
	return fmt.Sprintf("%q", value)
}

func (f *File) checkLines(ps *report.Problems) {
	env := map[string]string{}
	last := map[string]int{}
	for i, l := range f.Lines {
		if l.Kind != Entry {
			continue
		}
		last[l.Key] = i
	}
	for i, l := range f.Lines {
		if l.Kind != Entry {
			continue
		}
		where := f.where(l)
		if !validKey(l.Key) {
			ps.Errorf(where, ErrBadKey, "key %q: %v", l.Key, ErrBadKey)
			continue
		}
		if j := last[l.Key]; j != i {
			ps.Warnf(where, ErrDuplicateKey, "%s is set again on line %d, which wins in both readers: delete this line", l.Key, f.Lines[j].Num)
		}
		if _, err := FormatValue(l.Value); err != nil && strings.Contains(err.Error(), ErrControlChar.Error()) {
			ps.Errorf(where, ErrControlChar, "%v", err)
		}
		raw := l.Raw
		if raw == "" {
			s, err := l.render()
			if err != nil {
				if !strings.Contains(err.Error(), ErrControlChar.Error()) {
					ps.Errorf(where, ErrUnwritable, "%v", err)
				}
				continue
			}
			raw = s
		}
		r, n := readRails(raw, env), readStreaming(raw)
		env[l.Key] = r.value
		switch {
		case r.command:
			ps.Errorf(where, ErrCommandSubstitution, "Ruby's dotenv runs the $(…) in this value as a shell command every time Rails boots, and streaming reads it literally: put the value in single quotes (%s='…') if it is meant literally, or remove it", l.Key)
		case !r.ok || r.key != l.Key:
			ps.Errorf(where, ErrReadersDisagree, "Rails (Ruby dotenv) ignores this line: rewrite it as %s='…'", l.Key)
		case !n.ok || n.key != l.Key:
			ps.Errorf(where, ErrReadersDisagree, "the streaming server (Node dotenv) ignores this line: rewrite it as %s='…'", l.Key)
		case r.value != n.value || r.value != l.Value:
			why := ""
			switch {
			case l.Quote == Double && strings.Contains(raw, `\`):
				why = " (in double quotes Ruby's dotenv removes backslashes; Node's keeps them)"
			case r.subst:
				why = " (Ruby's dotenv expands $NAME and ${NAME}; Node's does not)"
			case strings.Contains(raw, "`"):
				why = " (Node's dotenv takes backticks as quotes; Ruby's does not)"
			}
			ps.Errorf(where, ErrReadersDisagree, "Rails reads %s and the streaming server reads %s%s: one of them gets the wrong value. Write the intended value in single quotes, e.g. %s='%s'",
				show(l.Key, r.value), show(l.Key, n.value), why, l.Key, hint(l.Key, n.value))
		}
	}
}

func hint(key, v string) string {
	if mastodon.IsSecret(key) || strings.Contains(v, "'") {
		return "…"
	}
	return v
}

func (f *File) checkSecrets(ps *report.Problems, rel mastodon.Release) {
	for _, k := range rel.Required() {
		if v, _ := f.Get(k); v == "" {
			ps.Errorf(k, ErrMissing, "%s is required by Mastodon %s and is not set: run v6-envgen (or envfile.Merge) to generate it", k, rel.Line())
		}
	}
	if v, _ := f.Get("LOCAL_DOMAIN"); v == "" {
		ps.Errorf("LOCAL_DOMAIN", ErrMissing, "LOCAL_DOMAIN is not set: Mastodon would call itself localhost:3000")
	}
	for _, s := range rel.Secrets() {
		l, ok := f.Entry(s.Name)
		if !ok || l.Value == "" {
			if s.Format == mastodon.VAPIDPrivate || s.Format == mastodon.VAPIDPublic {
				ps.Warnf(s.Name, ErrMissing, "%s is not set: web push notifications do not work", s.Name)
			}
			continue
		}
		where := f.where(l)
		if strings.HasSuffix(l.Value, "DO_NOT_USE_IN_PRODUCTION") {
			ps.Errorf(where, ErrSecretFormat, "%s ends in DO_NOT_USE_IN_PRODUCTION: Mastodon refuses to boot with it", s.Name)
			continue
		}
		if err := CheckSecret(s.Format, l.Value); err != nil {
			if s.Format == mastodon.VAPIDPrivate || s.Format == mastodon.VAPIDPublic {
				ps.Errorf(where, ErrSecretFormat, "%s is not %v: push notifications cannot work; replace the pair by rotating it (browsers re-subscribe)", s.Name, s.Format)
			} else {
				ps.Warnf(where, ErrSecretFormat, "%s is not %v as Mastodon generates it; it still works, so keep it: replacing it would mean %s", s.Name, s.Format, s.Loss)
			}
		}
	}
	priv, _ := f.Get("VAPID_PRIVATE_KEY")
	pub, _ := f.Get("VAPID_PUBLIC_KEY")
	if priv != "" && pub != "" && CheckSecret(mastodon.VAPIDPrivate, priv) == nil && CheckSecret(mastodon.VAPIDPublic, pub) == nil && !vapidMatch(priv, pub) {
		ps.Errorf(f.where(mustEntry(f, "VAPID_PUBLIC_KEY")), ErrVAPIDMismatch, "%v: browsers get a key the server cannot sign for; remove VAPID_PUBLIC_KEY to derive it from the private key", ErrVAPIDMismatch)
	}
}

func (f *File) checkRemoved(ps *report.Problems, rel mastodon.Release) {
	for _, k := range f.Keys() {
		rm, ok := rel.Removed(k)
		if !ok {
			continue
		}
		where := f.where(mustEntry(f, k))
		if rm.Fatal {
			ps.Errorf(where, ErrRemoved, "%s", rm.Reason)
		} else {
			ps.Warnf(where, ErrRemoved, "%s (v6kit keeps the line)", rm.Reason)
		}
	}
}

func (f *File) checkDomains(ps *report.Problems) {
	check := func(where, key, v string) {
		ascii, err := NormalizeDomain(v)
		switch {
		case err != nil:
			ps.Errorf(where, ErrDomain, "%s: %v", key, err)
		case ascii != v && strings.ToLower(v) == v:
			ps.Errorf(where, ErrDomain, "%s: %q is not ASCII: Mastodon compares the punycode form; write %s", key, v, ascii)
		case ascii != v:
			ps.Warnf(where, ErrDomain, "%s: %q has upper-case letters: write %s", key, v, ascii)
		}
	}
	for _, k := range []string{"LOCAL_DOMAIN", "WEB_DOMAIN"} {
		if l, ok := f.Entry(k); ok && l.Value != "" {
			check(f.where(l), k, l.Value)
		}
	}
	if l, ok := f.Entry("ALTERNATE_DOMAINS"); ok {
		for _, d := range strings.Split(l.Value, ",") {
			if d = strings.TrimSpace(d); d != "" {
				check(f.where(l), "ALTERNATE_DOMAINS", d)
			}
		}
	}
}

// isIPv6 reports whether s is an IPv6 literal, bare or in brackets.
func isIPv6(s string) bool {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return err == nil && a.Is6()
}

func (f *File) checkNetwork(ps *report.Problems, rel mastodon.Release, opt Options) {
	if l, ok := f.Entry("DB_HOST"); ok && l.Value != "" {
		v := l.Value
		switch {
		case strings.HasPrefix(v, ":"):
			ps.Errorf(f.where(l), ErrDBHostYAML, "DB_HOST=%s: Rails pastes DB_HOST unquoted into config/database.yml, where a value starting with ':' becomes a Ruby symbol. Use the socket directory (DB_HOST=/var/run/postgresql) or the same address without the leading colon: DB_HOST=0%s", v, v)
		case strings.HasPrefix(v, "["):
			bare := strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
			if strings.HasPrefix(bare, ":") {
				bare = "0" + bare
			}
			ps.Errorf(f.where(l), ErrDBHostYAML, "DB_HOST=%s: brackets are a YAML syntax error in Rails' config/database.yml and streaming cannot resolve them. Use the socket directory (DB_HOST=/var/run/postgresql) or the bare address: DB_HOST=%s", v, bare)
		}
	}
	if l, ok := f.Entry("REDIS_PASSWORD"); ok && rel.RedisPasswordRawURL() && !f.Has("REDIS_URL") {
		if i := strings.IndexAny(l.Value, ":/?#[]@%"); i >= 0 {
			ps.Errorf(f.where(l), ErrRedisPasswordURL, "REDIS_PASSWORD holds %q: Mastodon %s pastes it unescaped into redis://:PASSWORD@HOST:PORT/DB, so Rails reads another host, port or database, or does not boot. Change Redis' requirepass to a password of letters, digits, '-', '.', '_' or '~' (openssl rand -hex 32)", l.Value[i], rel.Line())
		}
	}
	if l, ok := f.Entry("DATABASE_URL"); ok && rel.StreamingDatabaseURLBrackets() {
		if u, err := url.Parse(l.Value); err == nil && strings.HasPrefix(u.Host, "[") {
			ps.Errorf(f.where(l), ErrDatabaseURLBrackets, "DATABASE_URL has a bracketed IPv6 address: the streaming server of Mastodon %s resolves \"[…]\" as a name and fails (ENOTFOUND). Use DB_HOST=%s with DB_PORT, DB_NAME, DB_USER and DB_PASS instead", rel.Line(), u.Hostname())
		}
	}
	if l, ok := f.Entry("DB_SSLMODE"); ok && l.Value == "prefer" && rel.StreamingSSLModePreferBreaks() {
		ps.Errorf(f.where(l), ErrSSLModePrefer, "DB_SSLMODE=prefer: Rails falls back to plain connections, but the streaming server of Mastodon %s then requires TLS and fails against a PostgreSQL without it. Remove the line (Rails defaults to prefer), or use disable, or require when PostgreSQL has TLS", rel.Line())
	}
	if l, ok := f.Entry("REDIS_HOST"); ok && isIPv6(l.Value) {
		fix := "use REDIS_HOST=127.0.0.1, a hostname or a unix socket (REDIS_URL=unix:///run/redis/redis.sock)"
		if rel.RedisURLBrackets() {
			fix = fmt.Sprintf("remove REDIS_HOST and REDIS_PORT and set REDIS_URL=redis://[%s]:6379/0 (with the password as redis://:PASSWORD@[…]:6379/0)", strings.Trim(l.Value, "[]"))
		}
		ps.Errorf(f.where(l), ErrRedisIPv6, "REDIS_HOST=%s: Rails builds redis://HOST:PORT from it, which is not a valid URL with a bare IPv6 address, and streaming cannot resolve one in brackets: %s", l.Value, fix)
	}
	if l, ok := f.Entry("REDIS_URL"); ok && !rel.RedisURLBrackets() {
		if u, err := url.Parse(l.Value); err == nil && strings.HasPrefix(u.Host, "[") {
			ps.Errorf(f.where(l), ErrRedisIPv6, "REDIS_URL has a bracketed IPv6 address, which Mastodon %s cannot use (Rails' redis-rb and streaming's node-redis before 4.2): use Redis on 127.0.0.1, a unix socket (unix:///run/redis/redis.sock) or a hostname", rel.Line())
		}
	}
	if l, ok := f.Entry("BIND"); ok && isIPv6(l.Value) {
		switch {
		case !rel.StreamingAcceptsBrackets():
			ps.Warnf(f.where(l), ErrBind, "BIND=%s in .env.production: puma needs [brackets] and the streaming server of Mastodon %s needs a bare address, so one value breaks one of them. Set BIND per systemd unit (Environment=BIND=…) and remove it here", l.Value, rel.Line())
		case !strings.HasPrefix(l.Value, "["):
			// 4.3.0+: streaming strips brackets, puma builds tcp://BIND:PORT and fails on a bare IPv6 address.
			ps.Warnf(f.where(l), ErrBindBrackets, "BIND=%s: puma builds tcp://BIND:PORT, which is not a valid URI with a bare IPv6 address, so the web process does not start; Mastodon %s's streaming accepts brackets too: write BIND=[%s]", l.Value, rel.Line(), l.Value)
		}
	}
	if opt.NAT64.IsValid() && rel.PrivateAddressCheck() {
		nat := opt.NAT64.Masked()
		if !rel.AllowedPrivateAddresses() {
			ps.Warnf("ALLOWED_PRIVATE_ADDRESSES", ErrNAT64, "Mastodon %s refuses NAT64 addresses (%s) as private and cannot exempt them (ALLOWED_PRIVATE_ADDRESSES arrived in 3.3): an IPv6-only server behind NAT64 cannot reach IPv4-only peers; upgrade Mastodon", rel.Line(), nat)
			return
		}
		v, _ := f.Get("ALLOWED_PRIVATE_ADDRESSES")
		list, _ := ParsePrefixes(v)
		covered := slices.ContainsFunc(list, func(p netip.Prefix) bool {
			return p.Bits() <= nat.Bits() && p.Contains(nat.Addr())
		})
		if !covered {
			ps.Warnf("ALLOWED_PRIVATE_ADDRESSES", ErrNAT64, "this IPv6-only server reaches IPv4-only peers through NAT64 (%s), which Mastodon %s refuses as a private range: add it, ALLOWED_PRIVATE_ADDRESSES=%s. Trade-off: the exemption lets Mastodon fetch any IPv4 address through the translator, including private IPv4 networks the NAT64 gateway can reach (SSRF); make the gateway refuse RFC 1918, loopback and link-local destinations", nat, rel.Line(), strings.Trim(v+","+nat.String(), ","))
		}
	}
}
