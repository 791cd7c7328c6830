package redisconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// TestDualStackStartsWithoutIPv6 runs redis-server in a private network namespace whose
// loopback has IPv6 disabled (the host is untouched): the dual-stack snippet
// ("bind 127.0.0.1 -::1") starts, the IPv6-only one ("bind ::1") refuses to.
func TestDualStackStartsWithoutIPv6(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	unshare := testenv.Tool(t, "unshare", "util-linux")
	testenv.Tool(t, "ip", "iproute2")
	testenv.Tool(t, "sysctl", "procps")
	redisServer := testenv.Tool(t, "redis-server", "redis-server")
	for _, tc := range []struct {
		family Family
		starts bool
	}{{DualStack, true}, {IPv6Only, false}} {
		t.Run(tc.family.String(), func(t *testing.T) {
			t.Parallel()
			dir := testenv.TempDir(t)
			c := Config{Family: tc.family, Port: 6379} // a fresh namespace: every port is free
			snip := filepath.Join(dir, "mastodon.conf")
			_, err := c.WriteFile(snip)
			require.NoError(t, err)
			log := filepath.Join(dir, "redis.log")
			conf := "include " + snip + "\ndir " + dir + "\ndaemonize no\npidfile \"\"\nlogfile " + log + "\nsave \"\"\nappendonly no\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, "test.conf"), []byte(conf), 0o644))
			script := "ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && exec " + redisServer + " " + filepath.Join(dir, "test.conf")
			p := testenv.Start(t, exec.Command(unshare, "-n", "sh", "-c", script), 0)
			deadline := time.After(60 * time.Second)
			for {
				b, _ := os.ReadFile(log)
				text := string(b)
				if strings.Contains(text, "Ready to accept connections") {
					assert.True(t, tc.starts, "started:\n%s", text)
					assert.Contains(t, text, "::1", "the optional ::1 is reported as not bound")
					return
				}
				select {
				case <-p.Done():
					b, _ = os.ReadFile(log) // what it wrote before exiting
					text = string(b)
					assert.False(t, tc.starts, "exited:\n%s%s", text, p.Output.String())
					assert.Contains(t, text, "Cannot assign requested address")
					return
				case <-deadline:
					t.Fatalf("neither started nor exited:\n%s", text)
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
}
