package units

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// VerifyOffline is [Plan.Verify] for a host that is not (yet) the Mastodon host: it runs
// `systemd-analyze verify --man=no --root=ROOT` in a temp root holding a copy of
// systemDir (empty: /lib/systemd/system) in /usr/lib/systemd/system, the plan's units
// in /etc/systemd/system, and an executable stub at every absolute path an Exec*= line
// runs. So the units are checked as systemd parses them while Ruby, node, bundle and
// v6-certs need not be installed. Any output counts as a failure, as in Verify.
func (p *Plan) VerifyOffline(ctx context.Context, analyzer, systemDir string) (string, error) {
	if analyzer == "" {
		var err error
		if analyzer, err = exec.LookPath("systemd-analyze"); err != nil {
			return "", ErrNoAnalyzer
		}
	}
	if systemDir == "" {
		systemDir = "/lib/systemd/system"
	}
	root, err := os.MkdirTemp("", "v6kit-units-root-")
	if err != nil {
		return "", fmt.Errorf("units: verify: %w", err)
	}
	defer os.RemoveAll(root)
	sys := filepath.Join(root, "usr/lib/systemd")
	etc := filepath.Join(root, "etc/systemd/system")
	for _, d := range []string{sys, etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("units: verify: %w", err)
		}
	}
	if st, err := os.Stat(systemDir); err == nil && st.IsDir() {
		if out, err := exec.CommandContext(ctx, "cp", "-a", systemDir, filepath.Join(sys, "system")).CombinedOutput(); err != nil {
			return "", fmt.Errorf("units: verify: copy %s: %v: %s", systemDir, err, bytes.TrimSpace(out))
		}
	}
	if _, err := p.WriteDir(etc); err != nil {
		return "", err
	}
	for _, f := range p.Files {
		for _, exe := range execPaths(f.Bytes()) {
			stub := filepath.Join(root, exe)
			if _, err := os.Lstat(stub); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(stub), 0o755); err != nil {
				return "", fmt.Errorf("units: verify: stub %s: %w", exe, err)
			}
			if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				return "", fmt.Errorf("units: verify: stub %s: %w", exe, err)
			}
		}
	}
	args := []string{"verify", "--man=no", "--root=" + root}
	for _, f := range p.Files {
		if !strings.HasSuffix(f.Name, "@.service") {
			args = append(args, f.Name)
		}
	}
	for _, n := range p.Enable {
		if strings.Contains(n, "@") {
			args = append(args, n)
		}
	}
	cmd := exec.CommandContext(ctx, analyzer, args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	text := strings.ReplaceAll(out.String(), root, "")
	if err != nil || strings.TrimSpace(text) != "" {
		if err != nil {
			text += fmt.Sprintf("(systemd-analyze: %v)\n", err)
		}
		return text, ErrVerify
	}
	return "", nil
}

var execLineRe = regexp.MustCompile(`^(ExecStart|ExecStartPre|ExecStartPost|ExecReload|ExecStop|ExecStopPost|ExecCondition)=[-@:+!]*(\S+)`)

// execPaths lists the absolute executables a unit file's Exec*= lines run.
func execPaths(unit []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		if m := execLineRe.FindStringSubmatch(sc.Text()); m != nil && strings.HasPrefix(m[2], "/") {
			out = append(out, m[2])
		}
	}
	return out
}
