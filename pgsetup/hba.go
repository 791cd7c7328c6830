package pgsetup

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/v6kit/v6kit/report"
)

// ConnType is a pg_hba.conf connection type.
type ConnType string

// The connection types PostgreSQL 15 accepts.
const (
	Local        ConnType = "local"
	Host         ConnType = "host"
	HostSSL      ConnType = "hostssl"
	HostNoSSL    ConnType = "hostnossl"
	HostGSSEnc   ConnType = "hostgssenc"
	HostNoGSSEnc ConnType = "hostnogssenc"
)

func (t ConnType) valid() bool {
	switch t {
	case Local, Host, HostSSL, HostNoSSL, HostGSSEnc, HostNoGSSEnc:
		return true
	}
	return false
}

// Method is a pg_hba.conf authentication method.
type Method string

// The authentication methods pgsetup renders (PostgreSQL knows more; the parser keeps them).
const (
	ScramSHA256 Method = "scram-sha-256"
	Peer        Method = "peer"
	Trust       Method = "trust"
	Reject      Method = "reject"
)

// knownMethods are the methods PostgreSQL 15 accepts in pg_hba.conf.
var knownMethods = []string{"trust", "reject", "scram-sha-256", "md5", "password", "gss", "sspi",
	"ident", "peer", "pam", "ldap", "radius", "cert"}

// HBARule is one pg_hba.conf record.
type HBARule struct {
	// Type is local, host, hostssl, hostnossl, hostgssenc or hostnogssenc.
	Type ConnType
	// Databases lists database names or keywords (all, sameuser, samerole, replication,
	// +group, @file). Empty means "all".
	Databases []string
	// Users lists role names or keywords (all, +group, @file). Empty means "all".
	Users []string
	// Address is the client prefix of a host* rule (zero for local rules, and for rules
	// read from a file that use a host name or samehost/samenet, see AddressText).
	Address netip.Prefix
	// AddressText is the address field as written when it is not a prefix (a host name,
	// samehost, samenet, all, or "ADDR MASK"). Only the parser sets it.
	AddressText string
	// Method is the authentication method.
	Method Method
	// Options are name=value options (map=..., clientcert=...), in order.
	Options []string
}

// HBALine is one line of a pg_hba.conf file, kept byte for byte.
type HBALine struct {
	// Text is the line as read, without its "\n" ("\r" is kept).
	Text string
	// Rule is the parsed record, or nil for blank and comment lines.
	Rule *HBARule
}

// HBAFile is a pg_hba.conf file: every line and comment, in order. [HBAFile.Bytes]
// gives back exactly the bytes [ParseHBA] read, plus any change made through
// [HBAFile.SetBlock].
type HBAFile struct {
	Lines []HBALine
}

// hbaKeywords are tokens that mean something unquoted, so a name equal to one is quoted.
var hbaKeywords = []string{"all", "sameuser", "samerole", "samegroup", "replication"}

// ParseHBA parses a pg_hba.conf file the way PostgreSQL 15 tokenizes it. Every problem is
// reported with its line ("pg_hba.conf:12"); on error the file must not be rewritten.
func ParseHBA(data []byte) (*HBAFile, error) {
	f := &HBAFile{}
	var ps report.Problems
	cont := false // the previous line was a comment ending in a backslash
	for i, text := range strings.Split(string(data), "\n") {
		l := HBALine{Text: text}
		if cont {
			// PostgreSQL 14+ appends this line to the comment above (continuation
			// applies inside comments too), so it is no rule whatever it says.
			f.Lines = append(f.Lines, l)
			cont = endsInBackslash(text)
			continue
		}
		r, err := parseHBALine(text)
		if err != nil {
			ps.Errorf(fmt.Sprintf("pg_hba.conf:%d", i+1), ErrHBASyntax, "%v in %q", err, text)
		}
		l.Rule = r
		f.Lines = append(f.Lines, l)
		cont = err == nil && r == nil && endsInBackslash(text)
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	if _, err := f.blocks(); err != nil {
		return nil, err
	}
	return f, nil
}

// Bytes returns the file's content.
func (f *HBAFile) Bytes() []byte {
	var b bytes.Buffer
	for i, l := range f.Lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.Text)
	}
	return b.Bytes()
}

