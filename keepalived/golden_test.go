package keepalived_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
)

func TestGolden(t *testing.T) {
	v6 := base()
	v6.Priority = 150
	dual := base()
	dual.VIP4 = netip.MustParsePrefix("203.0.113.10/24")
	dual.Check = "/usr/bin/systemctl is-active --quiet haproxy"
	a, err := v6.Bytes()
	require.NoError(t, err)
	b, err := dual.Bytes()
	require.NoError(t, err)
	golden.Check(t, "testdata/keepalived.txtar", "An IPv6-only failover address, and a dual-stack one with a check script.",
		golden.Section{Name: "ipv6-only.conf", Data: string(a)}, golden.Section{Name: "dual-stack.conf", Data: string(b)})
}
