package mastodon_test

import (
	"fmt"

	"github.com/v6kit/v6kit/mastodon"
)

// A bare line resolves to the newest patch v6kit knows; every version-dependent
// question is a method of the Release.
func ExampleLookup() {
	for _, v := range []string{"2.9.2", "4.2", "v4.5.2"} {
		r, err := mastodon.Lookup(v)
		if err != nil {
			fmt.Println(err)
			return
		}
		// On an IPv6-only host: puma before 2.9.3 ignores BIND and answers on IPv4 only.
		lo := r.LoopbackBind(true).String()
		fmt.Printf("%s: node>=%d, puma BIND=%s, streaming BIND=%s\n", r.Version, r.MinNode(),
			r.FormatBind(mastodon.ProcessWeb, lo), r.FormatBind(mastodon.ProcessStreaming, lo))
	}
	_, err := mastodon.Lookup("5.0")
	fmt.Println(err != nil)
	// Output:
	// 2.9.2: node>=8, puma BIND=127.0.0.1, streaming BIND=127.0.0.1
	// 4.2.13: node>=16, puma BIND=[::1], streaming BIND=::1
	// 4.5.2: node>=20, puma BIND=[::1], streaming BIND=::1
	// true
}

// Mastodon reads REDIS_SENTINELS by splitting on ':', so an IPv6 literal is torn
// apart: on an IPv6-only network sentinels are given by DNS name.
func ExampleSplitSentinels() {
	hosts, ports := mastodon.SplitSentinels("s1.example:26380,s2.example,fd00::5", "26379")
	for i := range hosts {
		fmt.Printf("host %q port %q\n", hosts[i], ports[i])
	}
	// Output:
	// host "s1.example" port "26380"
	// host "s2.example" port "26379"
	// host "fd00" port ""
}
