// Package fsutil writes files the way every v6kit artifact is written: atomically (a temp
// file in the same directory, fsync, rename, fsync of the directory), with a chosen or
// preserved mode and owner, and with the previous content kept as a backup that is never
// overwritten when it changes. A reader never sees a half-written file, and a crash
// leaves either the old or the new content in place.
//
// Every read-merge-write goes through [Update]: an exclusive flock on a sibling lock file
// ([LockFile]) held from the read to the rename, so two runs at once never lose an
// update and a file created by one is read, not recreated, by the other. [Resolve] is the
// one rule for what sits at a target's name (symlinks, FIFOs, dangling links); [Set]
// writes several files all or nothing. The package doc of v6kit's public package files
// states these rules for users.
package fsutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/v6kit/v6kit/files"
)

// Options controls [WriteFile] and [Update]. The zero value writes with mode 0644 (or the
// existing file's mode), creates no directories and keeps no backup.
type Options struct {
	// Mode is the file's permission bits. Zero: the existing file's mode, else 0644.
	// Without KeepMode an existing file is chmodded to Mode when Mode is set.
	Mode fs.FileMode
	// KeepMode keeps an existing file's mode (Mode is then only a new file's mode).
	KeepMode bool
	// Secret marks a file holding secrets: with KeepMode an existing file that other
	// users can read loses its "other" bits, and any mode change is said in
	// Result.Notes; its backups are never readable by group or others.
	Secret bool
	// MkdirAll creates missing parent directories with DirMode.
	MkdirAll bool
	// DirMode is the mode of directories MkdirAll creates. Zero: 0755.
	DirMode fs.FileMode
	// Backup keeps the previous content as NAME.v6kit-YYYYMMDDTHHMMSSZ beside the file
	// (mode and owner preserved) when the content changes; a name already taken gets a
	// sub-second stamp and a counter: a backup is never overwritten.
	Backup bool
	// BackupDir keeps the previous content in the sibling directory .v6kit-backup/ as
	// NAME.YYYYMMDDTHHMMSS.NNNNNNNNNZ instead, where no glob include (nginx's
	// include DIR/*) picks it up; created exclusively, never overwritten.
	BackupDir bool
	// Now is the clock for backup names. Nil: time.Now.
	Now func() time.Time
	// Lock controls the wait for another run's lock in [Update].
	Lock LockOptions
	// NoLock skips the file's own lock in [Set.Add]: for a caller that holds a lock
	// covering the file (a bundle's tree lock, outside the tree), so no lock files
	// appear inside a tree meant to be copied.
	NoLock bool
}

// Result says what [WriteFile] did: the public [files.Result], so the packages that
// return it expose no internal type.
type Result = files.Result

// BackupSuffix is the infix of backup names beside the file: NAME + BackupSuffix + timestamp.
const BackupSuffix = ".v6kit-"

// BackupDirName is the sibling directory of backups made with Options.BackupDir.
const BackupDirName = ".v6kit-backup"

// Skip, returned by an [Update] merge, writes nothing and makes Update return no error.
var Skip = files.ErrNothingToWrite

// tmpInfix marks v6kit's temp files: "." + NAME + tmpInfix + random.
const tmpInfix = ".v6kit-tmp-"

// WriteFile replaces name with data atomically, by [Resolve]'s rule for what is at name,
// without taking a lock (use [Update] for a read-merge-write). If the file already has
// these exact bytes and mode, nothing is touched. On any error the previous file is
// unchanged.
func WriteFile(name string, data []byte, opt Options) (Result, error) {
	if err := mkdirs(name, opt); err != nil {
		return Result{}, err
	}
	t, err := Resolve(name)
	if err != nil {
		return Result{}, err
	}
	old, err := t.Read()
	if err != nil {
		return Result{}, err
	}
	return commit(t, old, data, opt)
}

// Update is the read-merge-write every v6kit tool uses: it takes name's lock, then
// resolves and reads the file UNDER the lock, removes what an interrupted run left
// behind, calls merge with the current content (exists false: no file yet) and writes
// what merge returns. A second run waits for the first (bounded) and then merges into
// the file the first wrote, so an update is never lost and a new file is never created
// twice. A merge error writes nothing; a merge returning [Skip] writes nothing and
// Update returns no error.
func Update(ctx context.Context, name string, opt Options, merge func(old []byte, exists bool) ([]byte, error)) (Result, error) {
	if err := mkdirs(name, opt); err != nil {
		return Result{}, err
	}
	t, lk, notes, err := lockTarget(ctx, name, opt.Lock, false)
	if err != nil {
		return Result{}, err
	}
	res, err := updateLocked(t, opt, notes, merge)
	if err != nil {
		lk.Abandon() // a refused run leaves no lock file of its own behind
	} else {
		lk.Unlock()
	}
	return res, err
}

func updateLocked(t Target, opt Options, notes []string, merge func(old []byte, exists bool) ([]byte, error)) (Result, error) {
	old, err := t.Read()
	if err != nil {
		return Result{Notes: notes}, err
	}
	data, err := merge(old, t.Exists)
	if errors.Is(err, Skip) {
		return Result{Notes: notes}, nil
	}
	if err != nil {
		return Result{Notes: notes}, err
	}
	res, err := commit(t, old, data, opt)
	res.Notes = append(notes, res.Notes...)
	return res, err
}

