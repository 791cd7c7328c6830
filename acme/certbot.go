package acme

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/report"
)

// CertbotConf is what v6-certs reads from certbot's renewal/NAME.conf.
type CertbotConf struct {
	// Top holds the top-level keys (archive_dir, cert, privkey, chain, fullchain, version).
	Top map[string]string
	// Params holds [renewalparams] (authenticator, server, webroot_path, key_type, ...).
	Params map[string]string
	// WebrootMap holds [[webroot_map]] (name → webroot).
	WebrootMap map[string]string
}

// ParseCertbotConf parses certbot's configobj-style renewal file: "key = value" lines,
// [section] and [[subsection]] headers, # comments. Unknown keys are kept; lines it
// cannot read are errors with their line number.
func ParseCertbotConf(b []byte) (CertbotConf, error) {
	c := CertbotConf{Top: map[string]string{}, Params: map[string]string{}, WebrootMap: map[string]string{}}
	cur := c.Top
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.HasPrefix(t, "[") {
			h := strings.TrimSpace(strings.Trim(t, "[]"))
			if !strings.HasSuffix(t, "]") || h == "" {
				return c, fmt.Errorf("line %d: malformed section header %q", line, t)
			}
			switch {
			case strings.HasPrefix(t, "[[") && h == "webroot_map":
				cur = c.WebrootMap
			case h == "renewalparams":
				cur = c.Params
			default:
				cur = map[string]string{} // other sections are ignored
			}
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return c, fmt.Errorf("line %d: expected key = value, got %q", line, t)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return c, fmt.Errorf("line %d: empty key", line)
		}
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		cur[k] = v
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	return c, nil
}

// webroot returns the first webroot the configuration names.
func (c CertbotConf) webroot() string {
	for _, p := range strings.Split(c.Params["webroot_path"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			return p
		}
	}
	for _, v := range c.WebrootMap {
		return v
	}
	return ""
}

// challenge maps certbot's authenticator to a Challenge.
func (c CertbotConf) challenge() (Challenge, error) {
	a := c.Params["authenticator"]
	switch a {
	case "webroot":
		w := c.webroot()
		if w == "" {
			return Challenge{}, fmt.Errorf("authenticator webroot without webroot_path")
		}
		return Challenge{Type: HTTP01, Webroot: w}, nil
	case "standalone":
		ch := Challenge{Type: HTTP01, Family: DualStack}
		port := uint16(80)
		if p, err := strconv.ParseUint(c.Params["http01_port"], 10, 16); err == nil && p > 0 {
			port = uint16(p)
		}
		addr := netip.IPv6Unspecified()
		if a, err := netip.ParseAddr(c.Params["http01_address"]); err == nil {
			addr = a
			if a.Is4() {
				ch.Family = IPv4Only
			}
		}
		ch.Listen = netip.AddrPortFrom(addr, port)
		return ch, nil
	case "dns-cloudflare":
		return Challenge{Type: DNS01, DNSProvider: "cloudflare"}, nil
	case "dns-rfc2136":
		return Challenge{Type: DNS01, DNSProvider: "dnsupdate"}, nil
	}
	return Challenge{}, fmt.Errorf("certbot authenticator %q has no v6-certs equivalent: import with --webroot DIR or --challenge", a)
}

func (c CertbotConf) keyType() KeyType {
	switch c.Params["key_type"] {
	case "rsa":
		switch c.Params["rsa_key_size"] {
		case "3072":
			return RSA3072
		case "4096":
			return RSA4096
		}
		return RSA2048
	case "ecdsa", "":
		if c.Params["elliptic_curve"] == "secp384r1" {
			return EC384
		}
		if c.Params["key_type"] == "" && c.Params["rsa_key_size"] != "" {
			return RSA2048
		}
	}
	return EC256
}

// ImportOptions controls [Store.ImportCertbot].
type ImportOptions struct {
	// Challenge, when its Type is set, replaces what certbot's authenticator implies.
	Challenge Challenge
	// Server, when set, replaces the server recorded by certbot.
	Server string
	// Now is the clock for the metadata and backup names. Nil: time.Now.
	Now func() time.Time
	// KeepCertbotAutorenew leaves certbot's renewal/NAME.conf untouched. Zero: set
	// autorenew = False in it ([SetCertbotAutorenewOff]), so certbot's own timer no
	// longer renews the lineage and the two never fight over live/NAME.
	KeepCertbotAutorenew bool
}