// Rules returns the parsed records with their 1-based line numbers.
func (f *HBAFile) Rules() (rules []HBARule, lines []int) {
	for i, l := range f.Lines {
		if l.Rule != nil {
			rules = append(rules, *l.Rule)
			lines = append(lines, i+1)
		}
	}
	return rules, lines
}

type token struct {
	text   string
	quoted bool
}

// hbaFields splits a line into fields; each field is a comma-separated list of tokens.
func hbaFields(line string) ([][]token, error) {
	var fields [][]token
	i := 0
	blank := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }
	for {
		for i < len(line) && blank(line[i]) {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			break
		}
		var field []token
		for {
			var tok strings.Builder
			quoted, inQuote := false, false
			for i < len(line) {
				c := line[i]
				if !inQuote && (blank(c) || c == ',' || c == '#') {
					break
				}
				if c == '"' {
					inQuote = !inQuote
					quoted = true
					i++
					continue
				}
				if c < 0x20 && c != '\t' {
					return nil, fmt.Errorf("control character 0x%02x", c)
				}
				tok.WriteByte(c)
				i++
			}
			if inQuote {
				return nil, fmt.Errorf("unterminated quoted string")
			}
			field = append(field, token{tok.String(), quoted})
			if i < len(line) && line[i] == ',' {
				i++
				continue
			}
			break
		}
		fields = append(fields, field)
	}
	return fields, nil
}

// endsInBackslash reports whether PostgreSQL (14+) continues line onto the next one: its
// last non-blank character is a backslash.
func endsInBackslash(line string) bool {
	return strings.HasSuffix(strings.TrimRight(line, " \t\r\v\f"), "\\")
}

func parseHBALine(line string) (*HBARule, error) {
	if endsInBackslash(line) && !strings.HasPrefix(strings.TrimLeft(line, " \t\r"), "#") {
		return nil, fmt.Errorf("line continuation with a backslash is not supported here")
	}
	fields, err := hbaFields(line)
	if err != nil || len(fields) == 0 {
		return nil, err
	}
	one := func(f []token, what string) (string, error) {
		if len(f) != 1 || f[0].text == "" && !f[0].quoted {
			return "", fmt.Errorf("%s must be a single value", what)
		}
		return f[0].text, nil
	}
	typ, err := one(fields[0], "connection type")
	if err != nil {
		return nil, err
	}
	r := &HBARule{Type: ConnType(typ)}
	if !r.Type.valid() || fields[0][0].quoted {
		return nil, fmt.Errorf("invalid connection type %q", typ)
	}
	names := func(f []token) []string {
		out := make([]string, len(f))
		for i, t := range f {
			out[i] = t.text
			if t.quoted && slices.Contains(hbaKeywords, t.text) {
				out[i] = `"` + t.text + `"` // a quoted keyword is a plain name; keep the quotes to say so
			}
		}
		return out
	}
	rest := fields[1:]
	if len(rest) < 2 {
		return nil, fmt.Errorf("end of line before the user field")
	}
	r.Databases, r.Users = names(rest[0]), names(rest[1])
	rest = rest[2:]
	if r.Type != Local {
		if len(rest) == 0 {
			return nil, fmt.Errorf("end of line before the address field")
		}
		addr, err := one(rest[0], "address")
		if err != nil {
			return nil, err
		}
		rest = rest[1:]
		switch {
		case strings.Contains(addr, "/"):
			p, err := netip.ParsePrefix(stripZone(addr))
			if err != nil {
				return nil, fmt.Errorf("invalid CIDR address %q", addr)
			}
			r.Address = p
		default:
			if a, err := netip.ParseAddr(stripZone(addr)); err == nil {
				if len(rest) == 0 {
					return nil, fmt.Errorf("end of line before the netmask of %q", addr)
				}
				mask, err := one(rest[0], "netmask")
				if err != nil {
					return nil, err
				}
				m, err := netip.ParseAddr(mask)
				if err != nil || m.Is4() != a.Is4() {
					return nil, fmt.Errorf("invalid netmask %q", mask)
				}
				bits, ok := maskBits(m)
				if !ok {
					return nil, fmt.Errorf("invalid netmask %q", mask)
				}
				r.Address = netip.PrefixFrom(a, bits)
				r.AddressText = addr + " " + mask
				rest = rest[1:]
			} else {
				r.AddressText = addr
			}
		}
	}
	if len(rest) == 0 {
		return nil, fmt.Errorf("end of line before the authentication method")
	}
	m, err := one(rest[0], "authentication method")
	if err != nil {
		return nil, err
	}
	if !slices.Contains(knownMethods, m) {
		return nil, fmt.Errorf("invalid authentication method %q", m)
	}
	r.Method = Method(m)
	for _, o := range rest[1:] {
		for _, t := range o {
			if !strings.Contains(t.text, "=") {
				return nil, fmt.Errorf("authentication option %q is not in name=value form", t.text)
			}
			r.Options = append(r.Options, t.text)
		}
	}
	return r, nil
}

