package network

import (
	"strings"
)

// Diagnose turns the symptoms in a report into causes, as an admin would: a 502 with
// puma's port closed is "web service down", a websocket 400 is the proxy's headers, an
// IPv4-only peer out of reach is no NAT64, DNS64 missing from resolv.conf, or the prefix
// blocked by Mastodon. It is pure and runs on any report, including one read from JSON.
func Diagnose(r *Report) []Diagnosis {
	var out []Diagnosis
	find := func(id string) (Check, bool) { return r.Find(id) }
	each := func(prefix string) []Check {
		var cs []Check
		for _, c := range r.Checks {
			if c.ID == prefix || strings.HasPrefix(c.ID, prefix+"@") {
				cs = append(cs, c)
			}
		}
		return cs
	}
	add := func(cause, hint string, ev ...string) {
		out = append(out, Diagnosis{Cause: cause, Evidence: ev, Hint: hint})
	}
	gateway := func(c Check) bool { s := c.Values["status"]; return s == "502" || s == "504" }

	// 1. web backend
	var web502 []string
	for _, id := range []string{"inbound.health", "inbound.instance", "inbound.webfinger", "inbound.nodeinfo"} {
		for _, c := range each(id) {
			if c.State == Fail && gateway(c) {
				web502 = append(web502, c.ID)
			}
		}
	}
	if len(web502) > 0 {
		puma, ok := find("local.puma")
		switch {
		case ok && puma.State == Fail:
			add("web service (puma) down", "start it: systemctl restart mastodon-web; journalctl -u mastodon-web shows why it stopped",
				append(web502, puma.ID)...)
		case ok && puma.Passed():
			add("nginx cannot reach puma: its upstream is not where puma listens",
				"make nginx's upstream backend match puma's BIND and PORT ("+puma.Values["bind"]+"); with BIND=[::] use server [::1]:PORT",
				append(web502, puma.ID)...)
		default:
			add("web service (puma) down, or nginx proxies to the wrong address",
				"on the server: systemctl status mastodon-web, and run v6-probe --local to test puma's port", web502...)
		}
	}

	// 2. streaming
	for _, c := range each("inbound.websocket") {
		if c.State != Fail {
			continue
		}
		switch s := c.Values["status"]; {
		case s == "400" || s == "426" || s == "200" || s == "404":
			add("websocket broken by the proxy: the Upgrade/Connection headers do not reach streaming",
				"in nginx's location ^~ /api/v1/streaming: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;", c.ID)
		case s == "502" || s == "504":
			st, ok := find("local.streaming")
			if ok && st.State == Fail {
				add("streaming service down", "systemctl restart mastodon-streaming; journalctl -u mastodon-streaming", c.ID, st.ID)
			} else {
				add("streaming service down, or nginx proxies to the wrong address",
					"systemctl status mastodon-streaming; make nginx's upstream streaming match its BIND and PORT", c.ID)
			}
		}
		break
	}

	// 3. DNS
	if c, ok := find("dns.aaaa.host"); ok && c.State == Fail {
		add("AAAA points elsewhere", c.Hint, c.ID)
	}
	if c, ok := find("dns.a.web"); ok && c.State == Fail {
		switch {
		case c.Values["query"] == "failed":
			// No answer at all: the resolver, not the zone, is what failed.
			add("the DNS query failed: nothing is known about the site's records", c.Hint, c.ID)
		case r.Family == V6Only:
			add("A record on an IPv6-only site", c.Hint, c.ID)
		}
	}
	for _, id := range []string{"dns.aaaa.local", "dns.aaaa.web"} {
		if c, ok := find(id); ok && c.State == Fail {
			if c.Values["query"] == "failed" {
				// A query that got no answer says nothing about the record.
				if a, ok := find("dns.a.web"); !ok || a.Values["query"] != "failed" {
					add("the DNS query failed: nothing is known about the site's records", c.Hint, c.ID)
				}
				break
			}
			add("no usable AAAA record: IPv6 clients cannot find the site", c.Hint, c.ID)
			break
		}
	}

	// 4. ports and TLS
	for _, c := range each("inbound.tcp443") {
		if c.State == Fail {
			ev := []string{c.ID}
			if h, ok := find(instanceIDString("inbound.tcp80", c.Addr.String())); ok && h.Passed() {
				ev = append(ev, h.ID)
			}
			add("port 443 closed or filtered on "+c.Addr.String(), "nginx needs listen [::]:443 ssl; and the firewall must allow TCP 443 over IPv6", ev...)
		}
	}
	for _, c := range each("inbound.tls") {
		switch c.Values["verify"] {
		case "wrong name":
			add("certificate for the wrong name", c.Hint, c.ID)
		case "expired":
			add("certificate expired", c.Hint, c.ID)
		case "unknown authority":
			add("certificate chain incomplete or untrusted", c.Hint, c.ID)
		}
	}

	// 5. outbound
	dns64, hasDNS64 := find("outbound.dns64")
	reach, hasReach := find("outbound.reach")
	priv, hasPriv := find("outbound.private")
	if hasDNS64 && dns64.State == Fail {
		if dns64.Values["prefix_via_resolver"] != "" {
			add("IPv4-only peers unreachable: DNS64 not in resolv.conf", dns64.Hint, dns64.ID)
		} else {
			add("IPv4-only peers unreachable: no NAT64/DNS64", dns64.Hint, dns64.ID)
		}
	} else if hasReach && reach.State == Fail {
		add("IPv4-only peers unreachable: NAT64 does not forward", reach.Hint, reach.ID)
	}
	if hasPriv && priv.State == Fail {
		add("IPv4-only peers unreachable from Mastodon: NAT64 prefix blocked by Mastodon", priv.Hint, priv.ID)
	}

	// 6. path MTU
	for _, c := range each("mtu.transfer") {
		if c.State != Fail || !strings.Contains(c.Detail, "stalled") {
			continue
		}
		ev := []string{c.ID}
		if t, ok := find(instanceIDString("inbound.tcp443", c.Addr.String())); ok && t.Passed() {
			ev = append(ev, t.ID)
		}
		add("path MTU blackhole: Packet Too Big is dropped between the server and its clients", mtuHint, ev...)
	}
	return out
}

func instanceIDString(id, addr string) string { return id + "@" + addr }
