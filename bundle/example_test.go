package bundle_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/redisconf"
)

// The third-party flow: a typed Host for the release you target, Compose (render and
// validate every artifact, nothing written), Check, then Write one tree that mirrors
// the host's filesystem. A problem carries the path of its artifact and field.
func Example() {
	dir, _ := os.MkdirTemp("", "bundle-host-")
	defer os.RemoveAll(dir)

	host := bundle.Host{
		Release:     mastodon.MustLookup("4.3"),
		Family:      bundle.IPv6Only,
		LocalDomain: "example.org",
		WebDomain:   "social.example.org",
		AdminEmail:  "admin@example.org",
	}
	tree := bundle.New("", dir)
	info := host.Compose(tree)
	if err := bundle.Check(tree); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := bundle.Write(tree); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Mastodon", info.Release, "env:", info.EnvPath)
	fmt.Println(bundle.ShellJoin(info.CertCommand))

	host.LocalDomain = "exa mple.org"
	bad := bundle.New("", filepath.Join(dir, "bad"))
	host.Compose(bad)
	for _, p := range bad.Problems.Errors() { // each problem once, with its path
		fmt.Println(p.Path)
	}
	// Output:
	// Mastodon 4.3.23 env: home/mastodon/live/.env.production
	// v6-certs obtain --email admin@example.org --webroot /home/mastodon/live/public --cert-name social.example.org -d social.example.org -d example.org
	// home/mastodon/live/.env.production.LOCAL_DOMAIN
}

// A tree collects artifacts, each validated by its package; Write writes them only when
// no artifact has an error, and a second Write changes nothing.
func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "bundle-example-")
	defer os.RemoveAll(dir)

	t := bundle.New("", dir)
	t.Redis("etc/redis/mastodon.conf", redisconf.Config{Family: redisconf.IPv6Only})
	t.Add(bundle.File{Path: "NOTES.md", Data: []byte("hello\n")})
	res, err := bundle.Write(t)
	fmt.Println(res[0].Changed, err)
	res, err = bundle.Write(t)
	fmt.Println(res[0].Unchanged, err)

	bad := bundle.New("", filepath.Join(dir, "bad"))
	bad.Redis("etc/redis/mastodon.conf", redisconf.Config{Port: 70000})
	_, err = bundle.Write(bad)
	fmt.Println(err != nil)
	_, statErr := os.Stat(filepath.Join(dir, "bad"))
	fmt.Println(os.IsNotExist(statErr))
	// Output:
	// [NOTES.md etc/redis/mastodon.conf] <nil>
	// [NOTES.md etc/redis/mastodon.conf] <nil>
	// true
	// true
}
