// Package fsutil writes files the way every v6kit artifact is written: atomically (a temp
// file in the same directory, fsync, rename, fsync of the directory), with a chosen or
// preserved mode, and with the previous content kept as a timestamped backup when it
// changes. A reader never sees a half-written file, and a crash leaves either the old or
// the new content in place.
package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/v6kit/v6kit/files"
)

// Options controls [WriteFile]. The zero value writes with mode 0644 (or the existing
// file's mode), creates no directories and keeps no backup.
type Options struct {
	// Mode is the file's permission bits. Zero: the existing file's mode, else 0644.
	// Secrets pass 0600; an existing file is chmodded to Mode when Mode is set.
	Mode fs.FileMode
	// MkdirAll creates missing parent directories with DirMode.
	MkdirAll bool
	// DirMode is the mode of directories MkdirAll creates. Zero: 0755.
	DirMode fs.FileMode
	// Backup keeps the previous content as NAME.v6kit-YYYYMMDDTHHMMSSZ (mode preserved)
	// when the content changes.
	Backup bool
	// Now is the clock for backup names. Nil: time.Now.
	Now func() time.Time
}

// Result says what [WriteFile] did: the public [files.Result], so the packages that
// return it expose no internal type.
type Result = files.Result

// BackupSuffix is the infix of backup names: NAME + BackupSuffix + timestamp.
const BackupSuffix = ".v6kit-"

// WriteFile replaces name with data atomically. If the file already has these exact
// bytes and mode, nothing is touched. On any error the previous file is unchanged.
func WriteFile(name string, data []byte, opt Options) (Result, error) {
	var res Result
	dir := filepath.Dir(name)
	if opt.MkdirAll {
		dm := opt.DirMode
		if dm == 0 {
			dm = 0o755
		}
		if err := os.MkdirAll(dir, dm); err != nil {
			return res, fmt.Errorf("create directory %s: %w", dir, err)
		}
	}
	mode := opt.Mode
	old, err := os.ReadFile(name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("read %s: %w", name, err)
	}
	var oldMode fs.FileMode
	if exists {
		st, err := os.Stat(name)
		if err != nil {
			return res, fmt.Errorf("stat %s: %w", name, err)
		}
		oldMode = st.Mode().Perm()
		if mode == 0 {
			mode = oldMode
		}
	}
	if mode == 0 {
		mode = 0o644
	}
	if exists && bytes.Equal(old, data) && oldMode == mode.Perm() {
		return res, nil
	}
	if exists && opt.Backup && !bytes.Equal(old, data) {
		now := time.Now
		if opt.Now != nil {
			now = opt.Now
		}
		bak := name + BackupSuffix + now().UTC().Format("20060102T150405Z")
		if err := writeAtomic(bak, old, oldMode); err != nil {
			return res, fmt.Errorf("back up %s: %w", name, err)
		}
		res.Backup = bak
	}
	if err := writeAtomic(name, data, mode.Perm()); err != nil {
		return res, err
	}
	res.Changed = true
	return res, nil
}

func writeAtomic(name string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file in %s: %w", dir, err)
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
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, name); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, name, err)
	}
	return SyncDir(dir)
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