// ImportCertbot adopts the certbot lineages of this store: for each renewal/NAME.conf
// without v6-certs metadata it reads the names (from the certificate), the
// authenticator and webroot, the server and the key type, and writes
// renewal/NAME.v6-certs.json. certbot's files are kept as they are, except that
// renewal/NAME.conf gets autorenew = False (a minimal edit, written atomically, the
// old file kept as NAME.conf.v6kit-TIMESTAMP, which certbot does not read) unless
// opt.KeepCertbotAutorenew; lineages adopted earlier get it too. An Outcome's
// CertbotAutorenewOff says it is off; a conf that cannot be edited is never written,
// and the outcome carries a warning instead. The first renewal by v6-certs swaps
// live/NAME atomically into a symlink. A lineage that cannot be read is reported and
// skipped.
func (s *Store) ImportCertbot(opt ImportOptions) ([]Outcome, report.Problems) {
	var ps report.Problems
	var outs []Outcome
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	ents, err := os.ReadDir(s.Path("renewal"))
	if err != nil {
		ps.Errorf("renewal", ErrCertbotConf, "cannot read %s: %v (is this certbot's configuration directory?)", s.Path("renewal"), err)
		return nil, ps
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".conf")
		if !ok || e.IsDir() {
			continue
		}
		path := "renewal/" + e.Name()
		if _, err := s.ReadMeta(name); err == nil {
			l, _ := s.Load(name)
			o := Outcome{Name: name, Names: l.Names, Action: Kept, Version: l.Version, NotAfter: l.NotAfter}
			s.certbotAutorenewOff(&o, e.Name(), opt, now)
			outs = append(outs, o)
			continue
		} else if !errors.Is(err, ErrNotFound) {
			ps.Errorf(path, ErrCorrupt, "%v", err)
			continue
		}
		if err := ValidateCertName(name); err != nil {
			ps.Errorf(path, ErrLineageName, "%v", err)
			continue
		}
		b, err := readRegular(s.Path("renewal", e.Name()), false)
		if err != nil {
			ps.Errorf(path, ErrCertbotConf, "%v", err)
			continue
		}
		conf, err := ParseCertbotConf(b)
		if err != nil {
			ps.Errorf(path, ErrCertbotConf, "%v", err)
			continue
		}
		ch := opt.Challenge
		if ch.Type == "" {
			if ch, err = conf.challenge(); err != nil {
				ps.Errorf(path, ErrCertbotConf, "%v", err)
				continue
			}
		}
		if p := ch.Validate(); p.HasErrors() && ch.typ() != DNS01 {
			ps.Append(path, p)
			continue
		}
		server := opt.Server
		if server == "" {
			server = conf.Params["server"]
		}
		if server == "" {
			server = LetsEncrypt
		}
		if p := validateServer(server); p.HasErrors() {
			ps.Append(path+":server", p)
			continue
		}
		if ad := conf.Top["archive_dir"]; ad != "" && filepath.Clean(ad) != s.Path("archive", name) {
			ps.Errorf(path, ErrCertbotConf, "archive_dir %s is not %s: move the lineage into this directory first", ad, s.Path("archive", name))
			continue
		}
		v, err := s.liveVersion(name)
		if err != nil {
			ps.Errorf(path, ErrCorrupt, "%v", err)
			continue
		}
		cb, err := readRegular(filepath.Join(s.LiveDir(name), "cert.pem"), true)
		if err != nil {
			err = fileErr(err)
			ps.Errorf(path, sentinelOf(err), "%v", err)
			continue
		}
		leaf, err := parseLeaf(cb)
		if err != nil {
			ps.Errorf(path, ErrCorrupt, "live/%s/cert.pem: %v", name, err)
			continue
		}
		m := Meta{Names: certNames(leaf), Server: server, KeyType: conf.keyType(), Profile: conf.Params["preferred_profile"],
			Challenge: storedChallenge(ch), Source: "certbot"}
		if err := s.WriteMeta(name, m, now()); err != nil {
			ps.Errorf(path, ErrCorrupt, "write metadata: %v", err)
			continue
		}
		o := Outcome{Name: name, Names: m.Names, Action: Imported, Version: v, NotAfter: leaf.NotAfter}
		s.certbotAutorenewOff(&o, e.Name(), opt, now)
		outs = append(outs, o)
	}
	return outs, ps
}

// certbotAutorenewOff sets autorenew = False in renewal/FILE for an adopted lineage
// and records the result in o: CertbotAutorenewOff and Backup, or a warning.
func (s *Store) certbotAutorenewOff(o *Outcome, file string, opt ImportOptions, now func() time.Time) {
	if opt.KeepCertbotAutorenew {
		return
	}
	p, err := filepath.EvalSymlinks(s.Path("renewal", file))
	var b []byte
	if err == nil {
		b, err = readRegular(p, false)
	}
	var out []byte
	var changed bool
	if err == nil {
		out, changed, err = SetCertbotAutorenewOff(b)
	}
	if err == nil && changed {
		var res fsutil.Result
		res, err = fsutil.WriteFile(p, out, fsutil.Options{Backup: true, Now: now})
		o.Backup = res.Backup
	}
	if err != nil {
		o.Warnings = append(o.Warnings, fmt.Sprintf("%v: %v: %s was left as it was, so certbot still renews %s: set autorenew = False under [renewalparams] in it, or disable certbot.timer",
			ErrCertbotConf, err, s.Path("renewal", file), o.Name))
		return
	}
	o.CertbotAutorenewOff = true
}

