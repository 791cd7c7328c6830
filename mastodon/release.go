package mastodon

import (
	"fmt"
	"strings"
)

// Every v6kit package names its target release the same way: a field Release of type
// [Release], whose zero value means [Newest]. A [Release] from [Lookup] is always on a
// supported line; one built by hand is checked with [Release.Check].

// IsZero reports whether r is the zero Release, which every v6kit package reads as
// [Newest].
func (r Release) IsZero() bool { return r.Version.IsZero() }

// OrNewest returns r, or [Newest] when r is zero.
func (r Release) OrNewest() Release {
	if r.IsZero() {
		return Newest()
	}
	return r
}

// Check returns nil when r is zero or on a supported line (1.6 … 4.7), and otherwise an
// error wrapping [ErrUnknownVersion] that lists the supported lines.
func (r Release) Check() error {
	if r.IsZero() {
		return nil
	}
	for _, l := range lines {
		if l.major == r.Version.Major && l.minor == r.Version.Minor {
			if r.Version.Patch < 0 {
				return fmt.Errorf("%w: %d.%d has no patch number: use Lookup", ErrBadVersion, r.Version.Major, r.Version.Minor)
			}
			return nil
		}
	}
	return fmt.Errorf("%w (got %s; supported: %s)", ErrUnknownVersion, r.Version, strings.Join(Lines(), ", "))
}

// MarshalText renders the exact version ("4.5.15"); the zero Release renders as "".
func (r Release) MarshalText() ([]byte, error) {
	if r.IsZero() {
		return []byte{}, nil
	}
	return []byte(r.String()), nil
}

// UnmarshalText is [Lookup] ("4.5", "v4.5.2"); "" gives the zero Release (newest). With
// it a Release is a JSON string and a command-line flag (flag.TextVar).
func (r *Release) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*r = Release{}
		return nil
	}
	rel, err := Lookup(string(b))
	if err != nil {
		return err
	}
	*r = rel
	return nil
}
