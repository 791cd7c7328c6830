package files_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/nginxconf"
)

// Every writer returns a files.Result. Here an nginx site is written through Debian's
// sites-enabled link: the link stays and the file it points at is replaced; an
// unchanged site is not touched; a changed one keeps its previous content in
// .v6kit-backup/, where nginx's include sites-enabled/* never reads it.
func Example() {
	etc, err := os.MkdirTemp("", "nginx")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(etc)
	avail, enabled := filepath.Join(etc, "sites-available"), filepath.Join(etc, "sites-enabled")
	for _, d := range []string{avail, enabled} {
		if err := os.Mkdir(d, 0o755); err != nil {
			fmt.Println(err)
			return
		}
	}
	_ = os.WriteFile(filepath.Join(avail, "mastodon"), []byte("# hand-written\n"), 0o640)
	link := filepath.Join(enabled, "mastodon")
	if err := os.Symlink("../sites-available/mastodon", link); err != nil {
		fmt.Println(err)
		return
	}
	rel := func(p string) string { r, _ := filepath.Rel(etc, p); return r }

	site := nginxconf.Site{Domain: "social.example.org", Release: mastodon.MustLookup("4.5")}
	for _, instances := range []int{1, 1, 2} {
		site.StreamingInstances = instances
		res, err := site.WriteFile(link)
		if err != nil {
			fmt.Println(err)
			return
		}
		backup := "none"
		if res.Backup != "" { // NAME.YYYYMMDDTHHMMSS.NNNNNNNNNZ: never a name used before
			backup = filepath.Join(rel(filepath.Dir(res.Backup)), strings.SplitN(filepath.Base(res.Backup), ".", 2)[0]+".<stamp>")
		}
		fmt.Printf("changed=%v target=%s backup=%s\n", res.Changed, rel(res.Target), backup)
	}
	fi, _ := os.Stat(link)
	fmt.Println("mode kept:", fi.Mode().Perm())
	// Output:
	// changed=true target=sites-available/mastodon backup=sites-available/.v6kit-backup/mastodon.<stamp>
	// changed=false target=sites-available/mastodon backup=none
	// changed=true target=sites-available/mastodon backup=sites-available/.v6kit-backup/mastodon.<stamp>
	// mode kept: -rw-r-----
}
