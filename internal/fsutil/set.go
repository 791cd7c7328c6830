package fsutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Set writes several files all or nothing: [Set.Add] locks, reads and stages each file
// (a complete, fsynced temp file beside it); [Set.Commit] then renames them one after
// the other, and if one rename fails puts back every file it had already replaced, so
// the set is old or new, never mixed. While the renames run a marker file
// (.v6kit-NAME.pending in Dir) lists them: a crash between two renames is reported by
// the next run ([Set.Notes]) and repaired by it writing the set again.
type Set struct {
	// Name names the set in its marker ("units", "bundle").
	Name string
	// Dir holds the marker and the set's own lock.
	Dir string
	// BeforeRename, if set, runs before each rename and can fail it: fault injection
	// for tests.
	BeforeRename func(path string) error
	// Notes says what was found (leftovers, a pending marker) and changed (modes).
	Notes []string

	lock  *Lock
	stale bool
	items []*setItem
	done  bool
	ok    bool // Commit succeeded: the locks stay (Abort would otherwise abandon them)
}

type setItem struct {
	p   plan
	opt Options
	tmp string
	lk  *Lock
	res Result
}

// Outcome is what Commit did with one file.
type Outcome struct {
	Path string
	Result
	// Created is true when no file was there before.
	Created bool
}

func (s *Set) marker() string { return filepath.Join(s.Dir, ".v6kit-"+s.Name+".pending") }

// Begin takes the set's lock (a flock on Dir/.v6kit-NAME.lock, by [LockFile]'s rules)
// and reports a marker left by a run that ended between renames.
func (s *Set) Begin(ctx context.Context, lo LockOptions) error {
	lk, err := lockPath(ctx, filepath.Join(s.Dir, ".v6kit-"+s.Name+".lock"), lo)
	if err != nil {
		return err
	}
	s.lock = lk
	fi, err := os.Lstat(s.marker())
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is %s: remove it", ErrNotRegular, s.marker(), kind(fi.Mode()))
	}
	b, err := os.ReadFile(s.marker())
	if err != nil {
		return err
	}
	s.stale = true
	list := strings.Fields(string(b))
	s.Notes = append(s.Notes, fmt.Sprintf("a previous run ended between the renames of its %s (%s): some of these may be old and some new; this run writes every one of them again", s.Name, strings.Join(list, ", ")))
	return nil
}

// Add locks the file at name, reads it and stages data for it. Nothing is replaced yet.
func (s *Set) Add(ctx context.Context, name string, data []byte, opt Options) error {
	if s.done {
		return errors.New("fsutil: Set.Add after Commit")
	}
	if err := mkdirs(name, opt); err != nil {
		return err
	}
	t, lk, notes, err := lockTarget(ctx, name, opt.Lock, opt.NoLock)
	if err != nil {
		return err
	}
	s.Notes = append(s.Notes, notes...)
	it := &setItem{opt: opt, lk: lk}
	s.items = append(s.items, it)
	old, err := t.Read()
	if err != nil {
		return err
	}
	it.p = makePlan(t, old, data, opt)
	s.Notes = append(s.Notes, it.p.notes...)
	if t.Link != "" {
		it.res.Target = t.Path
	}
	if !it.p.changed {
		return nil
	}
	it.tmp, err = stage(t, data, it.p.mode)
	return err
}

// Commit renames every staged file into place (backups first). On a failure it restores
// every file already replaced (old bytes, mode and owner; a created one is removed) and
// the error names the file that failed and each file restored.
func (s *Set) Commit() ([]Outcome, error) {
	defer s.Abort()
	s.done = true
	var changed []string
	for _, it := range s.items {
		if it.tmp != "" {
			changed = append(changed, it.p.t.Path)
		}
	}
	if len(changed) > 1 {
		if err := writeMarker(s.marker(), changed); err != nil {
			return nil, err
		}
	}
	var done []*setItem
	for _, it := range s.items {
		if it.tmp == "" {
			continue
		}
		err := func() error {
			if it.p.t.Exists && (it.opt.Backup || it.opt.BackupDir) && string(it.p.old) != string(it.p.data) {
				bak, err := backup(it.p.t, it.p.old, it.opt)
				if err != nil {
					return fmt.Errorf("back up %s: %w", it.p.t.Path, err)
				}
				it.res.Backup = bak
			}
			if s.BeforeRename != nil {
				if err := s.BeforeRename(it.p.t.Path); err != nil {
					return err
				}
			}
			if err := os.Rename(it.tmp, it.p.t.Path); err != nil {
				return fmt.Errorf("rename %s to %s: %w", it.tmp, it.p.t.Path, err)
			}
			it.tmp = ""
			return SyncDir(filepath.Dir(it.p.t.Path))
		}()
		if err != nil {
			return nil, s.rollback(it.p.t.Path, err, done)
		}
		it.res.Changed = true
		done = append(done, it)
	}
	if len(changed) > 1 || s.stale {
		_ = os.Remove(s.marker())
		_ = SyncDir(s.Dir)
	}
	s.ok = true
	out := make([]Outcome, 0, len(s.items))
	for _, it := range s.items {
		out = append(out, Outcome{Path: it.p.t.Path, Result: it.res, Created: !it.p.t.Exists})
	}
	return out, nil
}

