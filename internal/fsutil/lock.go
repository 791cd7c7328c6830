package fsutil

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned when another run holds a file's lock and the caller chose not
// to wait (or the bounded wait ran out).
var ErrLocked = errors.New("another v6kit run is writing this file")

// DefaultLockWait is how long [LockFile] waits for another run by default.
const DefaultLockWait = 2 * time.Minute

// LockOptions controls [LockFile]. The zero value waits up to [DefaultLockWait].
type LockOptions struct {
	// NoWait fails at once with [ErrLocked] when another run holds the lock.
	NoWait bool
	// Wait bounds the wait. Zero: DefaultLockWait.
	Wait time.Duration
	// Waiting, if set, is told once when the lock is busy, with the holder's PID (0 when
	// unknown), before waiting.
	Waiting func(lock string, pid int)
}

// Lock is a held exclusive flock on a target's sibling lock file.
type Lock struct {
	f *os.File
	// Name is the lock file.
	Name string
	// Since is when the lock was acquired: leftovers older than this come from a run
	// that no longer holds it.
	Since time.Time
	// created: this run made the lock file (see [Lock.Abandon]).
	created bool
}

// shortBase keeps the names v6kit derives from base (locks, temp files, backups) within
// NAME_MAX (255 bytes): a base longer than 180 bytes is cut and given a hash of the
// whole name, so a 255-byte target can still be updated.
func shortBase(base string) string {
	if len(base) <= 180 {
		return base
	}
	sum := sha256.Sum256([]byte(base))
	cut := 160
	for cut > 0 && !utf8.RuneStart(base[cut]) {
		cut--
	}
	return base[:cut] + "~" + hex.EncodeToString(sum[:8])
}

// LockName is the lock file of target: ".NAME.v6kit-lock" in the same directory.
func LockName(target string) string {
	return filepath.Join(filepath.Dir(target), "."+shortBase(filepath.Base(target))+".v6kit-lock")
}

// LockFile takes the exclusive lock of target: a flock on [LockName](target), a file
// opened with O_NOFOLLOW (a symlink there is refused, never followed) and checked to be
// a regular file with one link, owned by root, by us or by the directory's owner. The
// lock file stays after Unlock (removing it would race); it never holds data. A run that
// is refused calls [Lock.Abandon] instead, which removes a lock file it made.
func LockFile(ctx context.Context, target string, opt LockOptions) (*Lock, error) {
	return lockPath(ctx, LockName(target), opt)
}

func lockPath(ctx context.Context, name string, opt LockOptions) (*Lock, error) {
	for {
		l, err := lockOnce(ctx, name, opt)
		if !errors.Is(err, errLockGone) {
			return l, err
		}
		// The holder removed the lock file ([Lock.Remove]) while this run waited on it:
		// the lock is now whatever sits at name, so open that.
	}
}

// errLockGone: the flock was taken on a lock file no longer at its name.
var errLockGone = errors.New("lock file removed by its holder")

