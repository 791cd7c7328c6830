package haproxy_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
)

func TestGolden(t *testing.T) {
	c := base()
	c.Cert = "/etc/haproxy/certs/social.example.org.pem"
	c.Binds = []netip.AddrPort{netip.MustParseAddrPort("[::]:443")}
	b, err := c.Bytes()
	require.NoError(t, err)
	golden.Check(t, "testdata/haproxy.txtar", "TLS on [::]:443 before two web nodes (puma :80 here, streaming :4000).",
		golden.Section{Name: "haproxy.cfg", Data: string(b)})
}
