package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrSymlink is returned for a symlink v6kit will not follow: one owned by a user who is
// neither root nor the user running v6kit, or one at a name v6kit itself creates (locks,
// markers, backups).
var ErrSymlink = errors.New("refusing to follow a symlink")

// ErrDangling is returned when a target is a symlink to nothing (say an unmounted
// secrets volume): it is never replaced by a new file.
var ErrDangling = errors.New("symlink points to nothing")

// ErrNotRegular is returned for a FIFO, socket, device or directory where a regular file
// is expected: it is refused, never opened for a blocking read.
var ErrNotRegular = errors.New("not a regular file")

// Target is what [Resolve] found at a name.
type Target struct {
	// Name is the name asked for; Path the file actually read and replaced (Name, or the
	// regular file a followed symlink points to).
	Name, Path string
	// Link is the symlink's text when Name is a followed symlink.
	Link string
	// Exists is false when nothing is at Name (then Path is Name).
	Exists bool
	// Mode, UID and GID describe the existing file.
	Mode     fs.FileMode
	UID, GID int
	dev, ino uint64
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "not a regular file"
}

func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// trustedOwner reports whether uid may steer where v6kit writes: root or ourselves.
func trustedOwner(uid int) bool { return uid == 0 || uid == os.Geteuid() }

// Resolve applies v6kit's one rule for the file at name, before anything is read or
// written:
//   - nothing there: a new file will be created at name;
//   - a regular file: it is the target;
//   - a symlink owned by root or by the user running v6kit, pointing (through any
//     number of links, each of them owned by root or that user too, directories on
//     the way included) at an existing regular file: that file is the target and the
//     link stays (Debian's sites-enabled → sites-available, a release's .env.production
//     → shared/); any other symlink is refused ([ErrSymlink]), and a dangling one is an
//     error ([ErrDangling]): never a new file in its place;
//   - anything else (FIFO, socket, device, directory): refused ([ErrNotRegular]).
func Resolve(name string) (Target, error) {
	t := Target{Name: name, Path: name}
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("%s cannot be examined, so it is left untouched: %w", name, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		link, _ := os.Readlink(name)
		uid, _ := owner(fi)
		if !trustedOwner(uid) {
			return t, fmt.Errorf("%w: %s is a symlink to %s owned by uid %d; v6kit follows only links owned by root or by the user running it (uid %d), so another user cannot aim this write at a file of their choosing: name the real file instead", ErrSymlink, name, link, uid, os.Geteuid())
		}
		real, err := followTrusted(name)
		if err != nil {
			if errors.Is(err, ErrSymlink) {
				return t, fmt.Errorf("%w (followed from %s)", err, name)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return t, fmt.Errorf("%w: %s is a symlink to %s, which does not exist (an unmounted volume?): nothing was written; mount it, or remove the link to start a new file", ErrDangling, name, link)
			}
			return t, fmt.Errorf("%s is a symlink to %s that cannot be followed, so it is left untouched: %w", name, link, err)
		}
		t.Link, t.Path = link, real
		if fi, err = os.Lstat(real); err != nil {
			return t, fmt.Errorf("%s (the target of %s) cannot be examined, so it is left untouched: %w", real, name, err)
		}
	}
	if !fi.Mode().IsRegular() {
		return t, fmt.Errorf("%w: %s is %s; v6kit reads and replaces only regular files", ErrNotRegular, t.Path, kind(fi.Mode()))
	}
	t.Exists, t.Mode = true, fi.Mode().Perm()
	t.UID, t.GID = owner(fi)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		t.dev, t.ino = uint64(st.Dev), st.Ino
	}
	return t, nil
}

// maxLinks bounds the links followed from one target, as the kernel's 40.
const maxLinks = 40

// followTrusted follows the link at name to the file it finally names, holding every
// link met on the way to the rule of the first: owned by root or by the user running
// v6kit. The directory part of name is the path the admin gave and is resolved as
// given; from there on every component is examined with lstat, so a link another user
// put on the way (a second hop in a directory they own, or a directory of theirs
// swapped for a link) cannot aim the write elsewhere.
func followTrusted(name string) (string, error) {
	dest, err := filepath.EvalSymlinks(filepath.Dir(name))
	if err != nil {
		return "", err
	}
	rest, links := filepath.Base(name), 0
	for rest != "" {
		comp, more, _ := strings.Cut(rest, "/")
		rest = more
		switch comp {
		case "", ".":
			continue
		case "..":
			dest = filepath.Join(dest, "..") // dest holds no links: lexical is right
			continue
		}
		next := filepath.Join(dest, comp)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if rest != "" && !fi.IsDir() {
				return "", &fs.PathError{Op: "lstat", Path: next, Err: syscall.ENOTDIR}
			}
			dest = next
			continue
		}
		link, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if uid, _ := owner(fi); !trustedOwner(uid) {
			return "", fmt.Errorf("%w: %s is a symlink to %s owned by uid %d; v6kit follows only links owned by root or by the user running it (uid %d), at every step, so another user cannot aim this write at a file of their choosing: name the real file instead", ErrSymlink, next, link, uid, os.Geteuid())
		}
		if links++; links > maxLinks {
			return "", &fs.PathError{Op: "follow", Path: name, Err: syscall.ELOOP}
		}
		if filepath.IsAbs(link) {
			dest = "/"
		}
		if rest != "" {
			link += "/" + rest
		}
		rest = strings.TrimPrefix(link, "/")
	}
	return dest, nil
}

// Read returns the content of the existing target, opened without following a link
// and without blocking, and checked to be the file Resolve saw.
func (t Target) Read() ([]byte, error) {
	if !t.Exists {
		return nil, nil
	}
	f, err := os.OpenFile(t.Path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%s exists but cannot be read, so it is left untouched: %w", t.Path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", t.Path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRegular, t.Path, kind(fi.Mode()))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && t.ino != 0 && (uint64(st.Dev) != t.dev || st.Ino != t.ino) {
		return nil, fmt.Errorf("%s was replaced while being read: run again", t.Path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s exists but cannot be read, so it is left untouched: %w", t.Path, err)
	}
	return b, nil
}

// ReadExisting resolves name by [Resolve]'s rule and reads it: exists is false only
// when nothing at all is at name. A dangling link, a FIFO or an unreadable file is an
// error naming it, never "no file".
func ReadExisting(name string) (data []byte, exists bool, err error) {
	t, err := Resolve(name)
	if err != nil {
		return nil, false, err
	}
	b, err := t.Read()
	return b, t.Exists, err
}

// ReadInput reads an input file given by the user (a password file, say): symlinks are
// followed (it is only read), but anything that is not a regular file is refused
// without blocking, so a FIFO never hangs a run.
func ReadInput(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRegular, name, kind(fi.Mode()))
	}
	return io.ReadAll(f)
}
