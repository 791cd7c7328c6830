package mastodon

import (
	"slices"
	"testing"
)

func TestEnvSections(t *testing.T) {
	t.Parallel()
	for _, line := range Lines() {
		r := MustLookup(line)
		seen := map[string]bool{}
		for _, s := range r.EnvSections() {
			if len(s.Keys) == 0 {
				t.Errorf("%s: empty section %q", line, s.Title)
			}
			for _, k := range s.Keys {
				if seen[k] {
					t.Errorf("%s: %s listed twice", line, k)
				}
				seen[k] = true
			}
		}
		// Every secret the release needs has a section, so generated secrets have a place.
		for _, sec := range r.Secrets() {
			if r.EnvSectionOf(sec.Name) == "" {
				t.Errorf("%s: secret %s has no section", line, sec.Name)
			}
		}
		if !seen["LOCAL_DOMAIN"] || !seen["DB_HOST"] || !seen["REDIS_HOST"] {
			t.Errorf("%s: core keys missing: %v", line, seen)
		}
	}
	old, cur := MustLookup("1.6"), MustLookup("4.7")
	if old.EnvSections()[0].Title != "Service dependencies" || cur.EnvSections()[0].Title != "Federation" {
		t.Errorf("layouts: 1.6 starts with %q, 4.7 with %q", old.EnvSections()[0].Title, cur.EnvSections()[0].Title)
	}
	if old.EnvSectionOf("PAPERCLIP_SECRET") == "" || cur.EnvSectionOf("PAPERCLIP_SECRET") != "" {
		t.Error("PAPERCLIP_SECRET belongs to 1.6 only")
	}
	if slices.Contains(MustLookup("4.2").EnvSections()[len(MustLookup("4.2").EnvSections())-1].Keys, "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY") || MustLookup("4.2").EnvSectionOf("ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY") != "" {
		t.Error("AR keys must not appear before 4.3")
	}
	if cur.EnvSectionOf("ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY") != "Encryption secrets" {
		t.Error("AR keys belong to Encryption secrets on 4.7")
	}
}
