package keepalived_test

import (
	"fmt"
	"net/netip"

	"github.com/v6kit/v6kit/keepalived"
)

func Example() {
	c := keepalived.Config{
		Interface: "eth1",
		VIP6:      netip.MustParsePrefix("fd00:1::100/64"),
		VIP4:      netip.MustParsePrefix("203.0.113.10/24"),
		Priority:  150,
	}
	fmt.Println(c.Instances())
	// Output:
	// [mastodon_v6 mastodon_v4]
}
