package mastodon

import "testing"

func TestStreamingAuthFacts(t *testing.T) {
	cases := []struct {
		v                         string
		required, userOnly, multi bool
	}{
		{"1.6", true, false, false},
		{"2.9", true, false, false},
		{"3.0", false, false, false},
		{"3.2", false, false, false},
		{"3.3", false, false, true},
		{"4.1", false, false, true},
		{"4.2.0", true, true, true},
		{"4.7", true, true, true},
	}
	for _, c := range cases {
		r := MustLookup(c.v)
		if got := r.StreamingTokenRequired(); got != c.required {
			t.Errorf("%s: StreamingTokenRequired = %v, want %v", c.v, got, c.required)
		}
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
