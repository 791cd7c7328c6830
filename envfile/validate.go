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
//     (Options.NAT64) whose ALLOWED_PRIVATE_ADDRESSES lacks the prefix;
//   - an IPv6 literal in REDIS_SENTINELS (any prefix: Mastodon splits entries on ':'),
//     REPLICA_* before 4.2 and REPLICA_DB_HOST without REPLICA_DB_NAME on 4.2.0 … 4.5.3
//     (warnings: the replica stays off).
//
// Secret values never appear in the messages.
func (f *File) Validate(opt Options) report.Problems {
	rel := opt.release()
	var ps report.Problems
	f.checkLines(&ps, rel)
	_, cps := f.Config()
	ps = append(ps, cps...)
	f.checkSecrets(&ps, rel)
	f.checkRemoved(&ps, rel)
	f.checkDomains(&ps)
	f.checkNetwork(&ps, rel, opt)
	f.checkHA(&ps, rel)
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

func (f *File) checkLines(ps *report.Problems, rel mastodon.Release) {
	f.checkLinesWith(ps, rel, rel.DotenvPairs())
}

// checkLinesWith checks the lines against the given pairs of readers (rel's, or in tests
// the baseline pair).
func (f *File) checkLinesWith(ps *report.Problems, rel mastodon.Release, pairs []mastodon.DotenvPair) {
	last := map[string]int{}
	for i, l := range f.Lines {
		if l.Kind == Entry {
			last[l.Key] = i
		}
	}
	// The file as the readers see it: each entry as written (or as Write renders it),
	// lines that cannot be written left blank.
	texts := make([]string, len(f.Lines))
	check := make([]bool, len(f.Lines))
	for i, l := range f.Lines {
		switch l.Kind {
		case Comment:
			texts[i] = l.Text
			continue
		case Blank:
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
			s, err := l.renderFor(rel)
			if err != nil {
				if !strings.Contains(err.Error(), ErrControlChar.Error()) {
					ps.Errorf(where, ErrUnwritable, "%v", err)
				}
				continue
			}
			raw = s
		}
		texts[i], check[i] = raw, true
	}
	text := strings.Join(texts, "\n") + "\n"
	type pairReading struct {
		pair        mastodon.DotenvPair
		rails, node fileReading
	}
	var readings []pairReading
	for _, p := range pairs {
		readings = append(readings, pairReading{p, readGem(p, text), readNode(p, text)})
	}
	for i, l := range f.Lines {
		if !check[i] {
			continue
		}
		where := f.where(l)
		// $( first: a report never shows what Rails reads from a line that runs a command.
		var runs, dollar []string
		for _, r := range readings {
			if a, ok, _ := r.rails.at(i); ok && a.dollar {
				dollar = append(dollar, r.pair.Gem.String())
				if a.command {
					runs = append(runs, r.pair.Gem.String())
				}
			}
		}
		if len(runs) > 0 {
			ps.Errorf(where, ErrCommandSubstitution, "Ruby's dotenv %s runs the $(…) in this value as a shell command every time Rails boots, and streaming reads it literally: put the value in single quotes (%s='…') if it is meant literally, or remove it", strings.Join(slices.Compact(runs), ", "), l.Key)
			continue
		}
		if len(dollar) > 0 {
			ps.Errorf(where, ErrCommandSubstitution, "Rails (Ruby dotenv %s) substitutes this value, and it holds $( before or after $VAR expansion: Ruby's dotenv runs $(…) as a shell command when Rails boots, and whether an escape or a variable stops it differs between gem versions. Put the value in single quotes (%s='…') if it is meant literally, or remove it", strings.Join(slices.Compact(dollar), ", "), l.Key)
			continue
		}
		for _, r := range readings {
			if why, ok := r.rails.fatal[i]; ok {
				ps.Errorf(where, ErrRailsFails, "%s: %s", why, fixFatal(l))
				goto next
			}
		}
		for _, r := range readings {
			if sentinel, msg := comparePair(r.pair, l, texts[i], i, r.rails, r.node, len(readings) > 1); msg != "" {
				ps.Errorf(where, sentinel, "%s", msg)
				break
			}
		}
	next:
	}
}

// fixFatal says how to fix a line that stops Rails.
func fixFatal(l Line) string {
	if l.Export && l.Value == "" {
		return fmt.Sprintf("write %s= without export (or %s='')", l.Key, l.Key)
	}
	return fmt.Sprintf("rewrite it as %s='…' or remove it", l.Key)
}

// comparePair returns the problem of line i under one pair of readers, or "".
func comparePair(p mastodon.DotenvPair, l Line, raw string, i int, rails, node fileReading, several bool) (error, string) {
	rname := "Rails (Ruby dotenv " + p.Gem.String() + ")"
	nname := "the streaming server (Node dotenv " + p.Node.String() + ")"
	unsure := ""
	if several {
		unsure = " (this release may run " + p.String() + "; v6kit checks every pair it may run)"
	}
	r, rok, rcover := rails.at(i)
	n, nok, ncover := node.at(i)
	switch {
	case !rok && rcover >= 0:
		return ErrReadersDisagree, fmt.Sprintf("%s reads this line as part of the value of %s on line %d, a quoted value spanning lines%s: close the quote on its own line", rname, rails.sets[rcover].key, rails.sets[rcover].line+1, unsure)
	case !rok:
		return ErrReadersDisagree, fmt.Sprintf("%s ignores this line%s: rewrite it as %s='…'", rname, unsure, l.Key)
	case r.key != l.Key:
		return ErrReadersDisagree, fmt.Sprintf("%s reads this line as setting %q%s: rewrite it as %s='…'", rname, r.key, unsure, l.Key)
	case r.last > i:
		return ErrReadersDisagree, fmt.Sprintf("%s reads this value across lines %d–%d%s: close the quote on this line", rname, i+1, r.last+1, unsure)
	case !nok && ncover >= 0:
		return ErrReadersDisagree, fmt.Sprintf("%s reads this line as part of the value of %s on line %d, a quoted value spanning lines%s: close that quote on its own line", nname, node.sets[ncover].key, node.sets[ncover].line+1, unsure)
	case !nok && l.Export && p.NodeLineByLine():
		return ErrReadersDisagree, fmt.Sprintf("%s ignores every line starting with export (Node dotenv reads export lines from 16.0.0), so streaming does not see %s%s: remove \"export \"", nname, l.Key, unsure)
	case !nok && p.NodeLineByLine() && !strings.Contains(strings.SplitN(raw, "#", 2)[0], "="):
		return ErrReadersDisagree, fmt.Sprintf("%s ignores KEY: value lines (it reads them from 16.0.0), so streaming does not see %s%s: write %s=…", nname, l.Key, unsure, l.Key)
	case !nok:
		return ErrReadersDisagree, fmt.Sprintf("%s ignores this line%s: rewrite it as %s='…'", nname, unsure, l.Key)
	case n.key != l.Key:
		return ErrReadersDisagree, fmt.Sprintf("%s reads this line as setting %q%s: rewrite it as %s='…'", nname, n.key, unsure, l.Key)
	case n.last > i:
		return ErrReadersDisagree, fmt.Sprintf("%s reads this value across lines %d–%d%s: close the quote on this line", nname, i+1, n.last+1, unsure)
	case r.value != n.value:
		return ErrReadersDisagree, fmt.Sprintf("Rails reads %s and the streaming server reads %s%s%s: one of them gets the wrong value. Write the intended value in single quotes, e.g. %s='%s'",
			show(l.Key, r.value), show(l.Key, n.value), whyDiffer(p, l, raw, r, n), unsure, l.Key, hint(l.Key, n.value))
	case r.value != l.Value:
		return ErrReadersDisagree, fmt.Sprintf("Rails and the streaming server (%s) both read %s, not %s as v6kit reads the line%s: write the intended value in single quotes, e.g. %s='%s'",
			p, show(l.Key, r.value), show(l.Key, l.Value), unsure, l.Key, hint(l.Key, r.value))
	}
	return nil, ""
}

// whyDiffer names the reader behaviour behind a disagreement, or returns "".
func whyDiffer(p mastodon.DotenvPair, l Line, raw string, r, n assignment) string {
	gem, node := "Ruby's dotenv "+p.Gem.String(), "Node's dotenv "+p.Node.String()
	switch {
	case !p.GemLineByLine() && !p.GemQuoteAfterBlanks() && l.Quote != Unquoted && r.quote == 0:
		return " (" + gem + " reads a quote after blanks as an unquoted value, up to '#')"
	case p.NodeLineByLine() && strings.Contains(n.value, "#") && !strings.Contains(r.value, "#"):
		return " (" + node + " has no inline comments: it keeps '#' and what follows; they arrive with Node dotenv 16)"
	case p.NodeTrimsQuoted() && l.Quote != Unquoted && n.value == strings.TrimFunc(r.value, isJSSpace):
		return " (" + node + " trims blanks, also inside quotes)"
	case p.NodeTrimsQuoted() && strings.ContainsAny(raw, `'"`):
		return " (" + node + " strips one quote character at either end independently)"
	case p.NodeLineByLine() && l.Quote != Unquoted && strings.ContainsAny(n.value[:min(1, len(n.value))], `'"`):
		return " (" + node + " keeps the quotes when blanks follow the closing quote)"
	case r.subst && !(l.Quote == Double && strings.Contains(raw, `\`)) && strings.ContainsAny(raw, "\u017f\u212a"):
		return " (" + gem + " expands $NAME and ${NAME}, and after '$' it counts ſ and K as name letters; Node's does not expand)"
	case r.subst && !(l.Quote == Double && strings.Contains(raw, `\`)):
		return " (" + gem + " expands $NAME and ${NAME}; Node's does not)"
	case l.Quote == Unquoted && strings.Contains(raw, `\`) && p.GemUnescapesUnquoted():
		return " (" + gem + " removes backslashes from unquoted values; Node's keeps them)"
	case l.Quote == Double && p.GemLiteralNewlines() && (strings.Contains(raw, `\n`) || strings.Contains(raw, `\r`)):
		return " (" + gem + " keeps \\n in double quotes as a backslash and n; Node's makes it a newline)"
	case l.Quote == Double && strings.Contains(raw, `\`):
		return " (in double quotes " + gem + " removes backslashes; Node's keeps them)"
	case strings.Contains(raw, "`") && !p.NodeLineByLine():
		return " (" + node + " takes backticks as quotes; Ruby's does not)"
	case p.GemLineByLine() && strings.Count(raw, string(rune(r.quote))) > 2:
		return " (" + gem + " takes a quoted value up to the last quote on the line, comment included)"
	}
	return ""
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
