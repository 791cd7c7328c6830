package acme

import (
	"fmt"
	"strings"
)

// CheckEmail checks a contact e-mail address as an RFC 5322 addr-spec in its plain
// form: local-part "@" domain, where the local part is a dot-atom (atext characters
// A-Z a-z 0-9 ! # $ % & ' * + - / = ? ^ _ ` { | } ~ in dot-separated non-empty runs:
// no leading, trailing or double dot) of at most 64 bytes, and the domain is a DNS
// host name of at least two labels (letters, digits and inner hyphens, each label at
// most 63 bytes; the top label not all digits), the whole address at most 254 bytes
// (RFC 5321). Quoted local parts, comments, display names ("Name <a@b>"), domain
// literals ([192.0.2.1]), whitespace and non-ASCII are refused: no CA needs them, and
// each is a way to smuggle quotes or spaces into a config file or a command line.
// The error wraps [ErrEmail] and names the value and the offending part. An empty
// address is an error too: callers treat "no e-mail" before calling it.
//
// Note that the dot-atom allows characters a shell or YAML treats specially
// (' $ ` { } | & # ...): an address that passes must still be quoted (or passed as one
// argv element) wherever it is pasted.
func CheckEmail(addr string) error {
	bad := func(why string, a ...any) error {
		return &emailError{addr: addr, why: fmt.Sprintf(why, a...)}
	}
	if addr == "" {
		return bad("is empty: give one like admin@example.org, or leave the flag out")
	}
	if len(addr) > 254 {
		return bad("is %d bytes long: at most 254 fit in SMTP (RFC 5321)", len(addr))
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return bad("has no @: give one like admin@example.org")
	}
	local, domain := addr[:at], addr[at+1:]
	if local == "" {
		return bad("has nothing before the @")
	}
	if len(local) > 64 {
		return bad("has a local part of %d bytes: at most 64 (RFC 5321)", len(local))
	}
	for _, atom := range strings.Split(local, ".") {
		if atom == "" {
			return bad("has a leading, trailing or double dot before the @")
		}
		for i := 0; i < len(atom); i++ {
			if !isAtext(atom[i]) {
				return bad("has %q before the @: only letters, digits and !#$%%&'*+-/=?^_`{|}~ between dots (no quotes, spaces, brackets or commas)", rune(atom[i]))
			}
		}
	}
	if domain == "" {
		return bad("has nothing after the @")
	}
	if strings.HasPrefix(domain, "[") {
		return bad("has an address literal after the @: use a domain name")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return bad("has a single-label domain %q: use a fully qualified domain like example.org", domain)
	}
	for _, l := range labels {
		if l == "" {
			return bad("has an empty label in the domain %q", domain)
		}
		if len(l) > 63 {
			return bad("has a domain label longer than 63 bytes")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad("has domain label %q starting or ending with a hyphen", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return bad("has %q in the domain: use letters, digits and hyphens (IDN domains in punycode, xn--…)", rune(c))
			}
		}
	}
	top := labels[len(labels)-1]
	if strings.Trim(top, "0123456789") == "" {
		return bad("ends in an all-numeric label %q: use a domain name, not an IP address", top)
	}
	return nil
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// emailError is a [CheckEmail] failure: it reads "invalid e-mail address "x": why"
// and unwraps to [ErrEmail].
type emailError struct{ addr, why string }

func (e *emailError) Error() string {
	return fmt.Sprintf("invalid e-mail address %q: %s", e.addr, e.why)
}
func (e *emailError) Unwrap() error { return ErrEmail }