func stripZone(s string) string {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if j := strings.IndexByte(s[i:], '/'); j >= 0 {
			return s[:i] + s[i+j:]
		}
		return s[:i]
	}
	return s
}

func maskBits(m netip.Addr) (int, bool) {
	b := m.AsSlice()
	bits, done := 0, false
	for _, x := range b {
		for k := 7; k >= 0; k-- {
			if x&(1<<k) != 0 {
				if done {
					return 0, false
				}
				bits++
			} else {
				done = true
			}
		}
	}
	return bits, true
}

// quoteHBA writes a name as a pg_hba.conf token, quoting it when it holds blanks, commas,
// '#', or equals a keyword. Names with '"' or control characters are refused by Validate.
func quoteHBA(name string) string {
	if strings.HasPrefix(name, `"`) && strings.HasSuffix(name, `"`) && len(name) >= 2 {
		return name // a quoted keyword read from a file
	}
	if name == "" || strings.ContainsAny(name, " \t\r,#") {
		return `"` + name + `"`
	}
	return name
}

// String renders the rule as one aligned pg_hba.conf line.
func (r HBARule) String() string {
	list := func(xs []string) string {
		if len(xs) == 0 {
			return "all"
		}
		q := make([]string, len(xs))
		for i, x := range xs {
			q[i] = quoteHBA(x)
		}
		return strings.Join(q, ",")
	}
	addr := ""
	if r.Type != Local {
		addr = r.AddressText
		if addr == "" {
			addr = r.Address.String()
		}
	}
	line := fmt.Sprintf("%-9s %-23s %-15s %-23s %s", r.Type, list(r.Databases), list(r.Users), addr, r.Method)
	if len(r.Options) > 0 {
		line += " " + strings.Join(r.Options, " ")
	}
	return strings.TrimRight(line, " ")
}

