package acme

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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
	// Now is the clock for the metadata. Nil: time.Now.
	Now func() time.Time
}

// ImportCertbot adopts the certbot lineages of this store: for each renewal/NAME.conf
// without v6-certs metadata it reads the names (from the certificate), the
// authenticator and webroot, the server and the key type, and writes
// renewal/NAME.v6-certs.json. certbot's files are kept as they are; the first renewal
// by v6-certs swaps live/NAME atomically into a symlink. A lineage that cannot be
// read is reported and skipped.
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
			outs = append(outs, Outcome{Name: name, Names: l.Names, Action: Kept, Version: l.Version, NotAfter: l.NotAfter})
			continue
		} else if !errors.Is(err, ErrNotFound) {
			ps.Errorf(path, ErrCorrupt, "%v", err)
			continue
		}
		if err := ValidateCertName(name); err != nil {
			ps.Errorf(path, ErrLineageName, "%v", err)
			continue
		}
		b, err := os.ReadFile(s.Path("renewal", e.Name()))
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
		cb, err := os.ReadFile(filepath.Join(s.LiveDir(name), "cert.pem"))
		if err != nil {
			ps.Errorf(path, ErrCorrupt, "%v", err)
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
		outs = append(outs, Outcome{Name: name, Names: m.Names, Action: Imported, Version: v, NotAfter: leaf.NotAfter})
	}
	return outs, ps
}
