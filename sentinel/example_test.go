package sentinel_test

import (
	"fmt"
	"net/netip"

	"github.com/v6kit/v6kit/sentinel"
)

func Example() {
	a := netip.MustParseAddr
	c := sentinel.Config{
		Redis:     []sentinel.Node{{"redis1.example.net", a("fd00:5::31")}, {"redis2.example.net", a("fd00:5::32")}},
		Sentinels: []sentinel.Node{{"s1.example.net", a("fd00:5::31")}, {"s2.example.net", a("fd00:5::32")}, {"s3.example.net", a("fd00:5::33")}},
		Password:  "redis-password-0123456789",
	}
	env, _ := c.Env()
	for _, e := range env {
		fmt.Printf("%s=%s\n", e.Key, e.Value)
	}
	c.Sentinels[0].Name = "fd00:5::31"
	fmt.Println(c.Validate().Err() != nil)
	// Output:
	// REDIS_SENTINELS=s1.example.net:26379,s2.example.net:26379,s3.example.net:26379
	// REDIS_SENTINEL_MASTER=mastodon
	// REDIS_PASSWORD=redis-password-0123456789
	// true
}
