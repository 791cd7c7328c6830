package envfile

import (
	"slices"
	"strings"
	"testing"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// FuzzNodeReaders is the differential fuzz target: random files, as envfile reads and
// writes them, go through envfile's model of every Node dotenv version a release pins and
// through the real npm version (one node process holding them all, reading over stdin),
// and the two must set the same variables. Then, for every release line, each entry that
// Validate passes as clean must be what that release's real Node reader sets.
func FuzzNodeReaders(f *testing.F) {
	for _, l := range append(slices.Clone(readerCorpus), releaseCorpus...) {
		f.Add(l + "\n")
	}
	f.Add(strings.Join(releaseCorpus, "\n") + "\n")
	f.Add("A='x\\'\nB=\\'y'\n")
	f.Add("A=\n# c\nB= 'x' # y\nexport C=\n")
	var versions []string
	for _, p := range testPairs() {
		if !slices.Contains(versions, p.Node.String()) {
			versions = append(versions, p.Node.String())
		}
	}
	node := testenv.StartDotenvNode(f, versions...)
	pairs := make([]mastodon.DotenvPair, len(versions))
	for i, v := range versions {
		pairs[i] = nodePair(f, v)
	}
	var rels []mastodon.Release // one release per distinct set of pairs
	var seen [][]mastodon.DotenvPair
	for _, line := range mastodon.Lines() {
		rel := mastodon.MustLookup(line)
		if !slices.ContainsFunc(seen, func(ps []mastodon.DotenvPair) bool { return slices.Equal(ps, rel.DotenvPairs()) }) {
			seen = append(seen, rel.DotenvPairs())
			rels = append(rels, rel)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		file, err := Parse([]byte(src))
		if err != nil {
			return // Validate and Write only see files Parse accepts
		}
		// The text the readers see, as Validate builds it (entries as written, LF ends).
		texts := make([]string, len(file.Lines))
		for i, l := range file.Lines {
			switch l.Kind {
			case Comment:
				texts[i] = l.Text
			case Entry:
				texts[i] = l.Raw
			}
		}
		text := strings.Join(texts, "\n") + "\n"
		real, err := node.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pairs {
			if got := readNode(p, text).values(); !mapsEqual(got, real[i]) {
				t.Fatalf("Node dotenv %s reads %q as %v; envfile's model says %v", versions[i], text, real[i], got)
			}
		}
		for _, rel := range rels {
			var ps report.Problems
			file.checkLines(&ps, rel)
			flagged := map[int]bool{}
			for _, p := range ps.Errors() {
				flagged[lineNum(p.Path)] = true
			}
			for _, pair := range rel.DotenvPairs() {
				nv := real[slices.Index(versions, pair.Node.String())]
				for i, l := range file.Lines {
					if l.Kind == Entry && !flagged[l.Num] && file.index(l.Key) == i && nv[l.Key] != l.Value {
						t.Fatalf("Mastodon %s: %q passes as clean, but Node dotenv %s reads %s=%q, not %q", rel, l.Raw, pair.Node, l.Key, nv[l.Key], l.Value)
					}
				}
			}
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
