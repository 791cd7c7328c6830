package haproxy_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/v6kit/v6kit/haproxy"
)

func Example() {
	c := haproxy.Config{
		Web:     []haproxy.Server{{Name: "web1", Addr: netip.MustParseAddr("fd00:1::21")}, {Name: "web2", Addr: netip.MustParseAddr("fd00:1::22")}},
		Sources: []netip.Addr{netip.MustParseAddr("2001:db8::41")},
	}
	env, _ := c.Env()
	fmt.Println(env[0].Key, "=", env[0].Value)
	c.Tunnel = 25 * time.Second
	fmt.Println(c.Validate().Err() != nil)
	// Output:
	// TRUSTED_PROXY_IP = 127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,2001:db8::41
	// true
}
