package egress

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/v6kit/v6kit/internal/fsutil"
)

// EnvFragment renders vars as .env.production lines, each under its comment, for an
// admin to merge (the allinone example merges them itself).
func EnvFragment(vars []EnvVar) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n# Add these lines to the Mastodon host's .env.production, then restart web and sidekiq.\n", Header)
	for _, v := range vars {
		b.WriteByte('\n')
		for _, c := range v.Comment {
			fmt.Fprintf(&b, "# %s\n", c)
		}
		fmt.Fprintf(&b, "%s=%s\n", v.Key, v.Value)
	}
	return b.Bytes()
}

// WriteDir writes files under root, each atomically; files whose bytes and mode are
// unchanged are left alone. It refuses a path that is absolute or leaves root before
// writing anything.
func WriteDir(root string, files []File) error {
	for _, f := range files {
		if f.Path == "" || path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "../") || f.Path == ".." {
			return fmt.Errorf("egress: file path %q must be relative and clean", f.Path)
		}
	}
	for _, f := range files {
		name := filepath.Join(root, filepath.FromSlash(f.Path))
		if _, err := fsutil.WriteFile(name, f.Data, fsutil.Options{Mode: f.Mode, MkdirAll: true}); err != nil {
			return fmt.Errorf("egress: write %s: %w", name, err)
		}
	}
	return nil
}
