package bundle

import (
	"context"
	"flag"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/testenv"
)

func fwHost() Host {
	return Host{LocalDomain: "example.org", WebDomain: "social.example.org", AdminEmail: "admin@example.org",
		Rand: strings.NewReader(strings.Repeat("x", 4096))}
}

// TestFirewallInBundle: with --ssh-from the bundle gains the ruleset (accepted by the
// real nft -c) and NEXT-STEPS loads it; without it there is none; a bad admin prefix
// is a problem naming the file and nothing is written.
func TestFirewallInBundle(t *testing.T) {
	t.Parallel()
	h := fwHost()
	h.Family = DualStack
	h.HTTPSPort = 8443
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	HostFlags(fs, &h)
	require.NoError(t, fs.Parse([]string{"--ssh-from", "2001:db8:a::/48"}))
	require.Equal(t, &firewall.SSH{From: []netip.Prefix{netip.MustParsePrefix("2001:db8:a::/48")}}, h.Firewall)

	tr := New("", t.TempDir())
	info := h.Compose(tr)
	require.NoError(t, tr.Problems.Err())
	require.NotNil(t, info.Firewall)
	f, ok := tr.File(FirewallPath)
	require.True(t, ok)
	assert.Contains(t, string(f.Data), `tcp dport { 80, 8443 } accept comment "nginx"`)
	assert.Contains(t, string(f.Data), "icmp type {", "dual-stack: ICMPv4 too")
	assert.Contains(t, string(f.Data), "ip6 saddr 2001:db8:a::/48 tcp dport 22 accept")
	ns, _ := tr.File(NextStepsPath)
	assert.Contains(t, string(ns.Data), "install -D -o root -g root -m 0644 -- etc/nftables.d/mastodon.nft /etc/nftables.d/mastodon.nft\n")
	assert.Contains(t, string(ns.Data), "nft -c -f /etc/nftables.d/mastodon.nft\nnft -f /etc/nftables.d/mastodon.nft\n")
	assert.NotContains(t, string(ns.Data), "SSH is open to every address")

	bad := fwHost()
	bad.Firewall = &firewall.SSH{}
	tr2 := New("", t.TempDir())
	bad.Compose(tr2)
	require.ErrorIs(t, tr2.Problems.Err(), firewall.ErrNoAdmin)
	assert.Equal(t, FirewallPath+".ssh.from", tr2.Problems.Errors()[0].Path)
	_, ok = tr2.File(FirewallPath)
	assert.False(t, ok)

	none := New("", t.TempDir())
	fwHost().Compose(none)
	_, ok = none.File(FirewallPath)
	assert.False(t, ok, "no ruleset unless asked for")

	testenv.RequireRoot(t)
	nft := testenv.Tool(t, "nft", "nftables")
	require.NoError(t, firewall.CheckRuleset(context.Background(), f.Data, firewall.CheckOptions{Nft: nft}))
}
