package egress_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/testenv"
)

// TestRealValidators hands every golden case's files to the programs that will read
// them: nft -c (in a throwaway namespace), unbound-checkconf and squid -k parse.
func TestRealValidators(t *testing.T) {
	testenv.RequireRoot(t)
	nft := testenv.Tool(t, "nft", "nftables")
	checkconf := testenv.Tool(t, "unbound-checkconf", "unbound")
	squid := testenv.Tool(t, "squid", "squid")
	ns := fmt.Sprintf("v6k%dw0-egresscheck", os.Getpid()) // per process; swept with dead worlds
	testenv.NetnsAdd(t, ns)
	for _, f := range golden.Files(t, filepath.Join("testdata", "*.txtar")) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			r := render(t, loadInput(t, golden.Open(t, f)))
			dir := t.TempDir()
			_, err := egress.WriteDir(dir, r.files)
			require.NoError(t, err)
			for _, x := range r.files {
				p := filepath.Join(dir, x.Path)
				var cmd *exec.Cmd
				switch {
				case strings.HasSuffix(x.Path, ".nft"):
					cmd = testenv.NetnsCommand(context.Background(), ns, nft, "-c", "-f", p)
				case x.Path == egress.UnboundConfPath:
					cmd = exec.Command(checkconf, p)
				case x.Path == egress.SquidConfPath:
					// squid checks that the log and pid directories' parents exist, not more
					conf := filepath.Join(dir, "squid-check.conf")
					require.NoError(t, os.WriteFile(conf, x.Data, 0o644))
					cmd = exec.Command(squid, "-k", "parse", "-f", conf)
				default:
					continue
				}
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s: %s", x.Path, out)
				if x.Path == egress.SquidConfPath {
					require.NotContains(t, string(out), "WARNING", "squid warns about %s: %s", x.Path, out)
				}
			}
		})
	}
}
