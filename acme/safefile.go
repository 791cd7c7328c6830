package acme

import (
	"errors"
	"fmt"
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
	b, _, err := readRegularStat(path, follow)
	return b, err
}

// readRegularStat is readRegular that also returns the file's fstat(2).
func readRegularStat(path string, follow bool) ([]byte, *syscall.Stat_t, error) {
	// Raw syscalls rather than os.OpenFile: a renew with nothing due reads two or three
	// files per lineage, and an *os.File costs a netpoller registration attempt
	// (epoll_ctl, which fails for regular files), a finalizer and a growing buffer.
	flags := syscall.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, flags, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, nil, fmt.Errorf("%w: %s is a symlink (refusing to follow it)", ErrNotRegular, path)
		}
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, nil, fmt.Errorf("%w: %s is %s", ErrNotRegular, path, describeMode(modeOf(st.Mode)))
	}
	// One read of the size fstat reported (+1 to see growth or the end), more only if
	// the file grew meanwhile.
	b := make([]byte, 0, min(max(st.Size, 0), maxFileSize)+1)
	for len(b) <= maxFileSize {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := syscall.Read(fd, b[len(b):min(cap(b), maxFileSize+1)])
		if err == syscall.EINTR || err == syscall.EAGAIN {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", path, &fs.PathError{Op: "read", Path: path, Err: err})
		}
		if n <= 0 {
			break
		}
		b = b[:len(b)+n]
		if st.Size > 0 && int64(len(b)) == st.Size {
			// All fstat promised: the store replaces files by rename, never in place,
			// so this descriptor's file does not grow (saves the read that sees EOF).
			break
		}
	}
	if len(b) > maxFileSize {
		return nil, nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrNotRegular, path, maxFileSize)
	}
	return b, &st, nil
}

// modeOf turns a stat(2) mode into the file type bits of an fs.FileMode.
func modeOf(m uint32) fs.FileMode {
	switch m & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFBLK:
		return fs.ModeDevice
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFREG:
		return 0
	}
	return fs.ModeIrregular
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
