package units

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
)

// mdweEnv makes this test binary a launcher: it turns on the kernel's
// memory-deny-write-execute for itself (PR_SET_MDWE, what systemd's
// MemoryDenyWriteExecute=yes sets on Linux 6.3 and later; it survives execve) and
// executes the program in the rest of its arguments.
const mdweEnv = "V6KIT_UNITS_MDWE_EXEC"

const (
	prSetMDWE            = 65
	prMDWERefuseExecGain = 1
	exitNoMDWE           = 97 // the kernel has no PR_SET_MDWE
)

func TestMain(m *testing.M) {
	if os.Getenv(mdweEnv) == "1" {
		if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetMDWE, prMDWERefuseExecGain, 0, 0, 0, 0); e != 0 {
			os.Exit(exitNoMDWE)
		}
		err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
		os.Stderr.WriteString("exec: " + err.Error() + "\n")
		os.Exit(98)
	}
	os.Exit(m.Run())
}

// TestNoMemoryDenyWriteExecute: the units carry no MemoryDenyWriteExecute, as
// Mastodon's dist units carry none, and this is why: Node (streaming) makes the code
// V8 compiles executable after writing it, and dies under the setting. The test runs
// the real Node with a loop V8 compiles, once as is (it prints "ok") and once under the
// kernel's MDWE (it is killed, no "ok"). Ruby's YJIT, when puma's Ruby runs it, writes
// machine code the same way.
func TestNoMemoryDenyWriteExecute(t *testing.T) {
	t.Parallel()
	node := testenv.Tool(t, "node", "nodejs")
	script := `let s = 0; for (let i = 0; i < 1e7; i++) s += i; console.log("ok", s)`

	out, err := exec.Command(node, "-e", script).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "ok")

	cmd := testenv.Self([]string{mdweEnv + "=1"}, node, "-e", script)
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == exitNoMDWE {
		testenv.Unavailable(t, "the kernel has no PR_SET_MDWE (Linux 6.3 or later)")
	}
	require.Error(t, err, "node ran under MemoryDenyWriteExecute: %s", out)
	assert.NotContains(t, string(out), "ok ")
	t.Logf("node under MDWE: %v", err)

	for _, v := range []string{"3.4", "4.2", "4.7"} {
		for _, sb := range []Sandbox{SandboxDist, SandboxFull} {
			plan, err := Deployment{Release: mastodon.MustLookup(v), Sandbox: sb}.Render()
			require.NoError(t, err)
			require.NotEmpty(t, plan.Files)
			for _, f := range plan.Files {
				for _, o := range f.Options {
					assert.NotEqual(t, "MemoryDenyWriteExecute", o.Name, "%s %s", v, f.Name)
				}
			}
		}
	}
}
