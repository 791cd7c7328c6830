package acme

import (
	"time"
)

// Reasons a lineage is or is not due, as reported by [DueAt].
const (
	ReasonARI      = "ari-window" // inside (or past) the CA's suggested window
	ReasonLifetime = "lifetime"   // a third of the lifetime remains (no ARI)
	ReasonExpired  = "expired"    // the certificate has expired
	ReasonBackoff  = "backoff"    // a recent failure: waiting before the next attempt
	ReasonForced   = "forced"     // renewal was forced
	// ReasonBrokenKey: the live private key is missing, truncated or not the
	// certificate's key (Lineage.KeyBroken), so renew replaces both at once.
	ReasonBrokenKey = "broken-key"
	// ReasonBrokenChain: the live fullchain.pem or chain.pem is not a regular file,
	// truncated, another lineage's or not cert.pem + chain.pem (Lineage.ChainBroken),
	// so renew replaces the lineage's files.
	ReasonBrokenChain = "broken-chain"
)

// Due is the renewal decision for one lineage.
type Due struct {
	// Now reports whether the lineage should be renewed in this run.
	Now bool `json:"due"`
	// At is when the lineage becomes due (the ARI time or the lifetime rule).
	At time.Time `json:"at"`
	// Reason says which rule decided.
	Reason string `json:"reason"`
	// CheckARI reports that the cached ARI answer is missing or past its Retry-After,
	// so the CA should be asked before deciding (one GET, no account needed).
	CheckARI bool `json:"check_ari"`
	// NextCheck is when a renew run next needs to look at this lineage.
	NextCheck time.Time `json:"next_check"`
}

// LifetimeRenewAt is the renewal time without ARI: when a third of the certificate's
// lifetime remains (day 60 of 90, day 30 of 45, day 4 of 6).
func LifetimeRenewAt(notBefore, notAfter time.Time) time.Time {
	life := notAfter.Sub(notBefore)
	return notAfter.Add(-life / 3)
}

// DueAt decides whether lineage l is due at now. It makes no network request: a
// cached ARI answer for the current certificate decides while it is fresh; when it is
// stale CheckARI is set and, until the CA answers, the cached window (or the lifetime
// rule) still decides. A failure back-off (Meta.NextAttempt) delays everything but an
// expired certificate.
func DueAt(l Lineage, certID string, now time.Time) Due {
	d := Due{At: LifetimeRenewAt(l.NotBefore, l.NotAfter), Reason: ReasonLifetime}
	ari := l.Meta.ARI
	if ari != nil && ari.CertID == certID && certID != "" {
		d.At, d.Reason = ari.RenewAt, ReasonARI
		if !now.Before(ari.NextCheck) {
			d.CheckARI = true
		}
		d.NextCheck = ari.NextCheck
	} else if !l.Meta.NoARI {
		d.CheckARI = true
	}
	if d.CheckARI && now.Before(l.Meta.ARIRetry) {
		d.CheckARI = false
		d.NextCheck = l.Meta.ARIRetry
	}
	if !now.Before(l.NotAfter) {
		d.Now, d.At, d.Reason = true, l.NotAfter, ReasonExpired
	} else if !now.Before(d.At) {
		d.Now = true
	}
	if d.NextCheck.IsZero() || d.At.Before(d.NextCheck) && !d.Now {
		d.NextCheck = d.At
	}
	if !l.Meta.NextAttempt.IsZero() && now.Before(l.Meta.NextAttempt) && d.Reason != ReasonExpired {
		if d.Now {
			d.Now, d.Reason = false, ReasonBackoff
		}
		d.CheckARI = false
		d.NextCheck = l.Meta.NextAttempt
	}
	return d
}

// backoff is the wait after the n-th consecutive failure: 1 h doubling to 1 day,
// well under Let's Encrypt's failure limits.
func backoff(n int) time.Duration {
	d := time.Hour
	for i := 1; i < n && d < 24*time.Hour; i++ {
		d *= 2
	}
	return min(d, 24*time.Hour)
}
