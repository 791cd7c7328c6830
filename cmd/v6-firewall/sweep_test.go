package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/testenv"
)

// hostile are the value classes of issue 19's sweep, each appended to a good value (or,
// for "empty", alone).
var hostile = testenv.HostileValues(map[string]string{"brace": "}"})

// TestHostileFlags sends every hostile class through every value flag: each is refused
// (exit 1 or 2) with the flag named and nothing written, or accepted and then the
// ruleset passes the real `nft -c -f` (in a namespace) and the RTX ACL reads back as
// the same bytes (no RTX here: ParseACL is its reader).
func TestHostileFlags(t *testing.T) {
	testenv.RequireRoot(t)
	nft := testenv.Tool(t, "nft", "nftables")
	ns := fmt.Sprintf("v6k%dw0-fwsweep", os.Getpid())
	testenv.NetnsAdd(t, ns)
	flags := map[string]string{
		"family": "v6only", "app": "fd6e:7465:7374:10::/64", "service": "metrics:9100:fd00:1::/64", "ssh-from": "2001:db8:a::/48",
		"ssh-port": "22", "table": "v6kit", "router-host": "2001:db8::10", "router-interface": "lan2", "router-numbers": "40000-40099",
		"router-existing": "4000-4099", "router-keep-in": "4009", "router-keep-out": "4013",
	}
	var tried, refused, accepted atomic.Int64
	t.Run("sweep", func(t *testing.T) {
		for flag := range flags {
			for class, bad := range hostile {
				t.Run(flag+" "+class, func(t *testing.T) {
					t.Parallel()
					tried.Add(1)
					val := flags[flag] + bad
					if class == "empty" {
						val = ""
					}
					dir := t.TempDir()
					out, rout := filepath.Join(dir, "v6kit.nft"), filepath.Join(dir, "rtx.txt")
					args := []string{"--out", out, "--router-out", rout}
					for f, v := range flags {
						if f == flag {
							v = val
						}
						args = append(args, "--"+f, v)
					}
					var so, se bytes.Buffer
					rc := run(args, strings.NewReader(""), &so, &se)
					if rc != 0 {
						refused.Add(1)
						assert.Contains(t, []int{1, 2}, rc)
						assert.Contains(t, se.String(), strings.TrimPrefix(flag, "router-"), "the error names the flag")
						assert.NoFileExists(t, out, "nothing written")
						assert.NoFileExists(t, rout, "nothing written")
						return
					}
					accepted.Add(1)
					t.Logf("accepted: --%s %q", flag, clip(val))
					b, err := testenv.NetnsCommand(context.Background(), ns, nft, "-c", "-f", out).CombinedOutput()
					require.NoError(t, err, "nft -c: %s", b)
					data, err := os.ReadFile(rout)
					require.NoError(t, err)
					acl, err := firewall.ParseACL(bytes.NewReader(data))
					require.NoError(t, err)
					again, err := acl.Bytes()
					require.NoError(t, err)
					assert.Equal(t, string(data), string(again), "the ACL reads back as written")
				})
			}
		}
	})
	t.Logf("v6-firewall: %d (flag, value) pairs tried, %d refused, %d accepted and safe", tried.Load(), refused.Load(), accepted.Load())
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
