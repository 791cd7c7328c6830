package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckOptions tune [Check].
type CheckOptions struct {
	// Nft is the nft binary. Empty: "nft" from PATH, else /usr/sbin/nft.
	Nft string
	// TempDir is where the ruleset is written for nft. Empty: the system's.
	TempDir string
}

// ErrCheck: nft -c refused the ruleset (its message follows).
var ErrCheck = errors.New("firewall: nft -c -f refused the ruleset")

// Check validates the config, renders the ruleset and runs the real `nft -c -f` on it:
// nft parses it and asks the kernel to check the transaction without committing it, so
// nothing is loaded. nft needs CAP_NET_ADMIN for that.
func Check(ctx context.Context, c Config, opt CheckOptions) error {
	b, err := c.Bytes()
	if err != nil {
		return err
	}
	return CheckRuleset(ctx, b, opt)
}

// CheckRuleset runs `nft -c -f` on a ruleset (one rendered by [Config.Bytes], or a
// variant of it).
func CheckRuleset(ctx context.Context, ruleset []byte, opt CheckOptions) error {
	nft := opt.Nft
	if nft == "" {
		nft = "nft"
		if _, err := exec.LookPath(nft); err != nil {
			nft = "/usr/sbin/nft"
		}
	}
	dir, err := os.MkdirTemp(opt.TempDir, "v6kit-nft-")
	if err != nil {
		return fmt.Errorf("firewall: check: %w", err)
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "ruleset.nft")
	if err := os.WriteFile(f, ruleset, 0o600); err != nil {
		return fmt.Errorf("firewall: check: %w", err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, nft, "-c", "-f", f)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%w: %s", ErrCheck, strings.TrimSpace(strings.ReplaceAll(out.String(), f, "ruleset")))
		}
		return fmt.Errorf("firewall: run %s: %w", nft, err)
	}
	return nil
}
