package nginxconf_test

import (
	"fmt"
	"os"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/nginxconf"
)

// A site with four streaming instances: the upstream blocks match the
// mastodon-streaming@4000 … @4003 units.
func ExampleSite_Directives() {
	site := nginxconf.Site{Domain: "social.example.org", Release: mastodon.MustLookup("4.7"), StreamingInstances: 4}
	tree, err := site.Directives()
	if err != nil {
		fmt.Println(err)
		return
	}
	var upstreams []nginxconf.Directive
	for _, d := range tree {
		if d.Name == "upstream" {
			upstreams = append(upstreams, d)
		}
	}
	if err := nginxconf.Print(os.Stdout, upstreams); err != nil {
		fmt.Println(err)
	}
	// Output:
	// upstream backend {
	//   server 127.0.0.1:3000 fail_timeout=0;
	// }
	//
	// upstream streaming {
	//   least_conn;
	//   server 127.0.0.1:4000 fail_timeout=0;
	//   server 127.0.0.1:4001 fail_timeout=0;
	//   server 127.0.0.1:4002 fail_timeout=0;
	//   server 127.0.0.1:4003 fail_timeout=0;
	// }
}

// Validate reports every problem at once, each with the field it is about; nothing is
// rendered until they are fixed.
func ExampleSite_Validate() {
	site := nginxconf.Site{
		Domain:       "social.example.org",
		WebDomain:    "social.example.org",
		Root:         "/home/mastodon/live/public; return 200",
		NginxVersion: "1.18",
	}
	for _, p := range site.Validate().Sorted() {
		fmt.Println(p)
	}
	// Output:
	// nginx_version: nginx version must be 1.22 or later, up to the newest v6kit knows: 1.18.0 is outside 1.22 … 1.31
	// root: path "/home/mastodon/live/public; return 200" holds ';', which nginx would read as syntax, a variable or a separator; rename the directory
	// web_domain: "social.example.org" is already given as domain; list each name once (leave web_domain empty when it equals the local domain)
}

// Quote keeps any value one nginx argument.
func ExampleQuote() {
	for _, s := range []string{"$host", "max-age=63072000; includeSubDomains", `a "quoted" }`, ""} {
		fmt.Println(nginxconf.Quote(s))
	}
	// Output:
	// $host
	// "max-age=63072000; includeSubDomains"
	// "a \"quoted\" }"
	// ""
}
