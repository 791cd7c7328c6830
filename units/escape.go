package units

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxValue keeps every rendered line well below systemd's LINE_MAX (2048 bytes in
// go-systemd's reader).
const maxValue = 1024

// wordKind says where a quoted word goes: Environment= assignments expand specifiers;
// command lines expand specifiers and $VARIABLES.
type wordKind int

const (
	envWord wordKind = iota
	execWord
)

// checkValue refuses what no unit file can carry: invalid UTF-8, newlines and other
// control characters, and values too long for one line. field names the offending
// setting in the error.
func checkValue(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrValue, field)
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s holds control character %U at byte %d (%q)", ErrValue, field, r, i, s)
		}
	}
	if len(s) > maxValue {
		return fmt.Errorf("%w: %s is %d bytes; the limit is %d", ErrValue, field, len(s), maxValue)
	}
	return nil
}

// quote is the one escaping function of the package: it renders s as one systemd word
// in double quotes, with '\' and '"' backslash-escaped (systemd C-unescapes quoted
// words), '%' doubled (no specifier is expanded), and in command lines '$' doubled (no
// variable is expanded). A lone ";" is refused in command lines, where it separates
// commands. Newlines and control characters are refused naming field.
func quote(field, s string, kind wordKind) (string, error) {
	if err := checkValue(field, s); err != nil {
		return "", err
	}
	if kind == execWord && s == ";" {
		return "", fmt.Errorf("%w: %s is a lone \";\", which systemd takes as a command separator", ErrValue, field)
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '%':
			b.WriteString("%%")
		case '$':
			if kind == execWord {
				b.WriteString("$$")
			} else {
				b.WriteByte('$')
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// plainWord reports whether s can be written bare: letters, digits and a few
// punctuation marks that systemd neither splits, unquotes nor expands.
func plainWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("/._-+,:=@[]", r):
		default:
			return false
		}
	}
	return true
}

// envAssignment renders NAME=VALUE for Environment=, quoted only when it must be.
func envAssignment(field, name, value string) (string, error) {
	w := name + "=" + value
	if plainWord(w) {
		if err := checkValue(field, w); err != nil {
			return "", err
		}
		return w, nil
	}
	return quote(field, w, envWord)
}

// execLine renders a command line: the executable (an absolute path checked by the
// caller, its '%' doubled so no specifier is expanded in it) and its arguments, each
// quoted only when it must be. On error it also returns the failing argument's path,
// field[i].
func execLine(field, exe string, args ...string) (string, string, error) {
	words := []string{strings.ReplaceAll(exe, "%", "%%")}
	for i, a := range args {
		if plainWord(a) {
			words = append(words, a)
			continue
		}
		f := fmt.Sprintf("%s[%d]", field, i)
		q, err := quote(f, a, execWord)
		if err != nil {
			return "", f, err
		}
		words = append(words, q)
	}
	return strings.Join(words, " "), "", nil
}

// specifierSafe doubles '%' in a value systemd expands specifiers in but does not split
// (WorkingDirectory=, User=, paths), after refusing control characters.
func specifierSafe(field, s string) (string, error) {
	if err := checkValue(field, s); err != nil {
		return "", err
	}
	return strings.ReplaceAll(s, "%", "%%"), nil
}
