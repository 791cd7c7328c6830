package haproxy_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/haproxy"
	"github.com/v6kit/v6kit/internal/testenv"
)

func base() haproxy.Config {
	return haproxy.Config{Web: []haproxy.Server{{Name: "web1", Addr: netip.MustParseAddr("fd00:1::21"), StreamingPort: 4000},
		{Name: "web2", Addr: netip.MustParseAddr("fd00:1::22"), StreamingPort: 4000}}}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		edit func(*haproxy.Config)
		path string
		err  error
	}{
		"tunnel at the ping":   {func(c *haproxy.Config) { c.Tunnel = 30 * time.Second }, "tunnel", haproxy.ErrTimeout},
		"server timeout short": {func(c *haproxy.Config) { c.ServerTimeout = 15 * time.Second }, "server", haproxy.ErrTimeout},
		"no web nodes":         {func(c *haproxy.Config) { c.Web = nil }, "web", haproxy.ErrServer},
		"duplicate name":       {func(c *haproxy.Config) { c.Web[1].Name = "web1" }, "web[1].name", haproxy.ErrServer},
		"zoned node":           {func(c *haproxy.Config) { c.Web[0].Addr = netip.MustParseAddr("fe80::1%eth0") }, "web[0].addr", haproxy.ErrServer},
		"bind without port":    {func(c *haproxy.Config) { c.Binds = []netip.AddrPort{netip.MustParseAddrPort("[::]:0")} }, "binds[0]", haproxy.ErrBind},
		"cert with blank":      {func(c *haproxy.Config) { c.Cert = "/etc/ssl/my cert.pem" }, "cert", haproxy.ErrCert},
	} {
		t.Run(name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			ps := c.Validate()
			require.True(t, ps.HasErrors())
			assert.Equal(t, tc.path, ps.Errors()[0].Path)
			assert.ErrorIs(t, ps.Err(), tc.err)
			f := filepath.Join(t.TempDir(), "haproxy.cfg")
			_, err := c.WriteFile(f)
			require.Error(t, err)
			_, err = os.Stat(f)
			assert.True(t, os.IsNotExist(err), "nothing written")
		})
	}
}

// TestHAProxyAcceptsRendered has the real haproxy check the rendered file.
func TestHAProxyAcceptsRendered(t *testing.T) {
	t.Parallel()
	bin := testenv.Tool(t, "haproxy", "haproxy")
	for name, c := range map[string]haproxy.Config{"plain": base(), "tls on a failover address": func() haproxy.Config {
		c := base()
		c.Binds = []netip.AddrPort{netip.MustParseAddrPort("[fd00:1::100]:443")}
		return c
	}()} {
		f := filepath.Join(t.TempDir(), "haproxy.cfg")
		res, werr := c.WriteFile(f)
		require.NoError(t, werr)
		assert.True(t, res.Changed)
		out, err := exec.Command(bin, "-c", "-f", f).CombinedOutput()
		require.NoError(t, err, "%s: %s", name, out)
		assert.Contains(t, string(out), "Configuration file is valid")
	}
	b, err := base().Bytes()
	require.NoError(t, err)
	for _, want := range []string{"\ttimeout tunnel 3600s\n", "\tbind [::]:80 v6only\n", "\thttp-check send meth GET uri /api/v1/streaming/health\n",
		"\tserver web1 [fd00:1::21]:4000 check inter 2s fall 3 rise 2\n", "\tuse_backend streaming if { path_beg /api/v1/streaming }\n"} {
		assert.Contains(t, string(b), want)
	}
}

func TestTrustedProxyEnv(t *testing.T) {
	t.Parallel()
	c := base()
	c.Sources = []netip.Addr{netip.MustParseAddr("fd00:1::41")}
	env, ps := c.Env()
	require.NoError(t, ps.Err())
	assert.Empty(t, env, "ULA is trusted by default")
	c.Sources = append(c.Sources, netip.MustParseAddr("2001:db8:5::41"))
	env, ps = c.Env()
	require.NoError(t, ps.Err())
	assert.Equal(t, []haproxy.EnvVar{{"TRUSTED_PROXY_IP", "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,2001:db8:5::41"}}, env)
}
