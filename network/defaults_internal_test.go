package network

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/v6kit/v6kit/mastodon"
)

// Issue 12, defect 10: the zero Options look for puma and streaming where v6-unitgen
// and the bundles bind them for the family (mastodon.Release.LoopbackBind), not on
// [::]: [::1] on an IPv6-only site, 127.0.0.1 on a dual-stack one.
func TestDefaultBindsFollowFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		family         Family
		rel            string
		web, streaming string
	}{
		{V6Only, "4.7", "[::1]:3000", "[::1]:4000"},
		{DualStack, "4.7", "127.0.0.1:3000", "127.0.0.1:4000"},
		{V6Only, "2.9.2", "127.0.0.1:3000", "127.0.0.1:4000"}, // puma ignores BIND: 0.0.0.0
	} {
		o := Options{Domain: "example.org", Family: tc.family, Release: mastodon.MustLookup(tc.rel)}.withDefaults()
		assert.Equal(t, tc.web, o.WebBind.String(), "%v %s", tc.family, tc.rel)
		assert.Equal(t, tc.streaming, o.StreamingBind.String(), "%v %s", tc.family, tc.rel)
	}
	assert.Equal(t, "[::1]:3000", Options{Domain: "example.org"}.withDefaults().WebBind.String(), "the zero value")
}
