package mastodon

import "testing"

func TestDatastoreFacts(t *testing.T) {
	for _, l := range Lines() {
		r := MustLookup(l)
		if !r.RedisURLUnixSocket() || !r.RedisURLOverridesParts() {
			t.Errorf("%s: unix:// REDIS_URL and REDIS_URL precedence hold for every release", r)
		}
		for _, v := range []string{"DB_NAME", "DB_USER", "REDIS_URL", "REDIS_PORT"} {
			if !r.Reads(v) {
				t.Errorf("%s does not read %s", r, v)
			}
		}
	}
	if SetupDatabase != "postgres" || DefaultDBName != "mastodon_production" || DefaultDBUser != "mastodon" || DefaultRedisPort != 6379 {
		t.Error("datastore defaults changed")
	}
}