func (s *Set) rollback(failed string, cause error, done []*setItem) error {
	var restored, lost []string
	for _, it := range slices.Backward(done) {
		var err error
		if it.p.t.Exists {
			var tmp string
			if tmp, err = stage(it.p.t, it.p.old, it.p.t.Mode); err == nil {
				err = rename(tmp, it.p.t.Path)
			}
		} else {
			err = os.Remove(it.p.t.Path)
		}
		if err != nil {
			lost = append(lost, fmt.Sprintf("%s (%v; its old content is in %s)", it.p.t.Path, err, it.res.Backup))
			continue
		}
		if it.res.Backup != "" {
			_ = os.Remove(it.res.Backup)
		}
		restored = append(restored, it.p.t.Path)
	}
	msg := fmt.Sprintf("writing %s failed: %v; nothing of this %s changed", failed, cause, s.Name)
	if len(restored) > 0 {
		msg = fmt.Sprintf("writing %s failed: %v; the files already replaced were put back as they were: %s", failed, cause, strings.Join(restored, ", "))
	}
	if len(lost) > 0 {
		return fmt.Errorf("%s; NOT restored: %s", msg, strings.Join(lost, "; "))
	}
	if len(done) > 0 || s.Dir != "" {
		_ = os.Remove(s.marker())
	}
	return errors.New(msg)
}

// Abort removes staged temp files and releases every lock; before a successful Commit
// it abandons them ([Lock.Abandon]: a lock file this run made is removed, so a refused
// set leaves nothing behind). Safe after Commit.
func (s *Set) Abort() {
	release := (*Lock).Abandon
	if s.ok {
		release = func(l *Lock) { _ = l.Unlock() }
	}
	for _, it := range s.items {
		if it.tmp != "" {
			_ = os.Remove(it.tmp)
			it.tmp = ""
		}
		release(it.lk)
	}
	release(s.lock)
	s.done = true
}

func writeMarker(name string, list []string) error {
	_ = os.Remove(name)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create marker %s: %w", name, err)
	}
	_, err = f.WriteString(strings.Join(list, "\n") + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write marker %s: %w", name, err)
	}
	return SyncDir(filepath.Dir(name))
}

// Replace is [Update] for a file rendered whole: data replaces whatever is there, under
// the file's lock (a second run waits, then replaces it in turn), with Update's rules for
// backups, links and what an interrupted run left behind.
func Replace(ctx context.Context, name string, data []byte, opt Options) (Result, error) {
	return Update(ctx, name, opt, func([]byte, bool) ([]byte, error) { return data, nil })
}

// SetFile is one file of [WriteSet].
type SetFile struct {
	Path string
	Data []byte
	Opt  Options
}

// WriteSet writes files all or nothing as the [Set] called name with its lock and marker
// in dir, and returns one Result per file, in order; what the set found (leftovers, a
// marker of an interrupted run) is in the first Result's Notes.
func WriteSet(ctx context.Context, name, dir string, lo LockOptions, files []SetFile) ([]Result, error) {
	s := &Set{Name: name, Dir: dir}
	defer s.Abort()
	if err := s.Begin(ctx, lo); err != nil {
		return nil, err
	}
	for _, f := range files {
		f.Opt.Lock = lo
		if err := s.Add(ctx, f.Path, f.Data, f.Opt); err != nil {
			return nil, fmt.Errorf("%s: %w (nothing was written)", f.Path, err)
		}
	}
	outs, err := s.Commit()
	if err != nil {
		return nil, err
	}
	res := make([]Result, len(outs))
	for i, o := range outs {
		res[i] = o.Result
	}
	if len(res) > 0 {
		res[0].Notes = append(slices.Clone(s.Notes), res[0].Notes...)
	}
	return res, nil
}
