package acme_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/v6kit/v6kit/acme"
)

// The lineage layout: certbot's paths, with live/NAME switched by one rename.
func ExampleStore_Install() {
	root, _ := os.MkdirTemp("", "v6certs-example-")
	defer os.RemoveAll(root)
	st := &acme.Store{Root: root}
	now := time.Now()
	for range 2 {
		v := exampleVersion(now, "social.example", "media.social.example")
		if _, err := st.Install("social.example", v, acme.Meta{Server: acme.LetsEncrypt, Challenge: acme.Challenge{Webroot: "/var/www/acme"}}, now); err != nil {
			fmt.Println(err)
			return
		}
	}
	link, _ := os.Readlink(st.LiveDir("social.example"))
	fmt.Println("live/social.example ->", link)
	target, _ := os.Readlink(filepath.Join(st.LiveDir("social.example"), "fullchain.pem"))
	fmt.Println("live/social.example/fullchain.pem ->", target)
	l, _ := st.Load("social.example")
	fmt.Println("version", l.Version, "names", l.Names)
	// Output:
	// live/social.example -> .social.example.v2
	// live/social.example/fullchain.pem -> ../../archive/social.example/fullchain2.pem
	// version 2 names [social.example media.social.example]
}

// When is a certificate due? Without ARI, when a third of its lifetime remains; with
// a cached ARI answer, at the random time chosen inside the CA's window.
func ExampleDueAt() {
	nb := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	l := acme.Lineage{NotBefore: nb, NotAfter: nb.Add(90 * 24 * time.Hour), Meta: acme.Meta{NoARI: true}}
	d := acme.DueAt(l, "", nb.Add(30*24*time.Hour))
	fmt.Println(d.Now, d.Reason, d.At.Format(time.DateOnly))

	l.Meta = acme.Meta{ARI: &acme.ARIState{CertID: "aki.serial", Start: nb.Add(40 * 24 * time.Hour), End: nb.Add(42 * 24 * time.Hour),
		RenewAt: nb.Add(41 * 24 * time.Hour), NextCheck: nb.Add(31 * 24 * time.Hour)}}
	d = acme.DueAt(l, "aki.serial", nb.Add(30*24*time.Hour))
	fmt.Println(d.Now, d.Reason, d.At.Format(time.DateOnly), "ask CA again:", d.CheckARI)
	d = acme.DueAt(l, "aki.serial", nb.Add(41*24*time.Hour+time.Minute))
	fmt.Println(d.Now, d.Reason, "ask CA again:", d.CheckARI)
	// Output:
	// false lifetime 2026-12-31
	// false ari-window 2026-12-12 ask CA again: false
	// true ari-window ask CA again: true
}

// Bounded retention: after each switch, Prune keeps the live version and the Keep
// versions before it (zero: 5, as certbot; negative: all). Client does this itself.
func ExampleStore_Prune() {
	root, _ := os.MkdirTemp("", "v6certs-example-")
	defer os.RemoveAll(root)
	st := &acme.Store{Root: root, Keep: 2}
	now := time.Now()
	for range 5 {
		if _, err := st.Install("social.example", exampleVersion(now, "social.example"), acme.Meta{Server: acme.LetsEncrypt}, now); err != nil {
			fmt.Println(err)
			return
		}
		removed, err := st.Prune("social.example")
		if err != nil {
			fmt.Println("warning:", err)
		}
		vs, _ := st.Versions("social.example")
		fmt.Println("versions", vs, "removed", removed)
	}
	// Output:
	// versions [1] removed []
	// versions [1 2] removed []
	// versions [1 2 3] removed []
	// versions [2 3 4] removed [1]
	// versions [3 4 5] removed [2]
}
