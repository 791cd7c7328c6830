package units

import (
	"fmt"
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

// WriteDir writes every file of the plan into dir (for example /etc/systemd/system),
// each atomically with mode 0644, after checking that dir is writable. It returns the
// names of the files whose content changed; unchanged files are not touched.
func (p *Plan) WriteDir(dir string) (changed []string, err error) {
	if err := fsutil.CheckWritableDir(dir); err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	for _, f := range p.Files {
		c, err := f.WriteFile(filepath.Join(dir, f.Name))
		if err != nil {
			return changed, err
		}
		if c {
			changed = append(changed, f.Name)
		}
	}
	return changed, nil
}
