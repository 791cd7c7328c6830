package units

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/v6kit/v6kit/internal/fsutil"
)

// WriteFile writes the file atomically to name with mode 0644. It is a no-op when the
// file already holds these bytes.
func (f File) WriteFile(name string) (changed bool, err error) {
	res, err := fsutil.WriteFile(name, f.Bytes(), fsutil.Options{Mode: 0o644})
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
// the state of every file it got to (all of them unless it failed).
type WriteResult struct {
	Dir   string    `json:"dir"`
	Files []Written `json:"files"`
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
// each atomically with mode 0644, after checking that dir is writable. Unchanged files
// are not touched. On error the result holds the files written before it.
func (p *Plan) WriteDir(dir string) (WriteResult, error) {
	res := WriteResult{Dir: dir, Files: []Written{}}
	if err := fsutil.CheckWritableDir(dir); err != nil {
		return res, fmt.Errorf("units: %w", err)
	}
	for _, f := range p.Files {
		name := filepath.Join(dir, f.Name)
		state := Replaced
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			state = Created
		}
		c, err := f.WriteFile(name)
		if err != nil {
			return res, err
		}
		if !c {
			state = Unchanged
		}
		res.Files = append(res.Files, Written{Name: f.Name, State: state})
	}
	return res, nil
}
