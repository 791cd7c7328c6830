package units

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/v6kit/v6kit/internal/fsutil"
)

// WriteFile writes the file atomically to name under its lock, with mode 0644 for a new
// file (an existing one keeps its owner, group and mode). It is a no-op when the file
// already holds these bytes. A FIFO or another non-regular file at name is refused.
func (f File) WriteFile(name string) (changed bool, err error) {
	res, err := fsutil.Update(context.Background(), name, fsutil.Options{Mode: 0o644, KeepMode: true},
		func([]byte, bool) ([]byte, error) { return f.Bytes(), nil })
	if err != nil {
		return false, fmt.Errorf("units: write %s: %w", name, err)
	}
	return res.Changed, nil
}

// FileState is what [Plan.WriteDir] did with one unit file.
type FileState string

const (
	// Created means the file did not exist and was written.
	Created FileState = "created"
	// Replaced means the file existed with other content (or mode) and was replaced.
	Replaced FileState = "replaced"
	// Unchanged means the file already held these bytes: it was not touched.
	Unchanged FileState = "unchanged"
)

// Written is one file of a [WriteResult].
type Written struct {
	Name  string    `json:"name"`
	State FileState `json:"state"`
}

// WriteResult says what [Plan.WriteDir] did: the directory and, in the plan's order,
// the state of every file (none when it failed: then nothing changed).
type WriteResult struct {
	Dir   string    `json:"dir"`
	Files []Written `json:"files"`
	// Notes says what else was found: leftovers of an interrupted run removed, a run
	// that ended between the renames of its set.
	Notes []string `json:"notes,omitempty"`
}

// Changed returns the names of the files created or replaced.
func (r WriteResult) Changed() []string {
	var n []string
	for _, f := range r.Files {
		if f.State != Unchanged {
			n = append(n, f.Name)
		}
	}
	return n
}

// String is the one-line summary v6-unitgen prints:
// "wrote 2 of 9 units to /etc/systemd/system (7 unchanged)".
func (r WriteResult) String() string {
	c := len(r.Changed())
	return fmt.Sprintf("wrote %d of %d units to %s (%d unchanged)", c, len(r.Files), r.Dir, len(r.Files)-c)
}

// WriteDir writes every file of the plan into dir (for example /etc/systemd/system),
// all or nothing, after checking that dir is writable: every file is locked and staged
// first (mode 0644 for a new file; an existing one keeps its owner, group and mode),
// then they are renamed into place; if one rename fails the ones already replaced are
// put back and the error names them. Unchanged files are not touched. A run killed
// between two renames is reported by the next ([WriteResult.Notes]), which writes the
// whole set again. On error the result holds no file.
func (p *Plan) WriteDir(dir string) (WriteResult, error) {
	return p.writeDir(dir, WriteOptions{}, nil)
}

// WriteOptions controls how [Plan.WriteDirOpts] waits for another run writing the same
// directory (the set's lock, dir/.v6kit-units.lock). The zero value waits, bounded.
type WriteOptions struct {
	// NoWait fails at once, naming the holder's PID, when another run holds the lock
	// (--no-wait).
	NoWait bool
	// Waiting, if set, is told once that another run (pid, 0 if unknown) holds lock,
	// before waiting for it.
	Waiting func(lock string, pid int)
}

// WriteDirOpts is [Plan.WriteDir] with the lock's wait chosen by o.
func (p *Plan) WriteDirOpts(dir string, o WriteOptions) (WriteResult, error) {
	return p.writeDir(dir, o, nil)
}

func (p *Plan) writeDir(dir string, o WriteOptions, beforeRename func(string) error) (WriteResult, error) {
	ctx := context.Background()
	res := WriteResult{Dir: dir, Files: []Written{}}
	if err := fsutil.CheckWritableDir(dir); err != nil {
		return res, fmt.Errorf("units: %w", err)
	}
	set := &fsutil.Set{Name: "units", Dir: dir, BeforeRename: beforeRename}
	defer set.Abort()
	if err := set.Begin(ctx, fsutil.LockOptions{NoWait: o.NoWait, Waiting: o.Waiting}); err != nil {
		return res, fmt.Errorf("units: %w", err)
	}
	for _, f := range p.Files {
		// The set's lock (.v6kit-units.lock) covers every unit: no lock file per unit.
		if err := set.Add(ctx, filepath.Join(dir, f.Name), f.Bytes(), fsutil.Options{Mode: 0o644, KeepMode: true, NoLock: true}); err != nil {
			return res, fmt.Errorf("units: %w", err)
		}
	}
	outs, err := set.Commit()
	res.Notes = set.Notes
	if err != nil {
		return res, fmt.Errorf("units: %w", err)
	}
	for i, o := range outs {
		state := Replaced
		switch {
		case !o.Changed:
			state = Unchanged
		case o.Created:
			state = Created
		}
		res.Files = append(res.Files, Written{Name: p.Files[i].Name, State: state})
	}
	return res, nil
}
