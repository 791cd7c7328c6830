// Package pathlimit checks a path against the limits its consumers enforce, so a path
// that nginx or the kernel would refuse is refused where it is taken, with the limit
// named: Linux's PATH_MAX (4096 bytes with the NUL, so 4095) and NAME_MAX (255 bytes a
// component), and nginx's parameter buffer (NGX_CONF_BUFFER, 4096: `nginx -t` says "too
// long parameter" for a parameter of 4096 bytes or more, measured with Debian's nginx
// 1.22).
package pathlimit

import (
	"fmt"
	"strings"
)

const (
	// PathMax is the longest path, in bytes, the kernel resolves (PATH_MAX less the NUL).
	PathMax = 4095
	// NameMax is the longest component, in bytes (NAME_MAX).
	NameMax = 255
)

// Check returns an error naming the limit when p is longer than [PathMax] bytes or one of
// its components is longer than [NameMax]; the error quotes only the start of p.
func Check(p string) error {
	if len(p) > PathMax {
		return fmt.Errorf("path %q… is %d bytes: the kernel (PATH_MAX) and nginx (a parameter under 4096 bytes) take at most %d; choose a shorter path", p[:32], len(p), PathMax)
	}
	for _, c := range strings.Split(p, "/") {
		if len(c) > NameMax {
			return fmt.Errorf("path component %q… is %d bytes: a file or directory name takes at most %d (NAME_MAX); rename it", c[:32], len(c), NameMax)
		}
	}
	return nil
}
