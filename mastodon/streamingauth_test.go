package mastodon

import "testing"

func TestStreamingAuthFacts(t *testing.T) {
	cases := []struct {
		v               string
		userOnly, multi bool
	}{
		{"1.6", false, false},
		{"2.9", false, false},
		{"3.0", false, false},
		{"3.2", false, false},
		{"3.3", false, true},
		{"4.1", false, true},
		{"4.2.0", true, true},
		{"4.7", true, true},
	}
	for _, c := range cases {
		r := MustLookup(c.v)
		if got := r.StreamingUserTokenOnly(); got != c.userOnly {
			t.Errorf("%s: StreamingUserTokenOnly = %v, want %v", c.v, got, c.userOnly)
		}
		if got := r.StreamingSubscribeMessages(); got != c.multi {
			t.Errorf("%s: StreamingSubscribeMessages = %v, want %v", c.v, got, c.multi)
		}
	}
	if StreamingBearerPrefix != "Bearer " {
		t.Errorf("StreamingBearerPrefix = %q: streaming strips exactly /^Bearer /", StreamingBearerPrefix)
	}
}
