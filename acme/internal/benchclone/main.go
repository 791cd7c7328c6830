// Command benchclone copies one v6-certs lineage N times under new names (NAME-0001,
// …) in the same store, with its metadata and cached ARI answer, for the "renew with
// nothing due at hosting scale" benchmark (scripts/bench-certs.sh). It is not shipped.
//
//	benchclone -dir ROOT -from NAME -n 1000
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/v6kit/v6kit/acme"
)

func main() {
	dir := flag.String("dir", "", "store root")
	from := flag.String("from", "", "lineage to copy")
	n := flag.Int("n", 1000, "copies")
	flag.Parse()
	if err := clone(*dir, *from, *n); err != nil {
		fmt.Fprintln(os.Stderr, "benchclone:", err)
		os.Exit(1)
	}
}

func clone(dir, from string, n int) error {
	st := &acme.Store{Root: dir}
	l, err := st.Load(from)
	if err != nil {
		return err
	}
	live := st.LiveDir(from)
	read := func(k string) ([]byte, error) { return os.ReadFile(filepath.Join(live, k+".pem")) }
	var v acme.Version
	if v.Cert, err = read("cert"); err != nil {
		return err
	}
	if v.Chain, err = read("chain"); err != nil {
		return err
	}
	if v.Key, err = read("privkey"); err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		if _, err := st.Install(fmt.Sprintf("%s-%04d", from, i), v, l.Meta, time.Now()); err != nil {
			return err
		}
	}
	return nil
}