// lockTarget resolves name, locks the file it resolves to, resolves again under the lock
// (a link may have moved while we waited) and cleans leftovers.
func lockTarget(ctx context.Context, name string, lo LockOptions, noLock bool) (Target, *Lock, []string, error) {
	if noLock {
		t, err := Resolve(name)
		if err != nil {
			return t, nil, nil, err
		}
		return t, nil, CleanLeftovers(t.Path, time.Now()), nil
	}
	for range 3 {
		t, err := Resolve(name)
		if err != nil {
			return t, nil, nil, err
		}
		lk, err := LockFile(ctx, t.Path, lo)
		if err != nil {
			return t, nil, nil, err
		}
		t2, err := Resolve(name)
		if err != nil {
			lk.Unlock()
			return t2, nil, nil, err
		}
		if t2.Path != t.Path {
			lk.Unlock()
			continue
		}
		return t2, lk, CleanLeftovers(t2.Path, lk.Since), nil
	}
	return Target{}, nil, nil, fmt.Errorf("%s kept changing while waiting for its lock: run again", name)
}

func mkdirs(name string, opt Options) error {
	if !opt.MkdirAll {
		return nil
	}
	dm := opt.DirMode
	if dm == 0 {
		dm = 0o755
	}
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, dm); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	return nil
}

// plan is what commit will do with one file.
type plan struct {
	t       Target
	old     []byte
	data    []byte
	mode    fs.FileMode
	changed bool // content or mode differs
	notes   []string
}

func makePlan(t Target, old, data []byte, opt Options) plan {
	p := plan{t: t, old: old, data: data}
	mode := opt.Mode.Perm()
	switch {
	case !t.Exists:
		if mode == 0 {
			mode = 0o644
		}
	case opt.KeepMode || mode == 0:
		mode = t.Mode
		if opt.Secret && opt.KeepMode && mode&0o007 != 0 {
			mode &^= 0o007
		}
	}
	if t.Exists && mode != t.Mode && opt.Secret {
		how := "tightened"
		if mode&^t.Mode != 0 {
			how = "loosened"
		}
		p.notes = append(p.notes, fmt.Sprintf("%s holds secrets: its mode was %s from %04o to %04o", t.Path, how, t.Mode, mode))
	}
	p.mode = mode
	p.changed = !t.Exists || !bytes.Equal(old, data) || mode != t.Mode
	return p
}

func commit(t Target, old, data []byte, opt Options) (Result, error) {
	p := makePlan(t, old, data, opt)
	res := Result{Notes: p.notes}
	if t.Link != "" {
		res.Target = t.Path
	}
	if !p.changed {
		return res, nil
	}
	// Staged first: a file whose owner cannot be kept is refused before a backup (or
	// the backup directory) exists.
	// A write that fails changed nothing: the notes of what it would have done go.
	failed := func(err error) (Result, error) { return Result{Target: res.Target, Backup: res.Backup}, err }
	tmp, err := stage(t, data, p.mode)
	if err != nil {
		return failed(err)
	}
	if t.Exists && !bytes.Equal(old, data) && (opt.Backup || opt.BackupDir) {
		bak, err := backup(t, old, opt)
		if err != nil {
			_ = os.Remove(tmp)
			return failed(fmt.Errorf("back up %s: %w", t.Path, err))
		}
		res.Backup = bak
	}
	if err := rename(tmp, t.Path); err != nil {
		return failed(err)
	}
	res.Changed = true
	return res, nil
}

