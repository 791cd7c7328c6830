package acme_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/v6kit/v6kit/acme"
)

func TestDueAt(t *testing.T) {
	t.Parallel()
	nb := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	lin := func(life time.Duration, m acme.Meta) acme.Lineage {
		return acme.Lineage{NotBefore: nb, NotAfter: nb.Add(life), Meta: m}
	}
	ari := &acme.ARIState{CertID: "id1", Start: nb.Add(50 * day), End: nb.Add(52 * day), RenewAt: nb.Add(51 * day), NextCheck: nb.Add(10 * day)}
	cases := []struct {
		name     string
		l        acme.Lineage
		id       string
		now      time.Time
		due      bool
		reason   string
		checkARI bool
		at       time.Time
	}{
		{"90 days, no ARI, day 59", lin(90*day, acme.Meta{NoARI: true}), "id1", nb.Add(59 * day), false, acme.ReasonLifetime, false, nb.Add(60 * day)},
		{"90 days, no ARI, day 60", lin(90*day, acme.Meta{NoARI: true}), "id1", nb.Add(60 * day), true, acme.ReasonLifetime, false, nb.Add(60 * day)},
		{"45 days, no ARI, day 30", lin(45*day, acme.Meta{NoARI: true}), "id1", nb.Add(30 * day), true, acme.ReasonLifetime, false, nb.Add(30 * day)},
		{"6 days, no ARI, day 3", lin(6*day, acme.Meta{NoARI: true}), "id1", nb.Add(3 * day), false, acme.ReasonLifetime, false, nb.Add(4 * day)},
		{"6 days, no ARI, day 4", lin(6*day, acme.Meta{NoARI: true}), "id1", nb.Add(4 * day), true, acme.ReasonLifetime, false, nb.Add(4 * day)},
		{"fresh ARI, before RenewAt", lin(90*day, acme.Meta{ARI: ari}), "id1", nb.Add(5 * day), false, acme.ReasonARI, false, nb.Add(51 * day)},
		{"stale ARI asks again", lin(90*day, acme.Meta{ARI: ari}), "id1", nb.Add(20 * day), false, acme.ReasonARI, true, nb.Add(51 * day)},
		{"ARI for another cert", lin(90*day, acme.Meta{ARI: ari}), "id2", nb.Add(5 * day), false, acme.ReasonLifetime, true, nb.Add(60 * day)},
		{"ARI time passed", lin(90*day, acme.Meta{ARI: ari}), "id1", nb.Add(51*day + time.Second), true, acme.ReasonARI, true, nb.Add(51 * day)},
		{"no ARI cached yet", lin(90*day, acme.Meta{}), "id1", nb.Add(day), false, acme.ReasonLifetime, true, nb.Add(60 * day)},
		{"ARI error backs off the check", lin(90*day, acme.Meta{ARIRetry: nb.Add(2 * day)}), "id1", nb.Add(day), false, acme.ReasonLifetime, false, nb.Add(60 * day)},
		{"expired", lin(90*day, acme.Meta{NoARI: true}), "id1", nb.Add(91 * day), true, acme.ReasonExpired, false, nb.Add(90 * day)},
		{"failure back-off", lin(90*day, acme.Meta{NoARI: true, NextAttempt: nb.Add(61 * day)}), "id1", nb.Add(60*day + time.Hour), false, acme.ReasonBackoff, false, nb.Add(60 * day)},
		{"back-off ends", lin(90*day, acme.Meta{NoARI: true, NextAttempt: nb.Add(61 * day)}), "id1", nb.Add(61 * day), true, acme.ReasonLifetime, false, nb.Add(60 * day)},
		{"expired ignores back-off", lin(90*day, acme.Meta{NoARI: true, NextAttempt: nb.Add(100 * day)}), "id1", nb.Add(95 * day), true, acme.ReasonExpired, false, nb.Add(90 * day)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := acme.DueAt(c.l, c.id, c.now)
			assert.Equal(t, c.due, d.Now, "due")
			assert.Equal(t, c.reason, d.Reason)
			assert.Equal(t, c.checkARI, d.CheckARI, "check ARI")
			assert.Equal(t, c.at, d.At)
		})
	}
}

func TestLifetimeRenewAt(t *testing.T) {
	t.Parallel()
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, nb.Add(60*24*time.Hour), acme.LifetimeRenewAt(nb, nb.Add(90*24*time.Hour)))
	assert.Equal(t, nb.Add(106*time.Hour+40*time.Minute), acme.LifetimeRenewAt(nb, nb.Add(160*time.Hour)))
}