// Validate reports what would make the rule wrong or unsafe in pg_hba.conf.
func (r HBARule) Validate() report.Problems {
	var ps report.Problems
	if !r.Type.valid() {
		ps.Errorf("type", ErrHBASyntax, "connection type %q is not one of local, host, hostssl, hostnossl, hostgssenc, hostnogssenc", r.Type)
	}
	for i, d := range r.Databases {
		checkHBAName(&ps, fmt.Sprintf("databases[%d]", i), d)
	}
	for i, u := range r.Users {
		checkHBAName(&ps, fmt.Sprintf("users[%d]", i), u)
	}
	if r.Type == Local {
		if r.Address.IsValid() || r.AddressText != "" {
			ps.Errorf("address", ErrPrefix, "a local rule has no address; remove %s", r.Address)
		}
	} else if r.AddressText == "" {
		switch {
		case !r.Address.IsValid():
			ps.Errorf("address", ErrPrefix, "a %s rule needs an address prefix such as ::1/128", r.Type)
		case r.Address != r.Address.Masked():
			ps.Errorf("address", ErrPrefix, "%s has host bits set: write %s", r.Address, r.Address.Masked())
		}
	}
	if !slices.Contains(knownMethods, string(r.Method)) {
		ps.Errorf("method", ErrMethod, "method %q is unknown to PostgreSQL 15", r.Method)
	}
	if r.Method == Peer && r.Type != Local {
		ps.Errorf("method", ErrMethod, "peer works only on local (socket) rules; use scram-sha-256 for %s", r.Type)
	}
	for i, o := range r.Options {
		if !strings.Contains(o, "=") || strings.ContainsAny(o, " \t\r\n\"#,") || strings.HasSuffix(o, "\\") {
			ps.Errorf(fmt.Sprintf("options[%d]", i), ErrHBASyntax, "option %q must be name=value without blanks, quotes, commas or '#', and not end in a backslash (a line continuation)", o)
		}
	}
	return ps
}

func checkHBAName(ps *report.Problems, path, name string) {
	switch {
	case name == "":
		ps.Errorf(path, ErrName, "empty name")
	case len(name) > 63:
		ps.Errorf(path, ErrName, "%q is %d bytes; PostgreSQL keeps only 63", name, len(name))
	case strings.ContainsAny(name, "\"\n\r\x00") || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		ps.Errorf(path, ErrName, "%q holds a double quote or a control character, which pg_hba.conf can't express", name)
	}
}

// Overlaps reports whether some connection could match both rules, judged conservatively:
// group (+role), file (@file), sameuser/samerole and host-name entries count as matching.
func (r HBARule) Overlaps(o HBARule) bool {
	if !typesOverlap(r.Type, o.Type) {
		return false
	}
	if !namesOverlap(r.Databases, o.Databases, true) || !namesOverlap(r.Users, o.Users, false) {
		return false
	}
	if r.Type == Local {
		return true
	}
	if r.AddressText != "" && !r.Address.IsValid() || o.AddressText != "" && !o.Address.IsValid() {
		a, b := r.AddressText, o.AddressText
		if a == "all" || b == "all" || a == "samehost" || b == "samehost" || a == "samenet" || b == "samenet" {
			return true
		}
		return true // a host name may resolve to any address
	}
	return r.Address.Overlaps(o.Address)
}

func typesOverlap(a, b ConnType) bool {
	if a == Local || b == Local {
		return a == b
	}
	if a == Host || b == Host {
		return true
	}
	if a == b {
		return true
	}
	// hostssl vs hostgssenc etc: a connection is one or the other, but hostnossl matches
	// a GSS-encrypted connection and hostnogssenc an SSL one.
	pairs := map[[2]ConnType]bool{
		{HostSSL, HostNoGSSEnc}: true, {HostNoGSSEnc, HostSSL}: true,
		{HostGSSEnc, HostNoSSL}: true, {HostNoSSL, HostGSSEnc}: true,
		{HostNoSSL, HostNoGSSEnc}: true, {HostNoGSSEnc, HostNoSSL}: true,
	}
	return pairs[[2]ConnType{a, b}]
}

func namesOverlap(a, b []string, databases bool) bool {
	if len(a) == 0 {
		a = []string{"all"}
	}
	if len(b) == 0 {
		b = []string{"all"}
	}
	wild := func(x string) bool {
		return x == "all" || x == "sameuser" || x == "samerole" || x == "samegroup" ||
			strings.HasPrefix(x, "+") || strings.HasPrefix(x, "@")
	}
	for _, x := range a {
		for _, y := range b {
			if databases && (x == "replication") != (y == "replication") {
				continue // "replication" matches only replication connections, which "all" does not
			}
			if x == y || wild(x) || wild(y) {
				return true
			}
		}
	}
	return false
}
