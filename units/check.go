package units

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/internal/textdiff"
)

// ErrVerify means systemd-analyze verify printed something or failed: a unit has a
// mistyped key, a value systemd cannot parse, or names a program that is not installed.
var ErrVerify = errors.New("systemd-analyze verify found problems in the rendered units")

// ErrNoAnalyzer means systemd-analyze is not installed, so [Plan.Verify] could not run.
var ErrNoAnalyzer = errors.New("systemd-analyze not found: install systemd to check units")

// Verify writes the plan to a temp dir and runs `systemd-analyze verify --man=no` on
// every file, template instances included, as this host sees them (so a missing
// /home/mastodon/.rbenv/shims/bundle is reported). Any output counts as a failure: a
// mistyped key is only a warning with exit status 0. analyzer is the path of
// systemd-analyze; empty looks it up in PATH.
func (p *Plan) Verify(ctx context.Context, analyzer string) (string, error) {
	if analyzer == "" {
		var err error
		if analyzer, err = exec.LookPath("systemd-analyze"); err != nil {
			return "", ErrNoAnalyzer
		}
	}
	dir, err := os.MkdirTemp("", "v6kit-units-")
	if err != nil {
		return "", fmt.Errorf("units: verify: %w", err)
	}
	defer os.RemoveAll(dir)
	if _, err := p.WriteDir(dir); err != nil {
		return "", err
	}
	args := []string{"verify", "--man=no"}
	for _, f := range p.Files {
		if !strings.HasSuffix(f.Name, "@.service") {
			args = append(args, filepath.Join(dir, f.Name))
		}
	}
	for _, n := range p.Enable {
		if strings.Contains(n, "@") {
			args = append(args, n) // resolved from SYSTEMD_UNIT_PATH
		}
	}
	cmd := exec.CommandContext(ctx, analyzer, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	text := strings.ReplaceAll(out.String(), dir+"/", "")
	if err != nil || strings.TrimSpace(text) != "" {
		if err != nil {
			text += fmt.Sprintf("(systemd-analyze: %v)\n", err)
		}
		return text, ErrVerify
	}
	return "", nil
}

// Diff compares the plan with the files in dir and returns, per file, "+ NAME" (new),
// "~ NAME" followed by the changed lines ("-old", "+new"), or nothing when unchanged.
// Unit files hold no secrets, so nothing is masked. Each file is read as [Plan.WriteDir]
// would find it (fsutil's rule for a target): a FIFO, a socket or a directory there is
// refused at once, never read blocking, and a dangling link is an error, not a new unit.
func (p *Plan) Diff(dir string) (string, error) {
	var b strings.Builder
	for _, f := range p.Files {
		old, exists, err := fsutil.ReadExisting(filepath.Join(dir, f.Name))
		if err != nil {
			return "", fmt.Errorf("units: diff: %w", err)
		}
		if !exists {
			fmt.Fprintf(&b, "+ %s (new)\n", f.Name)
			continue
		}
		if bytes.Equal(old, f.Bytes()) {
			continue
		}
		fmt.Fprintf(&b, "~ %s\n", f.Name)
		for _, o := range textdiff.Ops(strings.Split(string(old), "\n"), strings.Split(string(f.Bytes()), "\n")) {
			if o.Kind != ' ' {
				b.WriteString("  " + string(o.Kind) + o.Text + "\n")
			}
		}
	}
	return b.String(), nil
}
