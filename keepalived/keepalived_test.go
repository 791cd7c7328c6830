package keepalived_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/keepalived"
)

func base() keepalived.Config {
	return keepalived.Config{Interface: "up0", VIP6: netip.MustParsePrefix("fd00:1::100/64")}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		edit func(*keepalived.Config)
		path string
		err  error
	}{
		"no VIP":                {func(c *keepalived.Config) { c.VIP6 = netip.Prefix{} }, "vip6", keepalived.ErrVIP},
		"IPv4 as VIP6":          {func(c *keepalived.Config) { c.VIP6 = netip.MustParsePrefix("203.0.113.10/24") }, "vip6", keepalived.ErrVIP},
		"prefix as VIP":         {func(c *keepalived.Config) { c.VIP6 = netip.MustParsePrefix("fd00:1::/64") }, "vip6", keepalived.ErrVIP},
		"IPv6 as VIP4":          {func(c *keepalived.Config) { c.VIP4 = netip.MustParsePrefix("fd00:1::101/64") }, "vip4", keepalived.ErrVIP},
		"router id":             {func(c *keepalived.Config) { c.RouterID = 300 }, "router_id", keepalived.ErrRouterID},
		"priority 255":          {func(c *keepalived.Config) { c.Priority = 255 }, "priority", keepalived.ErrPriority},
		"advert 5ms":            {func(c *keepalived.Config) { c.Advert = 5 * time.Millisecond }, "advert", keepalived.ErrAdvert},
		"bad interface":         {func(c *keepalived.Config) { c.Interface = "eth0 up" }, "interface", keepalived.ErrInterface},
		"quoted script":         {func(c *keepalived.Config) { c.Check = `/bin/sh -c "x"` }, "check", keepalived.ErrScript},
		"script with a comment": {func(c *keepalived.Config) { c.Check = "/usr/bin/true #x" }, "check", keepalived.ErrScript},
		"script with !":         {func(c *keepalived.Config) { c.Check = "/usr/bin/test ! -e /x" }, "check", keepalived.ErrScript},
		"script with NUL":       {func(c *keepalived.Config) { c.Check = "/usr/bin/true\x00x" }, "check", keepalived.ErrScript},
		"script with tab":       {func(c *keepalived.Config) { c.Check = "/usr/bin/true\tx" }, "check", keepalived.ErrScript},
	} {
		t.Run(name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			ps := c.Validate()
			require.True(t, ps.HasErrors())
			assert.Equal(t, tc.path, ps.Errors()[0].Path)
			assert.ErrorIs(t, ps.Err(), tc.err)
			f := filepath.Join(t.TempDir(), "keepalived.conf")
			_, err := c.WriteFile(f)
			require.Error(t, err)
			_, err = os.Stat(f)
			assert.True(t, os.IsNotExist(err), "nothing written")
		})
	}
}

// TestKeepalivedAcceptsRendered has the real keepalived check IPv6-only and dual-stack
// files in a namespace that has the interface.
func TestKeepalivedAcceptsRendered(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.HATools(t, "keepalived")
	ns := fmt.Sprintf("v6k%dka", os.Getpid())
	testenv.NetnsAdd(t, ns)
	require.NoError(t, testenv.NetnsIP(ns, "link add up0 type veth peer name up1", "link set up0 up", "link set up1 up"))
	dual := base()
	dual.VIP4 = netip.MustParsePrefix("203.0.113.10/24")
	dual.Check = "/usr/bin/true"
	for name, c := range map[string]keepalived.Config{"ipv6-only": base(), "dual-stack": dual} {
		f := filepath.Join(testenv.TempDir(t), "keepalived.conf")
		_, err := c.WriteFile(f)
		require.NoError(t, err)
		out, err := testenv.NetnsCommand(context.Background(), ns, "keepalived", "-t", "-l", "-f", f).CombinedOutput()
		require.NoError(t, err, "%s: %s", name, out)
		b, _ := os.ReadFile(f)
		assert.Equal(t, len(c.Instances()) > 1, strings.Contains(string(b), "vrrp_sync_group mastodon {"), name)
		assert.Contains(t, string(b), "\tnative_ipv6\n")
	}
	assert.Equal(t, []string{"mastodon_v6", "mastodon_v4"}, dual.Instances())
}
