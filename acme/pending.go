package acme

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/v6kit/v6kit/internal/fsutil"
)

// PendingSuffix ends the name of a lineage's deploy-pending marker in renewal/
// (renewal/NAME.v6-certs.deploy-pending). The marker is written before live/NAME is
// switched and removed only after a deploy step (check, then reload) passed, so a
// failed check or reload, or a crash between the switch and the deploy, leaves it
// behind and the next run deploys even when nothing is due.
const PendingSuffix = ".v6-certs.deploy-pending"

// PendingDeploy is a deploy-pending marker: a version of a lineage was switched live
// and no deploy step has passed since. It is stored as JSON in
// renewal/NAME.v6-certs.deploy-pending.
type PendingDeploy struct {
	// Format is the file format version (1).
	Format int `json:"format"`
	// Name is the lineage.
	Name string `json:"name"`
	// Version is the archive version switched live.
	Version int `json:"version,omitempty"`
	// Switched is when live/NAME was switched to Version.
	Switched time.Time `json:"switched,omitzero"`
	// Failures counts the deploy steps that failed since the switch.
	Failures int `json:"failures,omitempty"`
	// LastError is the last failed deploy step's message.
	LastError string `json:"last_error,omitempty"`
}

func (s *Store) pendingPath(name string) string { return s.Path("renewal", name+PendingSuffix) }

// writePending records that version n of the lineage is about to go live undeployed.
func (s *Store) writePending(p PendingDeploy) error {
	p.Format = 1
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := checkReplaceable(s.pendingPath(p.Name)); err != nil {
		return fmt.Errorf("write deploy-pending marker: %w", err)
	}
	if _, err := fsutil.WriteFile(s.pendingPath(p.Name), b, fsutil.Options{Mode: 0o644, MkdirAll: true, DirMode: 0o755}); err != nil {
		return fmt.Errorf("write deploy-pending marker: %w", err)
	}
	return nil
}

// ReadPending reads a lineage's deploy-pending marker. It returns ErrNotFound when
// there is none. A marker that cannot be parsed still means a deploy is pending: the
// returned value then holds the name and the error says why the rest is missing.
func (s *Store) ReadPending(name string) (PendingDeploy, error) {
	p := PendingDeploy{Name: name}
	b, err := readRegular(s.pendingPath(name), false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return p, fmt.Errorf("%w: no deploy pending for %s", ErrNotFound, name)
		}
		return p, err
	}
	var got PendingDeploy
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&got); err != nil || got.Format != 1 {
		if err == nil {
			err = fmt.Errorf("unknown format %d", got.Format)
		}
		return p, fmt.Errorf("%s: %v (the deploy is still pending)", s.pendingPath(name), err)
	}
	got.Name = name
	return got, nil
}

// removePending removes the markers of names; a missing one is no error.
func (s *Store) removePending(names []string) error {
	var errs []error
	for _, n := range names {
		if err := os.Remove(s.pendingPath(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(names) > 0 {
		if err := fsutil.SyncDir(s.Path("renewal")); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// scan reads renewal/ once: the lineages with metadata and the names of the
// deploy-pending markers that are regular files (whether or not their lineage
// exists), both sorted, and the markers that are not regular files (a FIFO, a
// directory, a symlink) with their type, from the same readdir.
func (s *Store) scan() (names, pending []string, odd map[string]fs.FileMode, err error) {
	ents, err := os.ReadDir(s.Path("renewal"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil, nil
		}
		return nil, nil, nil, err
	}
	// Entries of any type count: a metadata file that is a directory, FIFO or symlink
	// is listed, so the lineage is reported as damaged instead of vanishing; such a
	// marker is reported, never read, deployed or removed.
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), MetaSuffix); ok {
			names = append(names, n)
		} else if n, ok := strings.CutSuffix(e.Name(), PendingSuffix); ok {
			if !e.Type().IsRegular() {
				if odd == nil {
					odd = map[string]fs.FileMode{}
				}
				odd[n] = e.Type()
				continue
			}
			pending = append(pending, n)
		}
	}
	slices.Sort(names)
	slices.Sort(pending)
	return names, pending, odd, nil
}

// oddMarker describes a deploy-pending marker that is not a regular file, with the fix.
func (s *Store) oddMarker(name string, mode fs.FileMode) string {
	p := s.pendingPath(name)
	return fmt.Sprintf("deploy-pending marker %s is %s, not a marker v6-certs wrote: it is never read, deployed or removed, so whether a deploy of %s is owed is unknown; remove it (rm -r %s) and reload the server once yourself if the live certificate may not be served yet",
		p, describeMode(mode), name, p)
}

// oddMarkerErr is oddMarker as the failure of its lineage ([ErrNotRegular]).
func (s *Store) oddMarkerErr(name string, mode fs.FileMode) error {
	return fmt.Errorf("%w: %s", ErrNotRegular, s.oddMarker(name, mode))
}
