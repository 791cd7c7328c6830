package nginxconf

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Version is an nginx version. v6kit renders for 1.22 (Debian 12) through [NewestNginx].
type Version struct {
	Major, Minor, Patch int
}

var (
	// OldestNginx is the oldest nginx v6kit renders for: Debian 12's 1.22.
	OldestNginx = Version{1, 22, 0}
	// NewestNginx is the newest nginx line v6kit knows (any 1.31.x).
	NewestNginx = Version{1, 31, 999}
	// HTTP2DirectiveSince is the first nginx with `http2 on;` (1.25.1); from then on
	// `listen … http2` is deprecated and warns.
	HTTP2DirectiveSince = Version{1, 25, 1}
)

// ParseVersion reads "1.22", "1.25.1", "nginx/1.26.3" or the whole `nginx -v` line
// ("nginx version: nginx/1.22.1"). A missing patch is 0.
func ParseVersion(s string) (Version, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "nginx version:")
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "nginx/")
	if i := strings.IndexAny(s, " (-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("%w: %q is not a version like 1.22 or 1.25.1", ErrNginxVersion, orig)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || p == "" || p[0] == '+' || p[0] == '-' || v < 0 || v > 999 || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("%w: %q is not a version like 1.22 or 1.25.1", ErrNginxVersion, orig)
		}
		n[i] = v
	}
	v := Version{n[0], n[1], n[2]}
	if v.Compare(OldestNginx) < 0 || v.Compare(NewestNginx) > 0 {
		return Version{}, fmt.Errorf("%w: %s is outside %d.%d … %d.%d", ErrNginxVersion, v, OldestNginx.Major, OldestNginx.Minor, NewestNginx.Major, NewestNginx.Minor)
	}
	return v, nil
}

// String formats the version as "1.25.1".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Compare returns -1, 0 or +1.
func (v Version) Compare(o Version) int {
	return cmp.Or(cmp.Compare(v.Major, o.Major), cmp.Compare(v.Minor, o.Minor), cmp.Compare(v.Patch, o.Patch))
}

// HasHTTP2Directive reports whether this nginx has `http2 on;` (1.25.1+).
func (v Version) HasHTTP2Directive() bool { return v.Compare(HTTP2DirectiveSince) >= 0 }
