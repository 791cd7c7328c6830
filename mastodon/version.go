package mastodon

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Version is a Mastodon release number. Prerelease suffixes ("-beta.1") are ignored.
type Version struct {
	Major, Minor, Patch int
}

// V is shorthand for Version{major, minor, patch}.
func V(major, minor, patch int) Version { return Version{major, minor, patch} }

// ErrBadVersion is returned for a version string that is not N.N or N.N.N.
var ErrBadVersion = errors.New("mastodon version must look like 4.5, 4.5.2 or v4.5.2")

// ErrUnknownVersion is returned for a well-formed version outside the supported lines.
var ErrUnknownVersion = errors.New("unsupported mastodon version: v6kit knows the lines 1.6 through 4.7")

// ParseVersion reads "4.5", "v4.5.2", "4.5.2" or "4.7.0-beta.1". A bare line ("4.5")
// has Patch -1, meaning "the newest patch of that line". Whitespace or a control
// character anywhere (a trailing newline too, even in the ignored suffix) is
// [ErrBadVersion]: the version is what was typed, never trimmed.
func ParseVersion(s string) (Version, error) {
	orig := s
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError || !unicode.IsPrint(r)
	}); i >= 0 {
		return Version{}, fmt.Errorf("%w (got %q: remove the whitespace or control character at byte %d)", ErrBadVersion, orig, i)
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("%w (got %q)", ErrBadVersion, orig)
	}
	nums := [3]int{0, 0, -1}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 || p == "" || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("%w (got %q)", ErrBadVersion, orig)
		}
		nums[i] = n
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

// String formats the version as "4.5.2", or "4.5" for a bare line.
func (v Version) String() string {
	if v.Patch < 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Compare returns -1, 0 or +1. A bare line compares as its patch 0.
func (v Version) Compare(o Version) int {
	return cmp.Or(cmp.Compare(v.Major, o.Major), cmp.Compare(v.Minor, o.Minor), cmp.Compare(max(v.Patch, 0), max(o.Patch, 0)))
}

// AtLeast reports whether v >= o.
func (v Version) AtLeast(o Version) bool { return v.Compare(o) >= 0 }

// Before reports whether v < o.
func (v Version) Before(o Version) bool { return v.Compare(o) < 0 }

// Line returns the release line (major.minor) as a bare version.
func (v Version) Line() Version { return Version{v.Major, v.Minor, -1} }

// IsZero reports whether v is the zero Version (used for "still current" in the survey).
func (v Version) IsZero() bool { return v == Version{} }
