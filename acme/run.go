package acme

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/v6kit/v6kit/report"
)

// Action says what a run did with a lineage.
type Action string

// Actions reported in an [Outcome].
const (
	Issued   Action = "issued"   // a new lineage
	Renewed  Action = "renewed"  // a new version of an existing lineage
	Repaired Action = "repaired" // an interrupted switch was completed
	Kept     Action = "kept"     // nothing due
	Imported Action = "imported" // a certbot lineage adopted
	Failed   Action = "failed"   // see Err; the current certificate is untouched
)

// Outcome is what happened to one lineage.
type Outcome struct {
	Name     string    `json:"name"`
	Names    []string  `json:"names,omitempty"`
	Action   Action    `json:"action"`
	Version  int       `json:"version,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	Due      *Due      `json:"due,omitempty"`
	// Pruned lists the old versions removed after the switch ([Store.Prune]).
	Pruned []int `json:"pruned,omitempty"`
	// Warnings are problems that did not fail the lineage, such as old versions
	// that could not be removed (the live version is untouched by them).
	Warnings []string `json:"warnings,omitempty"`
	// CertbotAutorenewOff reports (import) that certbot's renewal/NAME.conf has
	// autorenew = False, so certbot's own timer leaves the lineage to v6-certs.
	CertbotAutorenewOff bool `json:"certbot_autorenew_off,omitempty"`
	// Backup is the copy of a file the run edited (import: certbot's renewal conf).
	Backup string `json:"backup,omitempty"`
	Error  string `json:"error,omitempty"`
	Err    error  `json:"-"`
}

// Report is the result of [Client.Obtain] or [Client.Renew].
type Report struct {
	Outcomes []Outcome `json:"lineages"`
	// Changed reports that at least one live certificate changed.
	Changed bool `json:"changed"`
	// Deployed reports that the configured deploy step ran and passed.
	Deployed bool `json:"deployed"`
	// DeploySteps says what the deploy ran and passed, in order, e.g.
	// ["check passed: nginx -t -q", "reloaded nginx.service"]; only steps that ran.
	DeploySteps []string `json:"deploy_steps,omitempty"`
	// DeployError is the deploy step's failure, if any. The lineages it was for keep
	// their deploy-pending markers, so the next run deploys them again.
	DeployError string `json:"deploy_error,omitempty"`
	// Pending lists the deploys an earlier run left undone (its check or reload
	// failed, or it died between the switch and the deploy), found as markers
	// renewal/NAME.v6-certs.deploy-pending. This run deployed them with what it
	// changed itself, even if nothing was due. Only read when a deploy step is
	// configured.
	Pending []PendingDeploy `json:"pending_deploys,omitempty"`
	// Warnings are problems that failed nothing, such as a marker for a lineage that
	// no longer exists (removed) or one that could not be read (still deployed).
	Warnings  []string `json:"warnings,omitempty"`
	deployErr error
}

// Err joins every failure of the run (lineages and deploy), nil if none.
func (r *Report) Err() error {
	var errs []error
	for _, o := range r.Outcomes {
		if o.Action == Failed {
			errs = append(errs, fmt.Errorf("%s: %w", o.Name, o.Err))
		}
	}
	if r.deployErr != nil {
		errs = append(errs, r.deployErr)
	}
	return errors.Join(errs...)
}

// Failed returns the failed outcomes.
func (r *Report) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if o.Action == Failed {
			out = append(out, o)
		}
	}
	return out
}

func (r *Report) add(o Outcome) {
	if o.Err != nil {
		o.Action, o.Error = Failed, o.Err.Error()
	}
	if o.Action == Issued || o.Action == Renewed || o.Action == Repaired {
		r.Changed = true
	}
	r.Outcomes = append(r.Outcomes, o)
}

func (r *Report) sort() {
	slices.SortStableFunc(r.Outcomes, func(a, b Outcome) int { return strings.Compare(a.Name, b.Name) })
}

// sessions opens one session per CA directory on first use.
type sessions struct {
	c  *Client
	mu sync.Mutex
	m  map[string]*session
	e  map[string]error
}

func (ss *sessions) get(ctx context.Context, server string) (*session, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.m[server]; ok {
		return s, nil
	}
	if err, ok := ss.e[server]; ok {
		return nil, err
	}
	s, err := ss.c.openSession(ctx, server)
	if err != nil {
		ss.e[server] = err
		return nil, err
	}
	ss.m[server] = s
	return s, nil
}

func (ss *sessions) close() {
	for _, s := range ss.m {
		s.close()
	}
}

func (c *Client) newSessions() *sessions {
	return &sessions{c: c, m: map[string]*session{}, e: map[string]error{}}
}

// pool runs fn for each index with at most n at once.
func pool(n, count int, fn func(i int)) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// Obtain issues one certificate per request, concurrently (bounded by Concurrency)
// with one shared challenge responder, installs them, and deploys once if anything
// changed. A lineage that exists with the same names and is not due is kept unless
// the request forces it or its live key or chain is broken (then it is obtained anew,
// as Renew would). The error is the validation of the requests, a taken lock,
// or the joined per-lineage failures (also in the report).
func (c *Client) Obtain(ctx context.Context, reqs ...Request) (Report, error) {
	var rep Report
	var ps report.Problems
	ct := c.cfg.Challenge.typ()
	type job struct {
		name  string
		names []string
		force bool
	}
	var jobs []job
	seen := map[string]bool{}
	for i, r := range reqs {
		names, p := NormalizeNames(r.Names, ct)
		ps.Append(fmt.Sprintf("requests[%d]", i), p)
		if len(names) == 0 {
			continue
		}
		name := r.CertName
		if name == "" {
			name = certNameFor(names)
		}
		if err := ValidateCertName(name); err != nil {
			ps.Errorf(fmt.Sprintf("requests[%d].cert_name", i), ErrLineageName, "%v", err)
			continue
		}
		if seen[name] {
			ps.Errorf(fmt.Sprintf("requests[%d].cert_name", i), ErrLineageName, "certificate name %q is requested twice: give each request its own --cert-name", name)
		}
		seen[name] = true
		jobs = append(jobs, job{name, names, r.Force})
	}
	if len(reqs) == 0 {
		ps.Errorf("requests", ErrNoNames, "no certificate requested: add -d NAME")
	}
	if err := ps.Err(); err != nil {
		return rep, err
	}
	// obtain is the command that creates the store (renew and list never do).
	if err := os.MkdirAll(c.store.root(), 0o755); err != nil {
		return rep, fmt.Errorf("create %s: %w", c.store.root(), err)
	}
	unlock, err := c.store.Lock(ctx, c.cfg.LockWait)
	if err != nil {
		return rep, err
	}
	defer unlock()

	now := c.cfg.now()
	var todo []job
	for _, j := range jobs {
		l, err := c.store.Load(j.name)
		broken, problems := brokenLive(l)
		switch {
		case errors.Is(err, ErrNotFound):
			todo = append(todo, j)
		case err != nil:
			rep.add(Outcome{Name: j.name, Names: j.names, Err: err})
		case !sameNames(l.Names, j.names) && !sameNames(l.Meta.Names, j.names):
			rep.add(Outcome{Name: j.name, Names: j.names, Err: fmt.Errorf("%w: %s covers %s", ErrExists, j.name, strings.Join(l.Names, " "))})
		case !j.force && broken == "" && !DueAt(l, ARICertID(l.Leaf), now).Now:
			rep.add(Outcome{Name: j.name, Names: l.Names, Action: Kept, Version: l.Version, NotAfter: l.NotAfter})
		default:
			if broken != "" && !j.force {
				// Not due, but nginx cannot serve these files: obtain anew, as renew would.
				c.cfg.logger().Warn("live files broken: obtaining anew", "lineage", j.name, "problems", problems)
			}
			todo = append(todo, j)
		}
	}
	if len(todo) > 0 {
		ss := c.newSessions()
		defer ss.close()
		s, err := ss.get(ctx, c.cfg.server())
		if err == nil {
			err = s.checkProfile(c.cfg.Profile)
		}
		if err == nil {
			_, err = s.responder(c.cfg.Challenge)
		}
		if err != nil {
			for _, j := range todo {
				rep.add(Outcome{Name: j.name, Names: j.names, Err: err})
			}
			todo = nil
		}
		outs := make([]Outcome, len(todo))
		pool(c.cfg.concurrency(), len(todo), func(i int) {
			j := todo[i]
			m := Meta{Names: j.names, Server: c.cfg.server(), KeyType: c.cfg.KeyType.orDefault(), Profile: c.cfg.Profile,
				Challenge: storedChallenge(c.cfg.Challenge), Source: "v6-certs"}
			var prev *Lineage
			if l, err := c.store.Load(j.name); err == nil {
				prev = &l
			}
			outs[i] = c.issue(ctx, s, j.name, m, prev)
		})
		for _, o := range outs {
			rep.add(o)
		}
	}
	var pending []string
	if !c.cfg.Deploy.empty() {
		names, markers, odd, err := c.store.scan()
		if err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("cannot look for pending deploys: %v", err))
		}
		for _, n := range slices.Sorted(maps.Keys(odd)) {
			rep.Warnings = append(rep.Warnings, c.store.oddMarker(n, odd[n]))
		}
		pending = c.pendingFor(&rep, markers, names)
	}
	c.deploy(ctx, &rep, pending)
	rep.sort()
	return rep, rep.Err()
}

// storedChallenge is the part of a challenge configuration kept in the metadata.
func storedChallenge(ch Challenge) Challenge {
	return Challenge{Type: ch.typ(), Webroot: ch.Webroot, Listen: ch.Listen, Family: ch.Family, DNSProvider: ch.dnsProviderName()}
}

// issue orders a certificate for m.Names and installs it as lineage name. prev is
// the current version, if any (its ARI ID goes into replaces). On failure the
// lineage's files are untouched and its metadata records the failure.
func (c *Client) issue(ctx context.Context, s *session, name string, m Meta, prev *Lineage) Outcome {
	o := Outcome{Name: name, Names: m.Names}
	spec := orderSpec{names: m.Names, keyType: m.KeyType, profile: m.Profile, challenge: m.Challenge}
	if len(c.cfg.Challenge.DNSCredentials) > 0 && spec.challenge.typ() == DNS01 {
		spec.challenge.DNSCredentials = c.cfg.Challenge.DNSCredentials
	}
	if c.cfg.Challenge.Provider != nil && spec.challenge.typ() == DNS01 {
		spec.challenge.Provider = c.cfg.Challenge.Provider
	}
	if prev != nil && prev.Leaf != nil {
		spec.replaces = ARICertID(prev.Leaf)
	}
	log := c.cfg.logger().With("lineage", name)
	log.Info("ordering", "names", m.Names, "replaces", spec.replaces != "")
	v, err := s.order(ctx, spec)
	now := c.cfg.now()
	if err != nil {
		log.Warn("order failed", "err", err)
		if prev != nil {
			pm := prev.Meta
			pm.Failures++
			pm.NextAttempt = now.Add(backoff(pm.Failures)).UTC().Truncate(time.Second)
			pm.LastError = err.Error()
			_ = c.store.WriteMeta(name, pm, now)
		}
		o.Err = err
		return o
	}
	m.Account = s.account
	m.Failures, m.NextAttempt, m.LastError = 0, time.Time{}, ""
	if leaf, err := parseLeaf(v.Cert); err == nil {
		id := ARICertID(leaf)
		if st, noARI, err := s.fetchARI(ctx, id, nil); err == nil {
			m.ARI, m.NoARI = st, noARI
		}
	}
	n, err := c.store.Install(name, v, m, now)
	if err != nil {
		o.Err = err
		return o
	}
	l, err := c.store.Load(name)
	if err != nil {
		o.Err = err
		return o
	}
	o.Action, o.Version, o.NotAfter, o.Names = Issued, n, l.NotAfter, l.Names
	if prev != nil {
		o.Action = Renewed
	}
	log.Info("installed", "version", n, "not_after", l.NotAfter)
	c.prune(&o)
	return o
}

// prune applies the retention policy after a switch; failures become warnings.
func (c *Client) prune(o *Outcome) {
	removed, err := c.store.Prune(o.Name)
	o.Pruned = append(o.Pruned, removed...)
	if err != nil {
		c.cfg.logger().Warn("removing old versions failed", "lineage", o.Name, "err", err)
		o.Warnings = append(o.Warnings, err.Error())
	} else if len(removed) > 0 {
		c.cfg.logger().Info("removed old versions", "lineage", o.Name, "versions", removed)
	}
}

// RenewOptions narrows a [Client.Renew] run.
type RenewOptions struct {
	// Names limits the run to these lineages. Empty: all.
	Names []string
	// Force renews even what is not due (ignores back-off too).
	Force bool
}

// Renew completes interrupted switches, then renews every due lineage concurrently
// and deploys once if anything changed. With nothing due it makes no network request
// except ARI checks whose cached answer is past its Retry-After. A lineage that fails
// (or cannot be read) is reported and keeps its current certificate; the others still
// renew. The error joins the failures.
func (c *Client) Renew(ctx context.Context, opt RenewOptions) (Report, error) {
	var rep Report
	// Never create the store, and never be silent about one that holds nothing.
	if err := c.store.CheckUsable(); err != nil {
		return rep, err
	}
	unlock, err := c.store.Lock(ctx, c.cfg.LockWait)
	if err != nil {
		return rep, err
	}
	defer unlock()
	// One readdir finds the lineages and any deploy an earlier run left pending.
	names, markers, odd, err := c.store.scan()
	if err != nil {
		return rep, err
	}
	all := slices.Clone(names)
	// A marker that is not a regular file fails its lineage (or, with no lineage, the
	// run): it is never read, deployed or removed, and the lineage is not touched.
	for _, n := range slices.Sorted(maps.Keys(odd)) {
		rep.add(Outcome{Name: n, Err: c.store.oddMarkerErr(n, odd[n])})
	}
	names = slices.DeleteFunc(names, func(n string) bool { _, bad := odd[n]; return bad })
	if len(opt.Names) > 0 {
		for _, n := range opt.Names {
			if _, bad := odd[n]; !bad && !slices.Contains(names, n) {
				rep.add(Outcome{Name: n, Err: fmt.Errorf("%w: %s (see v6-certs list)", ErrNotFound, n)})
			}
		}
		names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(opt.Names, n) })
	}
	now := c.cfg.now()
	type item struct {
		l        Lineage
		id       string
		due      Due
		repaired bool
		pruned   Outcome // Pruned and Warnings of the prune after a repair
	}
	// Scan every lineage in parallel: local reads only.
	scanned := make([]*item, len(names))
	failed := make([]error, len(names))
	pool(2*runtime.GOMAXPROCS(0), len(names), func(i int) {
		n := names[i]
		repaired, cur, err := c.store.repair(n)
		if err != nil {
			failed[i] = err
			return
		}
		l, err := c.store.load(n, cur)
		if err != nil {
			failed[i] = err
			return
		}
		if repaired {
			c.cfg.logger().Info("completed an interrupted switch", "lineage", n, "version", l.Version)
		}
		it := &item{l: l, id: ARICertID(l.Leaf), repaired: repaired, pruned: Outcome{Name: n}}
		if repaired {
			c.prune(&it.pruned)
		}
		it.due = DueAt(l, it.id, now)
		if reason, problems := brokenLive(l); reason != "" {
			// A live key or chain that cannot serve the certificate: nginx is broken now.
			// Renew at once; during a failure back-off, fail (exit 1) rather than keep
			// the lineage as if nothing were wrong.
			if it.due.Reason == ReasonBackoff && !opt.Force {
				failed[i] = fmt.Errorf("%s; renewing it waits for the back-off after the last failure (until %s): repair the files by hand or run v6-certs renew --force --cert-name %s",
					strings.Join(problems, "; "), l.Meta.NextAttempt.UTC().Format(time.RFC3339), n)
				return
			}
			c.cfg.logger().Warn("live files broken: renewing", "lineage", n, "problems", problems)
			for _, p := range problems {
				it.pruned.Warnings = append(it.pruned.Warnings, p+": renewing to replace the lineage's files")
			}
			if !it.due.Now {
				it.due.Now, it.due.Reason, it.due.At = true, reason, now
			}
		}
		scanned[i] = it
	})
	var items []*item
	for i, it := range scanned {
		if failed[i] != nil {
			rep.add(Outcome{Name: names[i], Err: failed[i]})
			continue
		}
		if it.repaired {
			rep.Changed = true
		}
		items = append(items, it)
	}
	ss := c.newSessions()
	defer ss.close()
	// ARI checks whose cache expired.
	var checks []*item
	for _, it := range items {
		if it.due.CheckARI && !opt.Force {
			checks = append(checks, it)
		}
	}
	pool(c.cfg.concurrency(), len(checks), func(i int) {
		it := checks[i]
		s, err := ss.get(ctx, it.l.Meta.Server)
		m := it.l.Meta
		if err == nil {
			var st *ARIState
			var noARI bool
			st, noARI, err = s.fetchARI(ctx, it.id, m.ARI)
			if err == nil {
				m.ARI, m.NoARI, m.ARIRetry = st, noARI, time.Time{}
			}
		}
		if err != nil {
			// Keep the old answer (or the lifetime rule) and ask again in 6 hours.
			c.cfg.logger().Warn("ARI check failed", "lineage", it.l.Name, "err", err)
			m.ARIRetry = now.Add(6 * time.Hour).UTC().Truncate(time.Second)
		}
		if err := c.store.WriteMeta(it.l.Name, m, now); err == nil {
			it.l.Meta = m
		}
		it.due = DueAt(it.l, it.id, now)
		it.due.CheckARI = false
		if reason, _ := brokenLive(it.l); reason != "" && !it.due.Now && it.due.Reason != ReasonBackoff {
			it.due.Now, it.due.Reason, it.due.At = true, reason, now
		}
	})
	var due []*item
	for _, it := range items {
		if it.due.Now || opt.Force {
			due = append(due, it)
			continue
		}
		d := it.due
		act := Kept
		if it.repaired {
			act = Repaired
		}
		rep.add(Outcome{Name: it.l.Name, Names: it.l.Names, Action: act, Version: it.l.Version, NotAfter: it.l.NotAfter, Due: &d,
			Pruned: it.pruned.Pruned, Warnings: it.pruned.Warnings})
	}
	outs := make([]Outcome, len(due))
	pool(c.cfg.concurrency(), len(due), func(i int) {
		it := due[i]
		d := it.due
		s, err := ss.get(ctx, it.l.Meta.Server)
		if err != nil {
			outs[i] = Outcome{Name: it.l.Name, Names: it.l.Names, Due: &d, Err: err, Pruned: it.pruned.Pruned, Warnings: it.pruned.Warnings}
			m := it.l.Meta
			m.Failures++
			m.NextAttempt = now.Add(backoff(m.Failures)).UTC().Truncate(time.Second)
			m.LastError = err.Error()
			_ = c.store.WriteMeta(it.l.Name, m, now)
			return
		}
		m := it.l.Meta
		m.Names = it.l.Meta.Names
		o := c.issue(ctx, s, it.l.Name, m, &it.l)
		o.Due = &d
		o.Pruned = append(it.pruned.Pruned, o.Pruned...)
		o.Warnings = append(it.pruned.Warnings, o.Warnings...)
		outs[i] = o
	})
	for _, o := range outs {
		rep.add(o)
	}
	c.deploy(ctx, &rep, c.pendingFor(&rep, markers, all))
	rep.sort()
	return rep, rep.Err()
}

// brokenLive says whether the live files cannot serve the certificate (a broken key
// or chain): the reason renew gives ([ReasonBrokenKey] first), and the problems.
func brokenLive(l Lineage) (reason string, problems []string) {
	if l.ChainBroken {
		reason, problems = ReasonBrokenChain, l.ChainProblems
	}
	if l.KeyBroken {
		reason, problems = ReasonBrokenKey, append([]string{l.KeyProblem}, problems...)
	}
	return reason, problems
}

// pendingFor drops the markers of lineages that no longer exist (known lists those
// with metadata): each is removed with a warning, never deployed.
func (c *Client) pendingFor(rep *Report, markers, known []string) []string {
	if c.cfg.Deploy.empty() {
		return nil
	}
	var out, gone []string
	for _, n := range markers {
		if _, ok := slices.BinarySearch(known, n); ok {
			out = append(out, n)
			continue
		}
		gone = append(gone, n)
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("deploy-pending marker %s names no lineage (no %s): removed",
			c.store.pendingPath(n), c.store.metaPath(n)))
	}
	if err := c.store.removePending(gone); err != nil {
		rep.Warnings = append(rep.Warnings, err.Error())
	}
	return out
}

// hookWaitDelay is how long a deploy command's output is still read after it exited.
const hookWaitDelay = 5 * time.Second

// deploy runs the check and the reload once, if something changed or an earlier
// run left a deploy pending (pending: lineages with a marker); never the reload after
// a failed check. Success removes the markers of everything it deployed; failure
// leaves them (with the error recorded) for the next run.
func (c *Client) deploy(ctx context.Context, rep *Report, pending []string) {
	d := c.cfg.Deploy
	if d.empty() {
		return // markers stay until a run with a deploy step
	}
	var lineages, domains, done []string
	for _, o := range rep.Outcomes {
		if o.Action == Issued || o.Action == Renewed || o.Action == Repaired {
			done = append(done, o.Name)
			lineages = append(lineages, c.store.LiveDir(o.Name))
			domains = append(domains, o.Names...)
		}
	}
	for _, n := range pending {
		if slices.Contains(done, n) {
			continue // switched again in this run: deployed with the rest
		}
		p, err := c.store.ReadPending(n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			rep.Warnings = append(rep.Warnings, err.Error())
		}
		rep.Pending = append(rep.Pending, p)
		done = append(done, n)
		lineages = append(lineages, c.store.LiveDir(n))
		names := rep.namesOf(n)
		if len(names) == 0 {
			if m, err := c.store.ReadMeta(n); err == nil {
				names = m.Names
			}
		}
		domains = append(domains, names...)
		c.cfg.logger().Info("deploying what an earlier run left pending", "lineage", n, "version", p.Version, "since", p.Switched)
	}
	if !rep.Changed && len(done) == 0 {
		return
	}
	env := append(os.Environ(), d.Env...)
	env = append(env, "RENEWED_LINEAGES="+strings.Join(lineages, " "), "RENEWED_DOMAINS="+strings.Join(domains, " "))
	if len(lineages) > 0 {
		env = append(env, "RENEWED_LINEAGE="+lineages[0])
	}
	run := func(argv []string) error {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Dir = c.store.root()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		// A hook that starts a daemon leaves a child holding the output pipe: stop
		// reading once the hook has exited (or ctx ended) and the delay has passed.
		cmd.WaitDelay = hookWaitDelay
		if err := cmd.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
			return fmt.Errorf("%s: %v: %s", filepath.Base(argv[0]), err, strings.TrimSpace(out.String()))
		}
		return nil
	}
	fail := func(err error) {
		rep.deployErr = err
		rep.DeployError = err.Error()
		c.keepPending(rep, done, err)
	}
	if len(d.Check) > 0 {
		if err := run(d.Check); err != nil {
			fail(fmt.Errorf("%w: %v", ErrCheckFailed, err))
			return
		}
		rep.DeploySteps = append(rep.DeploySteps, "check passed: "+argvString(d.Check))
	}
	var err error
	var step string
	switch {
	case d.Reloader != nil:
		err = d.Reloader.Reload(ctx)
		step = "reloaded " + cmp.Or(d.Name, "the server")
	case len(d.Reload) > 0:
		err = run(d.Reload)
		step = "ran " + cmp.Or(d.Name, argvString(d.Reload))
	}
	if err != nil {
		fail(fmt.Errorf("%w: %v", ErrReload, err))
		return
	}
	if step != "" {
		rep.DeploySteps = append(rep.DeploySteps, step)
	}
	rep.Deployed = true
	if err := c.store.removePending(done); err != nil {
		// The deploy passed; a marker left behind only costs one more reload.
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("cannot remove deploy-pending markers: %v", err))
	}
}

// argvString shows a command for a report: the script of "sh -c SCRIPT", else the
// words joined by spaces.
func argvString(argv []string) string {
	if len(argv) == 3 && filepath.Base(argv[0]) == "sh" && argv[1] == "-c" {
		return argv[2]
	}
	return strings.Join(argv, " ")
}

// keepPending records a failed deploy step in the markers of the lineages it was for.
func (c *Client) keepPending(rep *Report, names []string, cause error) {
	for _, n := range names {
		p, err := c.store.ReadPending(n)
		switch {
		case errors.Is(err, ErrNotFound):
			p = PendingDeploy{Name: n} // removed meanwhile: the deploy is still owed
		case err != nil:
			continue // unreadable: left as it is, it still marks the deploy pending
		}
		p.Failures++
		p.LastError = cause.Error()
		if p.Switched.IsZero() {
			p.Switched = c.cfg.now().UTC().Truncate(time.Second)
		}
		if err := c.store.writePending(p); err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %v", n, err))
		}
	}
}

// namesOf returns the names of lineage n as reported in this run's outcomes.
func (r *Report) namesOf(n string) []string {
	for _, o := range r.Outcomes {
		if o.Name == n {
			return o.Names
		}
	}
	return nil
}

// Profiles asks the CA which profiles it offers (name → description).
func (c *Client) Profiles(ctx context.Context) (map[string]string, error) {
	s, err := c.openSession(ctx, c.cfg.server())
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.profiles(), nil
}
