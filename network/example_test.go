package network_test

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
)

// sampleReport is a report as Probe returns it, with fixed times.
func sampleReport() *network.Report {
	t0 := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("2001:db8::1")
	r := &network.Report{
		Domain: "social.example.org", WebDomain: "social.example.org", Family: network.V6Only, Release: mastodon.MustLookup("4.5.15"),
		Started: t0, Duration: 212 * time.Millisecond,
		Checks: []network.Check{
			{ID: "dns.aaaa.local", Group: network.GroupDNS, Title: "AAAA for LOCAL_DOMAIN", Required: true, State: network.OK,
				Detail: "AAAA 2001:db8::1", Values: map[string]string{"aaaa": "2001:db8::1", "rcode": "NOERROR"}, Started: t0, Duration: 12 * time.Millisecond},
			{ID: "inbound.tls@2001:db8::1", Group: network.GroupInbound, Addr: a, Required: true, State: network.OK,
				Detail: "TLS 1.3, chain and name valid for social.example.org, 61 days left", Values: map[string]string{"verify": "ok"}, Started: t0, Duration: 35 * time.Millisecond},
			{ID: "inbound.websocket@2001:db8::1", Group: network.GroupInbound, Addr: a, Required: true, State: network.Fail,
				Detail: "400 instead of 101: the websocket upgrade did not reach the streaming server",
				Hint:   "the proxy does not pass the upgrade: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;",
				Values: map[string]string{"status": "400"}, Started: t0, Duration: 48 * time.Millisecond},
			{ID: "inbound.hsts@2001:db8::1", Group: network.GroupInbound, Addr: a, State: network.Warn,
				Detail: "no Strict-Transport-Security header", Hint: `add_header Strict-Transport-Security "max-age=63072000; includeSubDomains";`,
				Started: t0, Duration: 30 * time.Millisecond},
			{ID: "mtu.icmp@2001:db8::1", Group: network.GroupMTU, Addr: a, State: network.NotChecked,
				Detail: "not checked: needs CAP_NET_RAW", Started: t0},
		},
	}
	r.Diagnoses = network.Diagnose(r)
	return r
}

// The plan is pure: it says what a probe would check, without touching the network.
func ExamplePlan() {
	steps, err := network.Plan(network.Options{Domain: "social.example.org", Outbound: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range steps[:6] {
		fmt.Println(s)
	}
	fmt.Println("…")
	for _, s := range steps[len(steps)-5:] {
		fmt.Println(s)
	}
	// Output:
	// dns      dns.aaaa.local            required
	// dns      dns.a.web                 required
	// inbound  inbound.tcp80             required per-AAAA after dns.aaaa.local
	// inbound  inbound.tcp443            required per-AAAA after dns.aaaa.local
	// inbound  inbound.tls               required per-AAAA after inbound.tcp443
	// inbound  inbound.redirect          required per-AAAA after inbound.tcp80
	// …
	// outbound outbound.private          required after outbound.dns64
	// outbound outbound.path             required
	// outbound outbound.ssrf             required after outbound.dns64
	// mtu      mtu.transfer              required per-AAAA after inbound.tcp443
	// mtu      mtu.icmp                  optional per-AAAA after dns.aaaa.local
}

// A report renders as prose grouped by layer, with a verdict, hints and diagnoses.
func ExampleReport_WriteText() {
	_ = sampleReport().WriteText(os.Stdout)
	// Output:
	// v6-probe social.example.org, IPv6-only, Mastodon 4.5.15, 212 ms
	// FAIL: 1 of 3 required checks failed (inbound.websocket@2001:db8::1)
	//
	// dns
	//   ok          dns.aaaa.local                           AAAA 2001:db8::1 (12 ms)
	//
	// inbound
	//   ok          inbound.tls@2001:db8::1                  TLS 1.3, chain and name valid for social.example.org, 61 days left (35 ms)
	//   fail        inbound.websocket@2001:db8::1            400 instead of 101: the websocket upgrade did not reach the streaming server (48 ms)
	//                                                        hint: the proxy does not pass the upgrade: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;
	//   warn        inbound.hsts@2001:db8::1                 no Strict-Transport-Security header (30 ms)
	//                                                        hint: add_header Strict-Transport-Security "max-age=63072000; includeSubDomains";
	//
	// mtu
	//   not checked mtu.icmp@2001:db8::1                     not checked: needs CAP_NET_RAW (<1 ms)
	//
	// diagnoses
	//   websocket broken by the proxy: the Upgrade/Connection headers do not reach streaming [inbound.websocket@2001:db8::1]
	//       in nginx's location ^~ /api/v1/streaming: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;
}
