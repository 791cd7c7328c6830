package mastodon

// ---- The nginx site template ----------------------------------------------------------
//
// Facts about Mastodon's nginx template per release: the 2017 Production guide for the
// lines before 2.6 (the origin story's 1.6 era; there was no dist/ directory), and
// dist/nginx.conf from 2.6.0 on. Read from v1.6.1's guide, v2.9.4, v3.5.13, v4.0.9,
// v4.2.13, v4.3.23, v4.4.22, v4.5.15, v4.6.5 and 4.7.0-pre. Where the table of the
// survey only has a column for a later patch (3.5.x), a change is dated to that line.

// NginxEra names the shape of the template's static-file locations.
type NginxEra int

const (
	// NginxEraGuide is the 2017 Production guide (≤2.5): regex static location for
	// emoji, packs and the media directories, immutable for a year, `try_files $uri @proxy`.
	NginxEraGuide NginxEra = iota
	// NginxEraDist2 is dist/nginx.conf 2.6–3.5: the guide's static location plus
	// `location /sw.js` with max-age 0, and the proxy cache.
	NginxEraDist2
	// NginxEraDist4 is 4.0–4.5: `= /sw.js` (7 days), a regex for assets, avatars, emoji,
	// headers, packs, shortcuts, sounds (28 days, must-revalidate) and /system/
	// (28 days, immutable), all `try_files $uri =404`.
	NginxEraDist4
	// NginxEraDist46 is 4.6 and later: `^~` prefix locations for /assets/ /avatars/
	// /emoji/ /headers/ /ocr/ /packs/ /sounds/ /system/ served straight from disk, no
	// /sw.js or /shortcuts/ block, and the app location renamed `@mastodon`.
	NginxEraDist46
)

// String returns a short name of the era.
func (e NginxEra) String() string {
	switch e {
	case NginxEraGuide:
		return "guide-2017"
	case NginxEraDist2:
		return "dist-2.6"
	case NginxEraDist4:
		return "dist-4.0"
	case NginxEraDist46:
		return "dist-4.6"
	}
	return "unknown"
}

// NginxEra returns the template era of this release (dist/ from 2.6.0; 4.0.0 rewrote the
// static locations; 4.6.0 moved to `^~` prefixes and `@mastodon`).
func (r Release) NginxEra() NginxEra {
	switch {
	case r.AtLeast(4, 6, 0):
		return NginxEraDist46
	case r.AtLeast(4, 0, 0):
		return NginxEraDist4
	case r.AtLeast(2, 6, 0):
		return NginxEraDist2
	}
	return NginxEraGuide
}

// NginxAppLocation is the named location that proxies to puma: "@proxy" before 4.6.0,
// "@mastodon" from 4.6.0.
func (r Release) NginxAppLocation() string {
	if r.AtLeast(4, 6, 0) {
		return "@mastodon"
	}
	return "@proxy"
}

// NginxProxyCache reports whether the app location uses `proxy_cache CACHE` with
// `proxy_buffering on` (dist/ from 2.6.0; the 2017 guide had buffering off and no cache).
func (r Release) NginxProxyCache() bool { return r.AtLeast(2, 6, 0) }

// NginxStreamingLeastConn reports whether the `streaming` upstream balances with
// `least_conn` (4.2.0+, together with the templated streaming units).
func (r Release) NginxStreamingLeastConn() bool { return r.AtLeast(4, 2, 0) }

// NginxTemplateUpstreams reports whether the template declares `upstream backend` and
// `upstream streaming` blocks (3.2.0+; before, proxy_pass named 127.0.0.1:3000/:4000).
// v6kit always renders the upstream blocks: they hold the streaming instances.
func (r Release) NginxTemplateUpstreams() bool { return r.AtLeast(3, 2, 0) }

// NginxTemplateSSLProtocols is the template's ssl_protocols: "TLSv1.2" before 3.0.0,
// "TLSv1.2 TLSv1.3" from 3.0.0. v6kit renders Mozilla's intermediate profile (TLS 1.2
// and 1.3) for every release; this fact is kept to explain the difference.
func (r Release) NginxTemplateSSLProtocols() string {
	if r.AtLeast(3, 0, 0) {
		return "TLSv1.2 TLSv1.3"
	}
	return "TLSv1.2"
}

