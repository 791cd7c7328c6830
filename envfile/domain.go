package envfile

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// NormalizeDomain checks a domain for LOCAL_DOMAIN, WEB_DOMAIN or ALTERNATE_DOMAINS and
// returns its ASCII form: a Unicode name becomes punycode (bücher.example →
// xn--bcher-kva.example) and letters become lower case. Refused, with the reason: an empty
// name, spaces or control characters, a scheme, port or path, an IP address, an empty
// label (".."), a label over 63 or a name over 253 characters, a single label, and
// anything but letters, digits and inner hyphens.
func NormalizeDomain(name string) (string, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %q %s", ErrDomain, clip(name), why) }
	switch {
	case name == "":
		return "", bad("is empty")
	case strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "", bad("contains a space, newline or control character")
	case strings.Contains(name, "://"):
		return "", bad("has a scheme: give the bare name, e.g. example.com")
	case strings.ContainsAny(name, "/:;[]@"):
		return "", bad("contains '/', ':', ';', '@' or brackets: give the bare name without port or path")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "", bad("is an IP address: Mastodon needs a domain name")
	}
	trimmed := strings.TrimSuffix(name, ".")
	if strings.Contains(trimmed, "..") || strings.HasPrefix(trimmed, ".") {
		return "", bad("has an empty label ('..' or a leading dot)")
	}
	ascii, err := idna.Lookup.ToASCII(trimmed)
	if err != nil {
		return "", bad(fmt.Sprintf("is not a valid internationalised name (%v)", err))
	}
	if len(ascii) > 253 {
		return "", bad(fmt.Sprintf("is %d characters long; a domain name has at most 253", len(ascii)))
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", bad("is a single label: use a fully qualified name such as social.example.org")
	}
	for _, l := range labels {
		if why := labelProblem(l); why != "" {
			return "", bad(why)
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", bad("ends in an all-numeric label: that is not a domain name")
	}
	return ascii, nil
}

// labelProblem says what is wrong with one label of an ASCII (punycode, lower-case) host
// name, "" when nothing is.
func labelProblem(l string) string {
	if l == "" || len(l) > 63 {
		return "has a label that is empty or longer than 63 characters"
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Sprintf("has the label %q starting or ending with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Sprintf("has %q in a label: use letters, digits and hyphens", c)
		}
	}
	return ""
}

// isHost reports whether v names a host a client can connect to: an IP literal, a domain
// name ([NormalizeDomain]) or a one-label name such as localhost.
func isHost(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	if _, err := NormalizeDomain(v); err == nil {
		return true
	}
	return labelProblem(strings.ToLower(v)) == ""
}
