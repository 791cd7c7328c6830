package mastodon

import "testing"

func TestDBPassRawYAML(t *testing.T) {
	for v, want := range map[string]bool{"1.6": true, "2.9": true, "2.9.4": true, "3.0.0": true, "3.4": true, "3.5.0": false, "3.5": false, "4.7": false} {
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

func TestYAMLSlot(t *testing.T) {
	cases := []struct {
		version, name string
		raw           bool
		kind          YAMLKind
	}{
		{"1.6", "DB_HOST", true, YAMLString},
		{"1.6", "DB_SSLMODE", false, 0}, // 2.8.0
		{"2.8", "DB_SSLMODE", true, YAMLString},
		{"4.7", "DB_PORT", true, YAMLInt},
		{"4.7", "PREPARED_STATEMENTS", true, YAMLBool},
		{"4.1", "REPLICA_DB_HOST", false, 0},
		{"4.2", "REPLICA_DB_HOST", true, YAMLString},
		{"4.3", "REPLICA_DB_TASKS", false, 0},
		{"4.4", "REPLICA_DB_TASKS", true, YAMLBool},
		{"3.4", "DB_PASS", true, YAMLString},
		{"3.5", "DB_PASS", false, 0},
		{"4.3", "SMTP_SERVER", false, 0},
		{"4.4.0", "SMTP_SERVER", true, YAMLString},
		{"4.4.0", "SMTP_PASSWORD", true, YAMLString},
		{"4.4.1", "SMTP_PASSWORD", false, 0},
		{"4.4", "SMTP_PASSWORD", false, 0}, // the line's newest patch
		{"4.7", "SMTP_DOMAIN", true, YAMLString},
		{"4.7", "SMTP_PORT", true, YAMLInt},
		{"4.3", "SMTP_PORT", false, 0},
		{"4.7", "SECRET_KEY_BASE", false, 0},
	}
	for _, c := range cases {
		slot, ok := MustLookup(c.version).YAMLSlot(c.name)
		if ok != c.raw || ok && slot.Kind != c.kind {
			t.Errorf("%s %s: YAMLSlot = %+v, %v; want raw %v kind %v", c.version, c.name, slot, ok, c.raw, c.kind)
		}
	}
	if got := len(MustLookup("4.4.0").YAMLPasted()); got <= len(MustLookup("4.4.1").YAMLPasted()) {
		t.Errorf("4.4.0 pastes %d variables raw, no more than 4.4.1", got)
	}
}