// NginxClientMaxBodySize is the template's upload limit: "0" (unlimited) in the 2017
// guide, "80m" in 2.6–4.1, "99m" from 4.2.0.
func (r Release) NginxClientMaxBodySize() string {
	switch {
	case r.AtLeast(4, 2, 0):
		return "99m"
	case r.AtLeast(2, 6, 0):
		return "80m"
	}
	return "0"
}

// NginxProxyReadTimeout is the template's server-level proxy_read_timeout in seconds
// ("120" from 4.6.0), or "" when the template leaves nginx's default (60 s).
func (r Release) NginxProxyReadTimeout() string {
	if r.AtLeast(4, 6, 0) {
		return "120"
	}
	return ""
}

// NginxGzipTypes is the template's gzip_types list. All versions: text/plain text/css
// application/json application/javascript text/xml application/xml application/xml+rss
// text/javascript; 3.5 adds image/svg+xml image/x-icon; 4.5.0 fixes application/xml+rss
// to application/rss+xml.
func (r Release) NginxGzipTypes() []string {
	rss := "application/xml+rss"
	if r.AtLeast(4, 5, 0) {
		rss = "application/rss+xml"
	}
	types := []string{"text/plain", "text/css", "application/json", "application/javascript", "text/xml", "application/xml", rss, "text/javascript"}
	if r.AtLeast(3, 5, 0) {
		types = append(types, "image/svg+xml", "image/x-icon")
	}
	return types
}

// NginxGzipStatic reports whether the template has `gzip_static on` (4.4.0+, with Vite's
// precompressed assets).
func (r Release) NginxGzipStatic() bool { return r.AtLeast(4, 4, 0) }

// NginxHSTS is the template's Strict-Transport-Security value: "max-age=31536000" before
// 4.0.0, "max-age=63072000; includeSubDomains" from 4.0.0.
func (r Release) NginxHSTS() string {
	if r.AtLeast(4, 0, 0) {
		return "max-age=63072000; includeSubDomains"
	}
	return "max-age=31536000"
}

// NginxHSTSAlways reports whether the template's HSTS add_header carries `always`
// (the 3.5 line; neither 2.9.4 nor 4.0 have it).
func (r Release) NginxHSTSAlways() bool {
	return r.AtLeast(3, 5, 0) && r.Version.Before(V(4, 0, 0))
}

// NginxHSTSServerLevel reports whether HSTS is set at server level (before 4.0.0; from
// 4.0.0 only per location).
func (r Release) NginxHSTSServerLevel() bool { return r.Version.Before(V(4, 0, 0)) }

// NginxHSTSOnStreaming reports whether the streaming location adds HSTS (4.0–4.5;
// 4.6.0 dropped it there).
func (r Release) NginxHSTSOnStreaming() bool {
	return r.AtLeast(4, 0, 0) && r.Version.Before(V(4, 6, 0))
}

// NginxHSTSOnRoot reports whether `location /` adds HSTS (4.6.0+, where `location /`
// is `try_files $uri @mastodon` plus HSTS).
func (r Release) NginxHSTSOnRoot() bool { return r.AtLeast(4, 6, 0) }

// NginxMediaSecurityHeaders reports whether the media location adds
// `X-Content-Type-Options nosniff` and the CSP `default-src 'none'; form-action 'none'`
// (and /sw.js nosniff in the 3.5 line): present in 3.5.13 (not 3.5.0), 4.0.9 (not 4.0.0),
// absent in 4.1.0, present from 4.2.0.
func (r Release) NginxMediaSecurityHeaders() bool {
	v := r.Version
	switch {
	case v.AtLeast(V(4, 2, 0)):
		return true
	case v.Major == 4 && v.Minor == 0:
		return v.Patch >= 9
	case v.Major == 3 && v.Minor == 5:
		return v.Patch >= 13
	}
	return false
}

// NginxStreamingPrefixMatch reports whether the streaming location is `^~
// /api/v1/streaming` (4.0.0+) rather than the plain prefix `/api/v1/streaming`.
func (r Release) NginxStreamingPrefixMatch() bool { return r.AtLeast(4, 0, 0) }

// NginxErrorPageCodes are the status codes the template maps to /500.html: 500–504
// before 4.0.0; 404 joins them from 4.0.0.
func (r Release) NginxErrorPageCodes() []string {
	codes := []string{"500", "501", "502", "503", "504"}
	if r.AtLeast(4, 0, 0) {
		return append([]string{"404"}, codes...)
	}
	return codes
}

