package bundle_test

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/egress"
)

func egressHost(f bundle.Family, p egress.Path) bundle.Host {
	return bundle.Host{
		Family: f, LocalDomain: "example.org", AdminEmail: "admin@example.org",
		Egress: bundle.Egress{Path: p, Gateway: netip.MustParseAddr("2001:db8:1::1"), Clients: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")}},
	}
}

func TestEgressOnDualStackIsRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var so, se bytes.Buffer
	assert.Equal(t, 1, bundle.RunHost(egressHost(bundle.DualStack, egress.ViaNAT64), out, &so, &se))
	assert.Contains(t, se.String(), "dual-stack host")
	assert.NoDirExists(t, out)
}

func TestEgressNeedsClients(t *testing.T) {
	h := egressHost(bundle.IPv6Only, egress.ViaProxy)
	h.Egress.Clients = nil
	out := filepath.Join(t.TempDir(), "out")
	var so, se bytes.Buffer
	assert.Equal(t, 1, bundle.RunHost(h, out, &so, &se))
	assert.Contains(t, se.String(), "egress.clients")
	assert.NoDirExists(t, out)
}
