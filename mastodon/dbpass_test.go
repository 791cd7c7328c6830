package mastodon

import "testing"

func TestDBPassRawYAML(t *testing.T) {
	for v, want := range map[string]bool{"1.6": true, "2.9": true, "2.9.4": true, "3.0.0": false, "3.5": false, "4.7": false} {
		if got := MustLookup(v).DBPassRawYAML(); got != want {
			t.Errorf("%s: DBPassRawYAML = %v, want %v", v, got, want)
		}
	}
}

func TestRedisPasswordRawURL(t *testing.T) {
	for v, want := range map[string]bool{"1.6": true, "3.5": true, "4.2": true, "4.2.9": true, "4.3.0": false, "4.7": false} {
		if got := MustLookup(v).RedisPasswordRawURL(); got != want {
			t.Errorf("%s: RedisPasswordRawURL = %v, want %v", v, got, want)
		}
	}
}
