package acme

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/internal/fsutil"
)

// DefaultKeep is how many versions older than the live one a lineage keeps when
// [Store.Keep] is zero: 5, as certbot keeps.
const DefaultKeep = 5

// keep returns the effective number of previous versions kept, or -1 for all.
func (s *Store) keep() int {
	switch {
	case s.Keep < 0:
		return -1
	case s.Keep == 0:
		return DefaultKeep
	}
	return s.Keep
}

// pruneSelect picks the versions to remove from a lineage holding versions vs whose
// live version is cur, keeping keep versions older than cur (negative: all). The live
// version and every version newer than it (written but not yet switched in, which
// [Store.Repair] may still complete) are never picked. The result is ascending.
func pruneSelect(vs []int, cur, keep int) []int {
	if keep < 0 || cur <= 0 {
		return nil
	}
	var older []int
	for _, v := range vs {
		if v > 0 && v < cur && !slices.Contains(older, v) {
			older = append(older, v)
		}
	}
	slices.Sort(older)
	if len(older) <= keep {
		return nil
	}
	return older[:len(older)-keep]
}

// Versions returns the version numbers a lineage holds, ascending: those with any
// archive file (archive/NAME/{cert,chain,fullchain,privkey}N.pem, certbot's numbering
// included) or a version directory live/.NAME.vN.
func (s *Store) Versions(name string) ([]int, error) {
	if err := ValidateCertName(name); err != nil {
		return nil, err
	}
	vs, err := s.archiveVersions(name)
	if err != nil {
		return nil, err
	}
	lv, err := s.liveDirVersions(name)
	if err != nil {
		return nil, err
	}
	for _, v := range lv {
		if !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return vs, nil
}

// liveDirVersions returns the N of every live/.NAME.vN directory.
func (s *Store) liveDirVersions(name string) ([]int, error) {
	ents, err := os.ReadDir(s.Path("live"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	prefix := "." + name + ".v"
	var out []int
	for _, e := range ents {
		if v, ok := strings.CutPrefix(e.Name(), prefix); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 && strconv.Itoa(n) == v {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// Prune applies the retention policy ([Store.Keep]) to a lineage: it removes the
// archive files and live/.NAME.vK directories of versions older than the newest Keep
// versions before the live one, oldest first, and returns the versions it removed.
// It never removes the version live/NAME points to, nor any newer version (one
// written but not yet switched in, which [Store.Repair] completes), and removes
// nothing while live/NAME is still certbot's own real directory (an imported lineage
// before its first renewal by v6-certs) or cannot be read. certbot's
// live/.NAME.certbot directory, kept at the first switch, goes with the version it
// points to. An error leaves the live version as it is; [Client] reports it as a
// warning. Callers hold the store's lock ([Client] prunes after every switch).
func (s *Store) Prune(name string) ([]int, error) {
	if err := ValidateCertName(name); err != nil {
		return nil, err
	}
	keep := s.keep()
	if keep < 0 {
		return nil, nil
	}
	st, err := os.Lstat(s.LiveDir(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("prune %s: %w", name, err)
	}
	if st.Mode()&fs.ModeSymlink == 0 {
		return nil, nil // certbot's original live directory: its files are still in use as they are
	}
	cur, err := s.liveVersion(name)
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", name, err)
	}
	vs, err := s.Versions(name)
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", name, err)
	}
	drop := pruneSelect(vs, cur, keep)
	if len(drop) == 0 {
		return nil, nil
	}
	certbotDir := s.Path("live", "."+name+".certbot")
	certbotVersion := 0
	if t, err := os.Readlink(filepath.Join(certbotDir, "cert.pem")); err == nil {
		certbotVersion, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(t), "cert"), ".pem"))
	}
	var removed []int
	var errs []error
	for _, v := range drop {
		if v >= cur { // pruneSelect never picks these; checked again because nothing else matters as much
			continue
		}
		ok := true
		if err := os.RemoveAll(s.Path("live", fmt.Sprintf(".%s.v%d", name, v))); err != nil {
			errs, ok = append(errs, err), false
		}
		if v == certbotVersion {
			if err := os.RemoveAll(certbotDir); err != nil {
				errs, ok = append(errs, err), false
			}
		}
		for _, k := range kinds {
			if err := os.Remove(s.Path("archive", name, fmt.Sprintf("%s%d.pem", k, v))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs, ok = append(errs, err), false
			}
		}
		if ok {
			removed = append(removed, v)
		}
	}
	for _, d := range []string{s.Path("archive", name), s.Path("live")} {
		if err := fsutil.SyncDir(d); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("prune %s (keeping version %d): %w", name, cur, errors.Join(errs...))
	}
	return removed, nil
}
