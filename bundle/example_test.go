package bundle_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/redisconf"
)

// A tree collects artifacts, each validated by its package; Write writes them only when
// no artifact has an error, and a second Write changes nothing.
func Example() {
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