func lockOnce(ctx context.Context, name string, opt LockOptions) (*Lock, error) {
	// Created exclusively first, so the run knows whether the lock file is its own.
	const flags = os.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	created := true
	f, err := os.OpenFile(name, flags|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		created = false
		f, err = os.OpenFile(name, flags, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errLockGone // removed between the two opens: try again
		}
		if errors.Is(err, fs.ErrPermission) {
			if fi, serr := os.Lstat(name); serr == nil {
				uid, gid := owner(fi)
				return nil, fmt.Errorf("open lock file %s: it is owned by uid %d, gid %d (mode %04o) and uid %d cannot open it (%w): run as root or as its owner; nothing was written",
					name, uid, gid, fi.Mode().Perm(), os.Geteuid(), err)
			}
		}
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w: the lock file %s is a symlink; v6kit never follows a link at a name it creates: remove it (rm %s) and run again", ErrSymlink, name, name)
		}
		return nil, fmt.Errorf("open lock file %s: %w", name, cannotCreate(filepath.Dir(name), err))
	}
	fi, err := f.Stat()
	if err == nil {
		st, _ := fi.Sys().(*syscall.Stat_t)
		switch {
		case !fi.Mode().IsRegular():
			err = fmt.Errorf("%w: the lock file %s is %s: remove it and run again", ErrNotRegular, name, kind(fi.Mode()))
		case st != nil && st.Nlink != 1:
			err = fmt.Errorf("the lock file %s has %d hard links: remove it and run again", name, st.Nlink)
		case st != nil && !trustedOwner(int(st.Uid)) && int(st.Uid) != dirOwner(filepath.Dir(name)):
			err = fmt.Errorf("the lock file %s is owned by uid %d, neither root, us (uid %d) nor the directory's owner: remove it and run again", name, st.Uid, os.Geteuid())
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	wait := opt.Wait
	if wait <= 0 {
		wait = DefaultLockWait
	}
	deadline := time.Now().Add(wait)
	told := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if now, serr := os.Lstat(name); serr != nil || !os.SameFile(fi, now) {
				f.Close()
				return nil, errLockGone
			}
			return &Lock{f: f, Name: name, Since: time.Now(), created: created}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		pid := lockHolder(fi)
		who := "another run"
		if pid > 0 {
			who = "PID " + strconv.Itoa(pid)
		}
		if opt.NoWait {
			f.Close()
			return nil, fmt.Errorf("%w: %s holds %s (no wait asked): try again when it has finished", ErrLocked, who, name)
		}
		if !told && opt.Waiting != nil {
			opt.Waiting(name, pid)
			told = true
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w: %s still holds %s after %s: is it stuck? (check with ps -p %d)", ErrLocked, who, name, wait, pid)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s held by %s: %w", name, who, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func dirOwner(dir string) int {
	fi, err := os.Stat(dir)
	if err != nil {
		return -2
	}
	uid, _ := owner(fi)
	return uid
}

// Unlock releases the lock. It is safe to call on nil and more than once.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the only descriptor releases the flock
	l.f = nil
	return err
}

// Remove deletes the lock file and releases the lock, for a run that leaves nothing
// behind (a refused run into a directory it created). It is safe against waiters: each
// run checks, once it holds the flock, that the file is still at its name, and opens it
// again if not.
func (l *Lock) Remove() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := os.Remove(l.Name)
	if uerr := l.Unlock(); err == nil {
		err = uerr
	}
	return err
}

// Abandon is Unlock for a run that was refused and wrote nothing: a lock file this run
// created is removed ([Lock.Remove]), so the refused run leaves nothing behind (and no
// lock file of a user the next run, as root or as the file's owner, would refuse to
// trust); one that was there before stays. Safe on nil and after Unlock.
func (l *Lock) Abandon() {
	if l != nil && l.created {
		_ = l.Remove()
		return
	}
	_ = l.Unlock()
}

// LockHolder returns the PID holding a flock on the file name (0 if none or unknown),
// from /proc/locks: for a lock taken elsewhere than [LockFile] (v6-certs' store lock).
func LockHolder(name string) int {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return lockHolder(fi)
}

// lockHolder finds the PID holding a flock on the file in /proc/locks (0 if unknown).
func lockHolder(fi os.FileInfo) int {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer f.Close()
	want := fmt.Sprintf(":%d", st.Ino)
	major, minor := unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev))
	dev := fmt.Sprintf("%02x:%02x%s", major, minor, want)
	s := bufio.NewScanner(f)
	for s.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 12345 00:2a:1234567 0 EOF
		fs := strings.Fields(s.Text())
		if len(fs) < 6 || fs[1] != "FLOCK" || fs[0] == "->" {
			continue
		}
		if strings.EqualFold(fs[5], dev) {
			if pid, err := strconv.Atoi(fs[4]); err == nil {
				return pid
			}
		}
	}
	return 0
}
