package mastodon

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNginxTemplateFacts(t *testing.T) {
	t.Parallel()
	type row struct {
		era                    NginxEra
		app, body, timeout     string
		cache, leastConn, gzst bool
		hsts                   string
		always, server, strm   bool
		root, media, prefix    bool
		errCodes, ssl          string
		scheme                 bool
	}
	cases := map[string]row{
		"1.6":    {NginxEraGuide, "@proxy", "0", "", false, false, false, "max-age=31536000", false, true, false, false, false, false, "500", "TLSv1.2", false},
		"2.9":    {NginxEraDist2, "@proxy", "80m", "", true, false, false, "max-age=31536000", false, true, false, false, false, false, "500", "TLSv1.2", false},
		"3.4":    {NginxEraDist2, "@proxy", "80m", "", true, false, false, "max-age=31536000", false, true, false, false, false, false, "500", "TLSv1.2 TLSv1.3", true},
		"3.5.0":  {NginxEraDist2, "@proxy", "80m", "", true, false, false, "max-age=31536000", true, true, false, false, false, false, "500", "TLSv1.2 TLSv1.3", true},
		"3.5":    {NginxEraDist2, "@proxy", "80m", "", true, false, false, "max-age=31536000", true, true, false, false, true, false, "500", "TLSv1.2 TLSv1.3", true},
		"4.0.0":  {NginxEraDist4, "@proxy", "80m", "", true, false, false, "max-age=63072000; includeSubDomains", false, false, true, false, false, true, "404", "TLSv1.2 TLSv1.3", true},
		"4.1":    {NginxEraDist4, "@proxy", "80m", "", true, false, false, "max-age=63072000; includeSubDomains", false, false, true, false, false, true, "404", "TLSv1.2 TLSv1.3", true},
		"4.2":    {NginxEraDist4, "@proxy", "99m", "", true, true, false, "max-age=63072000; includeSubDomains", false, false, true, false, true, true, "404", "TLSv1.2 TLSv1.3", true},
		"4.4":    {NginxEraDist4, "@proxy", "99m", "", true, true, true, "max-age=63072000; includeSubDomains", false, false, true, false, true, true, "404", "TLSv1.2 TLSv1.3", true},
		"4.6":    {NginxEraDist46, "@mastodon", "99m", "120", true, true, true, "max-age=63072000; includeSubDomains", false, false, false, true, true, true, "404", "TLSv1.2 TLSv1.3", true},
		"4.7":    {NginxEraDist46, "@mastodon", "99m", "120", true, true, true, "max-age=63072000; includeSubDomains", false, false, false, true, true, true, "404", "TLSv1.2 TLSv1.3", true},
		"4.0.9":  {NginxEraDist4, "@proxy", "80m", "", true, false, false, "max-age=63072000; includeSubDomains", false, false, true, false, true, true, "404", "TLSv1.2 TLSv1.3", true},
		"2.6.0":  {NginxEraDist2, "@proxy", "80m", "", true, false, false, "max-age=31536000", false, true, false, false, false, false, "500", "TLSv1.2", false},
		"2.5.0":  {NginxEraGuide, "@proxy", "0", "", false, false, false, "max-age=31536000", false, true, false, false, false, false, "500", "TLSv1.2", false},
		"4.5.0":  {NginxEraDist4, "@proxy", "99m", "", true, true, true, "max-age=63072000; includeSubDomains", false, false, true, false, true, true, "404", "TLSv1.2 TLSv1.3", true},
		"3.0.0":  {NginxEraDist2, "@proxy", "80m", "", true, false, false, "max-age=31536000", false, true, false, false, false, false, "500", "TLSv1.2 TLSv1.3", false},
		"4.3.23": {NginxEraDist4, "@proxy", "99m", "", true, true, false, "max-age=63072000; includeSubDomains", false, false, true, false, true, true, "404", "TLSv1.2 TLSv1.3", true},
	}
	for v, want := range cases {
		r := MustLookup(v)
		assert.Equal(t, want.era, r.NginxEra(), v)
		assert.Equal(t, want.app, r.NginxAppLocation(), v)
		assert.Equal(t, want.body, r.NginxClientMaxBodySize(), v)
		assert.Equal(t, want.timeout, r.NginxProxyReadTimeout(), v)
		assert.Equal(t, want.cache, r.NginxProxyCache(), v)
		assert.Equal(t, want.leastConn, r.NginxStreamingLeastConn(), v)
		assert.Equal(t, want.gzst, r.NginxGzipStatic(), v)
		assert.Equal(t, want.hsts, r.NginxHSTS(), v)
		assert.Equal(t, want.always, r.NginxHSTSAlways(), v)
		assert.Equal(t, want.server, r.NginxHSTSServerLevel(), v)
		assert.Equal(t, want.strm, r.NginxHSTSOnStreaming(), v)
		assert.Equal(t, want.root, r.NginxHSTSOnRoot(), v)
		assert.Equal(t, want.media, r.NginxMediaSecurityHeaders(), v)
		assert.Equal(t, want.prefix, r.NginxStreamingPrefixMatch(), v)
		assert.Equal(t, want.errCodes, r.NginxErrorPageCodes()[0], v)
		assert.Equal(t, want.ssl, r.NginxTemplateSSLProtocols(), v)
		assert.Equal(t, want.scheme, r.NginxForwardedProtoScheme(), v)
	}
	assert.Contains(t, MustLookup("4.4").NginxGzipTypes(), "application/xml+rss")
	assert.Contains(t, MustLookup("4.5").NginxGzipTypes(), "application/rss+xml")
	assert.NotContains(t, MustLookup("2.9").NginxGzipTypes(), "image/svg+xml")
	assert.Contains(t, MustLookup("3.5").NginxGzipTypes(), "image/svg+xml")
	assert.Equal(t, "dist-4.6", MustLookup("4.7").NginxEra().String())
	assert.False(t, MustLookup("3.1").NginxTemplateUpstreams())
	assert.True(t, MustLookup("3.2").NginxTemplateUpstreams())
}

func TestNginxStaticLocations(t *testing.T) {
	t.Parallel()
	g := MustLookup("1.6").NginxStaticLocations()
	assert.Len(t, g, 1)
	assert.Equal(t, []string{"$uri", "@proxy"}, g[0].TryFiles)
	d2 := MustLookup("3.5").NginxStaticLocations()
	assert.Len(t, d2, 2)
	assert.Equal(t, NginxMediaCSP, d2[0].CSP)
	assert.True(t, d2[1].Nosniff)
	assert.Empty(t, MustLookup("3.5.0").NginxStaticLocations()[0].CSP)
	d4 := MustLookup("4.3").NginxStaticLocations()
	assert.Len(t, d4, 9)
	assert.Equal(t, "=", d4[0].Modifier)
	assert.Equal(t, "public, max-age=2419200, immutable", d4[8].CacheControl)
	assert.Empty(t, MustLookup("4.1").NginxStaticLocations()[8].CSP)
	d46 := MustLookup("4.7").NginxStaticLocations()
	assert.Len(t, d46, 8)
	for _, s := range d46 {
		assert.Equal(t, "^~", s.Modifier)
		assert.Nil(t, s.TryFiles)
		assert.NotEqual(t, "/sw.js", s.Path)
	}
}