// certbotHeader matches a configobj section header: [name], [[name]], with an
// optional comment after it.
var certbotHeader = regexp.MustCompile(`^\s*((?:\[\s*)+)(.*?)((?:\s*\])+)\s*(#.*)?$`)

// SetCertbotAutorenewOff returns certbot's renewal configuration b with
// "autorenew = False" in its [renewalparams] section, which certbot reads in
// storage.RenewableCert.autorenewal_is_enabled (configuration["renewalparams"]
// .as_bool("autorenew"); certbot 0.x to 2.x), so "certbot renew" skips the lineage
// (only --force-renewal or --dry-run still renew it). The edit is minimal: an
// existing autorenew line gets its value replaced in place (comment kept), else one
// line is added after the last key of [renewalparams] (before its [[webroot_map]]),
// and every other byte stays as it was. changed is false when autorenew is already
// false. A file it cannot read line by line (a malformed header, a line that is no
// key = value, a multi-line ”' value, autorenew twice) is an error and nothing is
// returned to write.
func SetCertbotAutorenewOff(b []byte) (out []byte, changed bool, err error) {
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	var scope []string
	inParams := func() bool { return len(scope) == 1 && scope[0] == "renewalparams" }
	header, lastKey, existing := -1, -1, -1
	eol := "\n"
	for i, raw := range lines {
		line := strings.TrimRight(string(raw), "\r\n")
		if strings.HasSuffix(string(raw), "\r\n") {
			eol = "\r\n"
		}
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.Contains(line, `"""`) || strings.Contains(line, `'''`) {
			return nil, false, fmt.Errorf("line %d: multi-line (triple-quoted) values are not supported", i+1)
		}
		if strings.HasPrefix(t, "[") {
			m := certbotHeader.FindStringSubmatch(line)
			if m == nil || strings.Count(m[1], "[") != strings.Count(m[3], "]") || strings.TrimSpace(m[2]) == "" {
				return nil, false, fmt.Errorf("line %d: malformed section header %q", i+1, t)
			}
			depth := strings.Count(m[1], "[")
			if depth > len(scope)+1 {
				return nil, false, fmt.Errorf("line %d: section %q is nested deeper than its parent", i+1, t)
			}
			scope = append(scope[:depth-1], strings.Trim(strings.TrimSpace(m[2]), `"'`))
			if inParams() {
				if header >= 0 {
					return nil, false, fmt.Errorf("line %d: a second [renewalparams] section", i+1)
				}
				header = i
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, false, fmt.Errorf("line %d: expected key = value, got %q", i+1, t)
		}
		if !inParams() {
			continue
		}
		lastKey = i
		if strings.Trim(strings.TrimSpace(k), `"'`) == "autorenew" {
			if existing >= 0 {
				return nil, false, fmt.Errorf("line %d: autorenew is set twice in [renewalparams]", i+1)
			}
			existing = i
		}
	}
	out = make([]byte, 0, len(b)+len("autorenew = False\r\n"))
	switch {
	case existing >= 0:
		raw := string(lines[existing])
		body := strings.TrimRight(raw, "\r\n")
		k, rest, _ := strings.Cut(body, "=")
		lead := rest[:len(rest)-len(strings.TrimLeft(rest, " \t"))]
		v := rest[len(lead):]
		var val, tail string
		if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
			end := strings.IndexByte(v[1:], v[0])
			if end < 0 {
				return nil, false, fmt.Errorf("line %d: unterminated quote in autorenew", existing+1)
			}
			val, tail = v[1:end+1], v[end+2:]
			if t := strings.TrimSpace(tail); t != "" && t[0] != '#' {
				// configobj refuses it too ("Parse error"): never guess what certbot reads.
				return nil, false, fmt.Errorf("line %d: text %q after the quoted autorenew value", existing+1, t)
			}
		} else {
			part, comment := v, ""
			if h := strings.IndexByte(v, '#'); h >= 0 {
				part, comment = v[:h], v[h:]
			}
			val = strings.TrimRight(part, " \t")
			tail = part[len(val):] + comment
		}
		switch strings.ToLower(val) {
		case "false", "no", "off", "0":
			return b, false, nil
		}
		for i, l := range lines {
			if i == existing {
				out = append(out, k+"="+lead+"False"+tail+raw[len(body):]...)
			} else {
				out = append(out, l...)
			}
		}
	case header >= 0:
		at := header
		indent := ""
		if lastKey >= 0 {
			at = lastKey
			l := string(lines[lastKey])
			indent = l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		}
		for i, l := range lines {
			out = append(out, l...)
			if i == at {
				if !bytes.HasSuffix(l, []byte("\n")) {
					out = append(out, eol...)
				}
				out = append(out, indent+"autorenew = False"+eol...)
			}
		}
	default:
		out = append(out, b...)
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, eol...)
		}
		out = append(out, "[renewalparams]"+eol+"autorenew = False"+eol...)
	}
	return out, true, nil
}
