package report_test

import (
	"errors"
	"fmt"

	"github.com/v6kit/v6kit/report"
)

// ErrPort is a package's sentinel, as in its errors.go.
var ErrPort = errors.New("not a port")

// A Validate call collects every problem at once, then fails only on errors.
func ExampleProblems() {
	var ps report.Problems
	ps.Errorf("web.port", ErrPort, "%d is not a port: use 1-65535", 70000)
	ps.Warnf("web.workers", nil, "3 workers on 2 CPUs: use 2")
	ps.Infof("LOCAL_DOMAIN", "mastodon.example chosen from --domain")

	var sub report.Problems
	sub.Errorf("queues[0]", nil, "unknown queue %q: use default, push, pull, mailers, scheduler, ingress", "mailer")
	ps.Append("sidekiq[1]", sub)

	for _, p := range ps.Sorted() {
		fmt.Println(p)
	}
	err := ps.Err()
	fmt.Println(errors.Is(err, ErrPort), len(report.AsProblems(err)), ps.Strict() != nil)
	// Output:
	// sidekiq[1].queues[0]: unknown queue "mailer": use default, push, pull, mailers, scheduler, ingress
	// web.port: 70000 is not a port: use 1-65535
	// web.workers: warning: 3 workers on 2 CPUs: use 2
	// LOCAL_DOMAIN: info: mastodon.example chosen from --domain
	// true 2 true
}

// A report with only warnings does not fail, except under --strict.
func ExampleProblems_Strict() {
	var ps report.Problems
	ps.Warnf("nginx.ssl_stapling", nil, "Let's Encrypt ended OCSP in 2025: leave it off")
	fmt.Println(ps.Err() == nil, ps.Strict() != nil, ps.HasErrors(), len(ps.Warnings()))
	// Output: true true false 1
}
