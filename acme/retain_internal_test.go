package acme

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPruneSelect(t *testing.T) {
	t.Parallel()
	seq := func(a, b int) []int {
		var out []int
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
		return out
	}
	cases := []struct {
		name     string
		vs       []int
		cur      int
		keep     int
		want     []int
		describe string
	}{
		{"eight versions keep five", seq(1, 8), 8, 5, []int{1, 2}, "live + the 5 before it stay"},
		{"exactly enough", seq(1, 6), 6, 5, nil, "nothing older than the newest 6"},
		{"fewer than keep", seq(1, 3), 3, 5, nil, "a young lineage loses nothing"},
		{"keep one", seq(1, 8), 8, 1, seq(1, 6), "live and its predecessor"},
		{"keep all", seq(1, 60), 60, -1, nil, "negative keeps everything"},
		{"unswitched newer version", seq(1, 9), 8, 5, []int{1, 2}, "9 was written but not switched in: Repair needs it"},
		{"several newer versions", seq(1, 12), 4, 1, []int{1, 2}, "5..12 are newer than live: never picked"},
		{"gaps in numbering", []int{2, 5, 7, 9}, 9, 2, []int{2}, "counted by version, not by number"},
		{"unsorted with duplicates", []int{5, 1, 3, 1, 4}, 5, 1, []int{1, 3}, "input order does not matter"},
		{"certbot numbering", seq(1, 14), 14, 5, seq(1, 8), "certbot's versions count like ours"},
		{"no live version", seq(1, 8), 0, 1, nil, "without a live version nothing is safe to remove"},
		{"live not in archive", []int{1, 2, 3}, 7, 1, []int{1, 2}, "live itself is never in the result"},
		{"zero and negative numbers ignored", []int{-1, 0, 1, 2, 3}, 3, 1, []int{1}, "only real version numbers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := pruneSelect(c.vs, c.cur, c.keep)
			assert.Equal(t, c.want, got, c.describe)
			for _, v := range got {
				assert.Less(t, v, c.cur, "never the live version or a newer one")
			}
		})
	}
}

func TestStoreKeepDefaults(t *testing.T) {
	t.Parallel()
	assert.Equal(t, DefaultKeep, (&Store{}).keep())
	assert.Equal(t, 5, DefaultKeep, "certbot keeps 5 previous versions")
	assert.Equal(t, 2, (&Store{Keep: 2}).keep())
	assert.Equal(t, -1, (&Store{Keep: -1}).keep())
	assert.Equal(t, -1, (&Store{Keep: -30}).keep())
}
