package envfile

import (
	"net/netip"
	"slices"

	"github.com/v6kit/v6kit/mastodon"

	"golang.org/x/tools/txtar"
)

type netipPrefixT = netip.Prefix

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func loadArchive(name string) (*txtar.Archive, error) { return txtar.ParseFile(name) }

// testPairs returns every distinct pair of dotenv readers a supported release may run,
// and the baseline pair the tests run for real.
func testPairs() []mastodon.DotenvPair {
	out := []mastodon.DotenvPair{baseline}
	for _, line := range mastodon.Lines() {
		for _, p := range mastodon.MustLookup(line).DotenvPairs() {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		for _, patch := range []string{".0", ".3", ".4", ".12"} { // patch releases that change the pins
			if r, err := mastodon.Lookup(line + patch); err == nil {
				for _, p := range r.DotenvPairs() {
					if !slices.Contains(out, p) {
						out = append(out, p)
					}
				}
			}
		}
	}
	return out
}

// readOne reads a single line under pair p: what Rails and streaming set from it.
func readOne(p mastodon.DotenvPair, line string) (rails, node assignment, rok, nok bool) {
	r := readGem(p, line+"\n")
	n := readNode(p, line+"\n")
	rails, rok, _ = r.at(0)
	node, nok, _ = n.at(0)
	return rails, node, rok && len(r.fatal) == 0, nok
}

// values returns the variables a reading sets (the last assignment wins).
func (r fileReading) values() map[string]string {
	m := map[string]string{}
	for _, a := range r.sets {
		m[a.key] = a.value
	}
	return m
}
