package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/internal/testenv"
)

// hostile are the value classes of issue 19's sweep, each appended to a good value (or,
// for "empty", alone).
var hostile = testenv.HostileValues(map[string]string{"command": "$(id)", "brace": "}"})

// TestHostileFlags sends every hostile class through every value flag of both paths:
// each is refused (exit 1 or 2) with the flag named and nothing written, or accepted
// and then every file passes its real reader: nft -c -f (in a namespace), unbound-checkconf,
// squid -k parse, systemd-analyze verify, and both dotenv readers read the fragment's
// values exactly as rendered.
func TestHostileFlags(t *testing.T) {
	testenv.RequireRoot(t)
	nft := testenv.Tool(t, "nft", "nftables")
	checkconf := testenv.Tool(t, "unbound-checkconf", "unbound")
	squid := testenv.Tool(t, "squid", "squid")
	ns := fmt.Sprintf("v6k%dw0-egsweep", os.Getpid())
	testenv.NetnsAdd(t, ns)
	base := map[string]map[string]string{
		"nat64": {"clients": "2001:db8:1::/64", "dns64": "2001:db8:1::1", "lan": "192.168.1.0/24", "wan": "eth0",
			"prefix": "64:ff9b::/96", "pool": "192.168.255.0/24", "forwarder": "[2001:db8::53]:53", "permit": "192.168.7.0/24", "mastodon": "4.5"},
		"proxy": {"clients": "2001:db8:1::/64", "url": "http://[2001:db8:1::3]:3128", "ports": "80,443", "nat64-prefix": "2001:db8:64::/96",
			"resolver": "2001:db8::53", "permit": "192.168.7.0/24", "mastodon": "4.5"},
	}
	var tried, refused, accepted atomic.Int64
	t.Run("sweep", func(t *testing.T) {
		for path, flags := range base {
			for flag := range flags {
				for class, bad := range hostile {
					t.Run(path+" "+flag+" "+class, func(t *testing.T) {
						t.Parallel()
						tried.Add(1)
						out := filepath.Join(t.TempDir(), "egress")
						val := flags[flag] + bad
						if class == "empty" {
							val = ""
						}
						args := []string{path, "--out", out, "--json"}
						for f, v := range flags {
							if f == flag {
								v = val
							}
							args = append(args, "--"+f, v)
						}
						var so, se bytes.Buffer
						rc := run(args, &so, &se)
						if rc != 0 {
							refused.Add(1)
							assert.Contains(t, []int{1, 2}, rc)
							assert.Contains(t, so.String()+se.String(), flag, "the error names the flag")
							_, err := os.Stat(out)
							assert.True(t, os.IsNotExist(err), "nothing written")
							return
						}
						accepted.Add(1)
						t.Logf("accepted: %s --%s %q", path, flag, clip(val))
						var res struct {
							Files []string        `json:"files"`
							Env   []egress.EnvVar `json:"env"`
						}
						require.NoError(t, json.Unmarshal(so.Bytes(), &res))
						gw := filepath.Join(out, "gateway")
						var unit bool
						for _, f := range res.Files {
							p := filepath.Join(out, f)
							var cmd *exec.Cmd
							switch rel := strings.TrimPrefix(f, "gateway/"); {
							case strings.HasSuffix(f, ".nft"):
								cmd = testenv.NetnsCommand(context.Background(), ns, nft, "-c", "-f", p)
							case rel == egress.UnboundConfPath:
								cmd = exec.Command(checkconf, p)
							case rel == egress.SquidConfPath:
								cmd = exec.Command(squid, "-k", "parse", "-f", p)
							case rel == egress.NAT64UnitPath:
								unit = true
								continue
							default:
								continue
							}
							b, err := cmd.CombinedOutput()
							require.NoError(t, err, "%s: %s", f, b)
						}
						if unit {
							v := testenv.SystemdVerify(t, filepath.Join(gw, "etc/systemd/system"), filepath.Base(egress.NAT64UnitPath))
							require.Empty(t, strings.TrimSpace(v))
						}
						frag := filepath.Join(out, "mastodon", "env.production.fragment")
						want := map[string]string{}
						for _, v := range res.Env {
							want[v.Key] = v.Value
						}
						assert.Equal(t, want, testenv.DotenvRuby(t, frag), "Ruby's dotenv")
						assert.Equal(t, want, testenv.DotenvNode(t, frag), "Node's dotenv")
					})
				}
			}
		}
	})
	t.Logf("v6-egress: %d (flag, value) pairs tried, %d refused, %d accepted and safe", tried.Load(), refused.Load(), accepted.Load())
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
