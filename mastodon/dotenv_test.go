package mastodon

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDotenvPairs pins the readers each release line pins (Gemfile.lock, yarn.lock).
func TestDotenvPairs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		release string
		want    []string
	}{
		{"1.6", []string{"Ruby dotenv 2.2.1 + Node dotenv 4.0.0"}},
		{"2.4.0", []string{"Ruby dotenv 2.2.2 + Node dotenv 4.0.0"}},
		{"2.7.0", []string{"Ruby dotenv 2.6.0 + Node dotenv 6.2.0"}},
		{"2.9.0", []string{"Ruby dotenv 2.7.2 + Node dotenv 8.0.0"}},
		{"2.9.3", []string{"Ruby dotenv 2.7.5 + Node dotenv 8.0.0"}},
		{"3.0", []string{"Ruby dotenv 2.7.5 + Node dotenv 8.0.0"}},
		{"3.3", []string{"Ruby dotenv 2.7.6 + Node dotenv 8.2.0"}},
		{"3.4.0", []string{"Ruby dotenv 2.7.6 + Node dotenv 9.0.1"}},
		{"3.5.0", []string{"Ruby dotenv 2.7.6 + Node dotenv 16.0.0"}},
		{"3.5.3", []string{"Ruby dotenv 2.7.6 + Node dotenv 16.0.1"}},
		{"3.5", []string{"Ruby dotenv 2.7.6 + Node dotenv 16.0.1", "Ruby dotenv 2.8.1 + Node dotenv 16.0.3"}},
		{"4.0", []string{"Ruby dotenv 2.8.1 + Node dotenv 16.0.3"}},
		{"4.2", []string{"Ruby dotenv 2.8.1 + Node dotenv 16.3.1"}},
		{"4.3", []string{"Ruby dotenv 3.1.4 + Node dotenv 16.4.5"}},
		{"4.4", []string{"Ruby dotenv 3.1.8 + Node dotenv 16.5.0"}},
		{"4.5.11", []string{"Ruby dotenv 3.1.8 + Node dotenv 16.5.0"}},
		{"4.5", []string{"Ruby dotenv 3.1.8 + Node dotenv 16.6.1"}},
		{"4.6", []string{"Ruby dotenv 3.2.0 + Node dotenv 17.4.2"}},
		{"4.7", []string{"Ruby dotenv 3.2.0 + Node dotenv 17.4.2"}},
	} {
		var got []string
		for _, p := range MustLookup(tc.release).DotenvPairs() {
			got = append(got, p.String())
		}
		assert.Equal(t, tc.want, got, tc.release)
	}
	for _, line := range Lines() {
		assert.NotEmpty(t, MustLookup(line).DotenvPairs(), line)
	}
	// The facts by version.
	p := func(gem, node Version) DotenvPair { return DotenvPair{Gem: gem, Node: node} }
	old, mid, now := p(V(2, 2, 1), V(4, 0, 0)), p(V(2, 7, 2), V(8, 0, 0)), p(V(3, 2, 0), V(17, 4, 2))
	assert.True(t, old.GemLineByLine() && old.GemRefusesUnknownLines() && old.NodeLineByLine() && old.NodeTrimsQuoted())
	assert.True(t, !mid.GemLineByLine() && !mid.GemQuoteAfterBlanks() && mid.NodeLineByLine() && !mid.NodeTrimsQuoted())
	assert.True(t, now.GemUnescapesUnquoted() && now.GemLiteralNewlines() && now.GemExportNeedsValue() && now.GemCommandsFirst() && !now.NodeLineByLine())
	assert.False(t, p(V(3, 1, 8), V(16, 6, 1)).GemCommandsFirst())
	assert.False(t, p(V(3, 1, 4), V(16, 4, 5)).GemExportNeedsValue())
	assert.True(t, old.GemFoldedNames() && now.DotenvStripsBOM())
}
