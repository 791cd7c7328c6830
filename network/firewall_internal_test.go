package network

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/testenv"
)

// TestFirewallChecks runs inbound.closed and inbound.ptb from the client of a
// namespace world against its host: with no filter (PostgreSQL open, PTB acted on),
// with v6-firewall's ruleset (closed, PTB acted on) and with a variant that drops
// Packet Too Big (the check fails and names the fix).
func TestFirewallChecks(t *testing.T) {
	testenv.RequireRoot(t)
	nft := testenv.Tool(t, "nft", "nftables")
	w := testenv.NewFirewallWorld(t)
	for _, port := range []string{"443", "5432"} {
		l, err := testenv.NetnsListen(w.Host, "tcp", "[::]:"+port)
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	d := &testenv.NetnsDialer{Name: w.Client, Dialer: net.Dialer{Timeout: time.Second}}
	o := Options{Domain: "example.org", Firewall: true, Dialer: d, PacketListener: d}.withDefaults()
	steps := firewallSteps(o)
	require.Len(t, steps, 2)
	assert.Empty(t, firewallSteps(Options{Firewall: true, Local: true}), "not on the host itself")
	assert.Empty(t, firewallSteps(Options{}), "opt-in")
	check := func(id string) Check {
		c := Check{ID: id, Addr: w.HostAddr}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		firewallCheckFor(id)(ctx, newRun(o, steps), &c)
		t.Logf("%s: %s %s (%v) %s", id, c.State, c.Detail, c.Values, c.Hint)
		return c
	}
	load := func(ruleset []byte) {
		f := filepath.Join(t.TempDir(), "fw.nft")
		require.NoError(t, os.WriteFile(f, ruleset, 0o644))
		_, err := w.Run(context.Background(), w.Host, nft, "-f", f)
		require.NoError(t, err)
		w.FlushPMTU()
	}

	w.FlushPMTU()
	c := check("inbound.closed")
	assert.Equal(t, Fail, c.State, "no filter: PostgreSQL answers the world")
	assert.Equal(t, "open", c.Values["5432"])
	assert.Equal(t, "refused", c.Values["6379"])
	c = check("inbound.ptb")
	require.Equal(t, OK, c.State, "no filter: the host acts on PTB")
	w.FlushPMTU()

	cfg := firewall.Config{Services: firewall.Mastodon([]netip.Prefix{w.AppNet}), SSH: firewall.SSH{Off: true}}
	ruleset, err := cfg.Bytes()
	require.NoError(t, err)
	load(ruleset)
	c = check("inbound.closed")
	assert.Equal(t, OK, c.State)
	assert.Equal(t, "filtered", c.Values["5432"])
	assert.Equal(t, OK, check("inbound.ptb").State, "v6-firewall's ruleset accepts Packet Too Big")

	load(bytes.Replace(ruleset, []byte("\t\tiif \"lo\" accept"), []byte("\t\ticmpv6 type packet-too-big drop\n\t\tiif \"lo\" accept"), 1))
	c = check("inbound.ptb")
	assert.Equal(t, Fail, c.State, "a filter dropping PTB is found")
	assert.Contains(t, c.Hint, "packet-too-big")
}