// stage writes data to a new temp file beside t.Path (mode set before any byte is
// written; owner and group of the existing file kept), fsynced, and returns its name.
func stage(t Target, data []byte, mode fs.FileMode) (_ string, err error) {
	dir := filepath.Dir(t.Path)
	f, err := os.CreateTemp(dir, "."+shortBase(filepath.Base(t.Path))+tmpInfix)
	if err != nil {
		return "", fmt.Errorf("create temp file in %s: %w", dir, cannotCreate(dir, err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	// Chmod before writing, so a secret never exists on disk with looser bits.
	if err = f.Chmod(mode); err != nil {
		return "", fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if t.Exists {
		if err = keepOwner(f, t, mode); err != nil {
			return "", err
		}
	}
	if _, err = f.Write(data); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", tmp, err)
	}
	return tmp, nil
}

// keepOwner gives the temp file the existing file's owner and group; when that is not
// possible (not root, someone else's file) nothing is written rather than changing who
// owns the file.
func keepOwner(f *os.File, t Target, mode fs.FileMode) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	uid, gid := owner(fi)
	if uid == t.UID && gid == t.GID || t.UID < 0 {
		return nil
	}
	if err := f.Chown(t.UID, t.GID); err != nil {
		return fmt.Errorf("%s is owned by %d:%d and replacing it as uid %d would change that (%v): run as root or as its owner; nothing was written", t.Path, t.UID, t.GID, os.Geteuid(), err)
	}
	// chown may clear set-id bits; the mode was chosen before: set it again.
	return f.Chmod(mode)
}

func rename(tmp, name string) error {
	if err := os.Rename(tmp, name); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rename %s to %s: %w", tmp, name, err)
	}
	return SyncDir(filepath.Dir(name))
}

// backup keeps old, the content of t, under a name no run has used, created exclusively
// (a hard link from a complete temp file: a killed run never leaves a partial backup
// under a backup's name).
func backup(t Target, old []byte, opt Options) (bak string, _ error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	ts := now().UTC()
	mode := t.Mode
	if opt.Secret {
		mode &^= 0o077
	}
	dir, base := filepath.Dir(t.Path), shortBase(filepath.Base(t.Path))
	var names []string
	if opt.BackupDir {
		dir = filepath.Join(dir, BackupDirName)
		made, err := backupDir(dir)
		if err != nil {
			return "", err
		}
		if made {
			defer func() {
				if bak == "" {
					_ = os.Remove(dir) // empty: this run made it and kept nothing in it
				}
			}()
		}
		names = []string{base + "." + ts.Format("20060102T150405.000000000Z")}
	} else {
		names = []string{base + BackupSuffix + ts.Format("20060102T150405Z"), base + BackupSuffix + ts.Format("20060102T150405.000000000Z")}
	}
	tmp, err := stage(Target{Path: filepath.Join(dir, base), Exists: t.Exists, UID: t.UID, GID: t.GID, Mode: mode}, old, mode)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	last := names[len(names)-1]
	for i := 0; i < 1000; i++ {
		n := last + "-" + strconv.Itoa(i)
		if i < len(names) {
			n = names[i]
		}
		p := filepath.Join(dir, n)
		err := os.Link(tmp, p)
		if err == nil {
			if err := SyncDir(dir); err != nil {
				_ = os.Remove(p)
				return "", err
			}
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("create backup %s: %w", p, err)
		}
	}
	return "", fmt.Errorf("no free backup name for %s in %s", base, dir)
}

// backupDir makes the backup directory (0700; made says this call made it) or checks
// that the one there is a real directory owned by root, by us or by its parent's owner:
// never a symlink.
func backupDir(dir string) (made bool, _ error) {
	err := os.Mkdir(dir, 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("create backup directory %s: %w", dir, cannotCreate(filepath.Dir(dir), err))
	}
	made = err == nil
	fi, err := os.Lstat(dir)
	if err != nil {
		return false, fmt.Errorf("backup directory %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return false, fmt.Errorf("%w: the backup directory %s is a symlink: remove it and run again", ErrSymlink, dir)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("the backup directory %s is %s: remove it and run again", dir, kind(fi.Mode()))
	}
	if uid, _ := owner(fi); !trustedOwner(uid) && uid != dirOwner(filepath.Dir(dir)) {
		return false, fmt.Errorf("the backup directory %s is owned by uid %d: remove it and run again", dir, uid)
	}
	return made, nil
}

// cannotCreate explains a refusal to create a file in dir (EACCES, EPERM): who owns dir,
// its mode, who we are and the fix. Other errors are returned as they are.
func cannotCreate(dir string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	fi, serr := os.Stat(dir)
	if serr != nil {
		return err
	}
	uid, gid := owner(fi)
	mode := fi.Mode().Perm()
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return fmt.Errorf("%s is owned by uid %d, gid %d (mode %04o) and uid %d cannot create files in it (%w): run as root or as its owner; nothing was written",
		dir, uid, gid, mode, os.Geteuid(), err)
}

// CleanLeftovers finds the temp files an interrupted run left for target (beside it and
// in its backup directory) and removes those that are ours (our uid, regular files) and
// older than since, the moment the caller took target's lock: no live run can still be
// writing them. Each one found is described in the returned notes.
func CleanLeftovers(target string, since time.Time) []string {
	dir, base := filepath.Dir(target), filepath.Base(target)
	prefixes := []string{"." + shortBase(base) + tmpInfix, "." + base + ".tmp-"}
	var notes []string
	scan := func(dir string, prefixes []string) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			match := false
			for _, p := range prefixes {
				match = match || strings.HasPrefix(e.Name(), p)
			}
			if !match {
				continue
			}
			p := filepath.Join(dir, e.Name())
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			uid, _ := owner(fi)
			if fi.Mode().IsRegular() && uid == os.Geteuid() && fi.ModTime().Before(since) {
				if os.Remove(p) == nil {
					notes = append(notes, fmt.Sprintf("removed %s, a temp file left by an interrupted run", p))
					continue
				}
			}
			notes = append(notes, fmt.Sprintf("found %s, left by another run (not ours, or newer than our lock): left in place", p))
		}
	}
	scan(dir, prefixes)
	scan(filepath.Join(dir, BackupDirName), []string{"." + shortBase(base) + tmpInfix})
	return notes
}

// SyncDir fsyncs a directory so a rename in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// CheckWritableDir reports a clear error when dir does not exist, is not a directory,
// or cannot take a new file, before anything is rendered or written.
func CheckWritableDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".v6kit-probe-*")
	if err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
