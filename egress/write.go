package egress

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/v6kit/v6kit/files"
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

// WriteDir writes files under root all or nothing, by the rules of package files: under
// one lock (.v6kit-egress-ROOT.lock beside root, so nothing but the files lands in the
// tree) a second run waits, then writes in turn; every file is staged before the first
// is replaced, a failed replacement puts back those already replaced, and files whose
// bytes and mode are unchanged are left alone. It returns one Result per file, in order;
// what an interrupted run left behind (removed when ours) is said in the first one's
// Notes. It refuses a path that is absolute or leaves root before writing anything.
func WriteDir(root string, fs []File) ([]files.Result, error) {
	return WriteDirOpts(root, fs, WriteOptions{})
}

// WriteOptions controls how [WriteDirOpts] waits for another run writing the same
// root. The zero value waits, bounded.
type WriteOptions struct {
	// NoWait fails at once, naming the holder's PID, when another run holds the lock
	// (--no-wait).
	NoWait bool
	// Waiting, if set, is told once that another run (pid, 0 if unknown) holds lock,
	// before waiting for it.
	Waiting func(lock string, pid int)
}

// WriteDirOpts is [WriteDir] with the lock's wait chosen by o.
func WriteDirOpts(root string, fs []File, o WriteOptions) ([]files.Result, error) {
	for _, f := range fs {
		if f.Path == "" || path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "../") || f.Path == ".." {
			return nil, fmt.Errorf("egress: file path %q must be relative and clean", f.Path)
		}
	}
	root = filepath.Clean(root)
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	set := make([]fsutil.SetFile, len(fs))
	for i, f := range fs {
		set[i] = fsutil.SetFile{Path: filepath.Join(root, filepath.FromSlash(f.Path)), Data: f.Data,
			Opt: fsutil.Options{Mode: f.Mode, MkdirAll: true, NoLock: true}}
	}
	res, err := fsutil.WriteSet(context.Background(), "egress-"+filepath.Base(root), filepath.Dir(root), fsutil.LockOptions{NoWait: o.NoWait, Waiting: o.Waiting}, set)
	if err != nil {
		return res, fmt.Errorf("egress: write %s: %w", root, err)
	}
	return res, nil
}
