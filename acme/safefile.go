package acme

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxFileSize bounds what the store reads from one file: PEM bundles, metadata and
// markers are a few KB; anything much larger is not ours.
const maxFileSize = 1 << 20

// readRegular reads a file of the store without ever blocking or following a link it
// does not expect: it opens with O_NONBLOCK (a FIFO or device never blocks the run,
// so SIGTERM and the lock stay ours), with O_NOFOLLOW unless follow is set (live/*.pem
// are links into archive/ by design; our own files never are), and refuses anything
// that is not a regular file. Errors keep fs.ErrNotExist and fs.ErrPermission
// reachable with errors.Is; other refusals wrap [ErrNotRegular].
func readRegular(path string, follow bool) ([]byte, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w: %s is a symlink (refusing to follow it)", ErrNotRegular, path)
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRegular, path, describeMode(st.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrNotRegular, path, maxFileSize)
	}
	return b, nil
}

// describeMode names a file type for messages.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file"
}

// checkReplaceable refuses to write path when something other than a regular file
// (or nothing) is there: a symlink, FIFO or directory at one of the store's
// predictable names (metadata, markers, account files) is reported, never followed,
// read or replaced.
func checkReplaceable(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is %s: refusing to replace it; move it away", ErrNotRegular, path, describeMode(st.Mode()))
	}
	return nil
}

// fileErr classifies a read failure of a lineage file: permission denied is said as
// such ([ErrPermission]); a file that is missing, not regular or unreadable otherwise
// makes the lineage damaged ([ErrCorrupt]).
func fileErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %v", ErrPermission, err)
	case errors.Is(err, ErrNotRegular):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

// sentinelOf is the sentinel a lineage failure reports under: [ErrPermission] or
// [ErrCorrupt].
func sentinelOf(err error) error {
	if errors.Is(err, ErrPermission) || errors.Is(err, fs.ErrPermission) {
		return ErrPermission
	}
	return ErrCorrupt
}