// NginxForwardedProtoScheme reports whether X-Forwarded-Proto is `$scheme` (3.4.0+);
// earlier templates hard-coded `https`.
func (r Release) NginxForwardedProtoScheme() bool { return r.AtLeast(3, 4, 0) }

// NginxStatic is one static-file location of the template.
type NginxStatic struct {
	// Modifier is the location's match modifier: "" (prefix), "=", "~" or "^~".
	Modifier string
	// Path is the location's path or regex.
	Path string
	// CacheControl is the Cache-Control header the location adds.
	CacheControl string
	// Nosniff adds `X-Content-Type-Options nosniff`.
	Nosniff bool
	// CSP is the Content-Security-Policy the location adds, or "".
	CSP string
	// TryFiles is the try_files argument list, or nil when files are served straight
	// from disk (4.6+).
	TryFiles []string
}

// NginxMediaCSP is the Content-Security-Policy of the media location (where
// [Release.NginxMediaSecurityHeaders] holds).
const NginxMediaCSP = "default-src 'none'; form-action 'none'"

// NginxStaticLocations lists the template's static-file locations for this release, in
// template order:
//   - guide and 2.6–3.5: `~ ^/(emoji|packs|system/accounts/avatars|system/media_attachments/files)`
//     ("public, max-age=31536000, immutable", try_files $uri @proxy), and from 2.6
//     `/sw.js` ("public, max-age=0"); 3.5.13 adds nosniff + CSP to the first, nosniff
//     to /sw.js;
//   - 4.0–4.5: `= /sw.js` ("public, max-age=604800, must-revalidate"), one regex
//     location per directory assets, avatars, emoji, headers, packs, shortcuts, sounds
//     ("public, max-age=2419200, must-revalidate") and `~ ^/system/` ("public,
//     max-age=2419200, immutable", nosniff + CSP where the release has them), all
//     `try_files $uri =404`;
//   - 4.6+: `^~` prefixes for /assets/ /avatars/ /emoji/ /headers/ /ocr/ /packs/
//     /sounds/ and /system/, served from disk (the `try_files … @mastodon` fallback is
//     commented out upstream). The survey's table gives no separate Cache-Control values
//     for 4.6, so the 4.0 values are kept (an assumption, marked as such).
func (r Release) NginxStaticLocations() []NginxStatic {
	const (
		year       = "public, max-age=31536000, immutable"
		week       = "public, max-age=604800, must-revalidate"
		month      = "public, max-age=2419200, must-revalidate"
		monthImmut = "public, max-age=2419200, immutable"
	)
	sec := r.NginxMediaSecurityHeaders()
	csp := ""
	if sec {
		csp = NginxMediaCSP
	}
	switch r.NginxEra() {
	case NginxEraGuide, NginxEraDist2:
		out := []NginxStatic{{Modifier: "~", Path: "^/(emoji|packs|system/accounts/avatars|system/media_attachments/files)",
			CacheControl: year, Nosniff: sec, CSP: csp, TryFiles: []string{"$uri", "@proxy"}}}
		if r.NginxEra() == NginxEraDist2 {
			out = append(out, NginxStatic{Path: "/sw.js", CacheControl: "public, max-age=0", Nosniff: sec, TryFiles: []string{"$uri", "@proxy"}})
		}
		return out
	case NginxEraDist4:
		out := []NginxStatic{{Modifier: "=", Path: "/sw.js", CacheControl: week, TryFiles: []string{"$uri", "=404"}}}
		for _, d := range []string{"assets", "avatars", "emoji", "headers", "packs", "shortcuts", "sounds"} {
			out = append(out, NginxStatic{Modifier: "~", Path: "^/" + d + "/", CacheControl: month, TryFiles: []string{"$uri", "=404"}})
		}
		return append(out, NginxStatic{Modifier: "~", Path: "^/system/", CacheControl: monthImmut, Nosniff: sec, CSP: csp, TryFiles: []string{"$uri", "=404"}})
	}
	var out []NginxStatic
	for _, d := range []string{"assets", "avatars", "emoji", "headers", "ocr", "packs", "sounds"} {
		out = append(out, NginxStatic{Modifier: "^~", Path: "/" + d + "/", CacheControl: month})
	}
	return append(out, NginxStatic{Modifier: "^~", Path: "/system/", CacheControl: monthImmut, Nosniff: sec, CSP: csp})
}
