package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Probe validates opts, runs [Plan]'s checks concurrently and returns the report. Every
// check ends by the context's deadline (and by Options.CheckTimeout); a context without a
// deadline is an error, so the probe can never hang. An error is returned only for bad
// options or a missing deadline: failing checks are data in the report.
func Probe(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate().Err(); err != nil {
		return nil, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return nil, fmt.Errorf("network: %w: the context has no deadline", ErrTimeout)
	}
	o := opts.withDefaults()
	if !dl.After(o.Now()) {
		return nil, fmt.Errorf("network: %w: the deadline has already passed", ErrTimeout)
	}
	steps := plan(o)
	r := newRun(o, steps)
	start := o.Now()
	r.execute(ctx)
	rep := &Report{
		Domain: o.Domain, WebDomain: o.WebDomain, Family: o.Family, Release: o.Release,
		Started: start, Checks: r.collect(),
	}
	rep.Diagnoses = Diagnose(rep)
	rep.Duration = o.Now().Sub(start)
	return rep, nil
}

// node is one running check.
type node struct {
	step  Step
	check Check
	done  chan struct{}
	order int // plan index, then address index
	sub   int
}

// run is the state of one probe.
type run struct {
	o     Options
	steps []Step

	mu    sync.Mutex
	nodes map[string]*node
	wg    sync.WaitGroup

	// facts shared between checks, written once by their producer before its done closes
	hostAddrs []netip.Addr
	addrs     map[string][]netip.Addr // DNS step ID → answers
	nat64     []netip.Prefix          // from resolv.conf's resolver
	expanded  [3]chan struct{}        // by AddrSource: closed once its per-address nodes exist
	resolvers []netip.AddrPort        // resolv.conf nameservers
}

func newRun(o Options, steps []Step) *run {
	r := &run{o: o, steps: steps, nodes: map[string]*node{}, addrs: map[string][]netip.Addr{}}
	for i := range r.expanded {
		r.expanded[i] = make(chan struct{})
	}
	close(r.expanded[NoAddr])
	return r
}

func instanceID(id string, a netip.Addr) string {
	if !a.IsValid() {
		return id
	}
	return id + "@" + a.String()
}

// execute starts every plain step at once; per-address steps start when the DNS step
// that lists their addresses finishes.
func (r *run) execute(ctx context.Context) {
	r.mu.Lock()
	for i, st := range r.steps {
		if st.PerAddr != NoAddr {
			continue
		}
		r.addNodeLocked(st, netip.Addr{}, i, 0)
	}
	var start []*node
	for _, n := range r.nodes {
		start = append(start, n)
	}
	r.mu.Unlock()
	for _, n := range start {
		r.launch(ctx, n)
	}
	// per-address expansions: one waiter per source
	for _, src := range []AddrSource{EachAAAA, EachA} {
		srcStep := r.sourceStep(src)
		if srcStep == "" {
			close(r.expanded[src])
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.expand(ctx, src, srcStep)
		}()
	}
	r.wg.Wait()
}

// sourceStep returns the DNS step whose answers a per-address source uses, or "".
func (r *run) sourceStep(src AddrSource) string {
	for _, st := range r.steps {
		if st.PerAddr == src && len(st.After) > 0 && strings.HasPrefix(st.After[0], "dns.") {
			return st.After[0]
		}
	}
	for _, st := range r.steps {
		if st.PerAddr == src {
			return st.After[0]
		}
	}
	return ""
}

func (r *run) expand(ctx context.Context, src AddrSource, srcStep string) {
	defer close(r.expanded[src])
	srcNode := r.node(srcStep)
	if srcNode == nil {
		return
	}
	select {
	case <-srcNode.done:
	case <-ctx.Done():
		<-srcNode.done
	}
	r.mu.Lock()
	addrs := r.addrs[srcStep]
	var fresh []*node
	for i, st := range r.steps {
		if st.PerAddr != src {
			continue
		}
		if len(addrs) == 0 {
			n := r.addNodeLocked(st, netip.Addr{}, i, 0)
			n.check.State = Skipped
			n.check.Detail = fmt.Sprintf("no address to probe: %s found none", srcStep)
			close(n.done)
			continue
		}
		for j, a := range addrs {
			fresh = append(fresh, r.addNodeLocked(st, a, i, j))
		}
	}
	r.mu.Unlock()
	for _, n := range fresh {
		r.launch(ctx, n)
	}
}

// waitExpanded waits until the per-address checks of every source exist, so that
// results can be looked up by ID.
func (r *run) waitExpanded() {
	for _, ch := range r.expanded {
		<-ch
	}
}

func (r *run) addNodeLocked(st Step, a netip.Addr, order, sub int) *node {
	id := instanceID(st.ID, a)
	n := &node{step: st, done: make(chan struct{}), order: order, sub: sub}
	n.check = Check{ID: id, Group: st.Group, Title: st.Title, Addr: a, Required: st.Required, State: NotChecked}
	r.nodes[id] = n
	return n
}

func (r *run) node(id string) *node {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nodes[id]
}

func (r *run) launch(ctx context.Context, n *node) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(n.done)
		r.runNode(ctx, n)
	}()
}

// runNode runs one check. A step whose prerequisites did not pass is Skipped. Per-address
// steps run speculatively, at the same time as their prerequisites (TCP, TLS on the same
// address), and their result is discarded in favour of Skipped if a prerequisite fails:
// the wall time of a probe is then its DNS lookup plus its slowest check, not the sum of
// the chain. Other steps wait, since they read facts their prerequisites produce.
func (r *run) runNode(ctx context.Context, n *node) {
	cctx, cancel := context.WithTimeout(ctx, r.o.CheckTimeout)
	defer cancel()
	gate := make(chan string, 1)
	go func() { gate <- r.waitPrereqs(n, cancel) }()
	if n.step.PerAddr == NoAddr {
		if msg := <-gate; msg != "" {
			r.skip(n, msg)
			return
		}
		gate <- ""
	}
	c := n.check
	c.Started = r.o.Now()
	if fn := checkFor(n.step.ID); fn == nil {
		c.State = NotChecked
		c.Detail = "no implementation for " + n.step.ID
	} else {
		fn(cctx, r, &c)
	}
	if c.State == NotChecked && c.Detail == "" {
		c.Detail = "not checked"
	}
	c.Duration = r.o.Now().Sub(c.Started)
	if msg := <-gate; msg != "" {
		r.skip(n, msg)
		return
	}
	n.check = c
	r.o.Logger.Debug("check", "id", c.ID, "state", c.State.String(), "duration", c.Duration, "detail", c.Detail)
}

// waitPrereqs waits for n's prerequisites and returns why n is skipped ("" to run it);
// on a failed prerequisite it cancels n's context at once.
func (r *run) waitPrereqs(n *node, cancel context.CancelFunc) string {
	for _, dep := range n.step.After {
		id := dep
		if n.step.PerAddr != NoAddr && !strings.HasPrefix(dep, "dns.") {
			id = instanceID(dep, n.check.Addr)
		}
		d := r.node(id)
		if d == nil {
			// the prerequisite is not in the plan (e.g. host checks without Local): no gate
			continue
		}
		<-d.done
		if !d.check.Passed() {
			cancel()
			return fmt.Sprintf("skipped: %s did not pass (%s)", id, d.check.State)
		}
	}
	return ""
}

func (r *run) skip(n *node, msg string) {
	n.check.State = Skipped
	n.check.Detail = msg
	n.check.Started = r.o.Now()
	n.check.Values = nil
	r.o.Logger.Debug("check", "id", n.check.ID, "state", "skipped", "detail", msg)
}

// result returns a finished check's copy; it waits for it.
func (r *run) result(id string) (Check, bool) {
	n := r.node(id)
	if n == nil {
		return Check{}, false
	}
	<-n.done
	return n.check, true
}

func (r *run) collect() []Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	ns := make([]*node, 0, len(r.nodes))
	for _, n := range r.nodes {
		ns = append(ns, n)
	}
	slices.SortFunc(ns, func(a, b *node) int {
		if a.order != b.order {
			return a.order - b.order
		}
		return a.sub - b.sub
	})
	out := make([]Check, len(ns))
	for i, n := range ns {
		out[i] = n.check
		if n.check.Values == nil {
			out[i].Values = nil
		}
	}
	return out
}

func (r *run) setAddrs(step string, a []netip.Addr) {
	r.mu.Lock()
	r.addrs[step] = a
	r.mu.Unlock()
}

func (r *run) getAddrs(step string) []netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addrs[step]
}

// set records a measured value.
func set(c *Check, k, v string) {
	if c.Values == nil {
		c.Values = map[string]string{}
	}
	c.Values[k] = v
}

func (c *Check) ok(format string, args ...any) {
	c.State = OK
	c.Detail = fmt.Sprintf(format, args...)
}

func (c *Check) warn(hint, format string, args ...any) {
	c.State = Warn
	c.Detail = fmt.Sprintf(format, args...)
	c.Hint = hint
}

func (c *Check) fail(hint, format string, args ...any) {
	c.State = Fail
	c.Detail = fmt.Sprintf(format, args...)
	c.Hint = hint
}

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// isTimeout reports whether err is a deadline or timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// checkFunc fills in c (State, Detail, Hint, Values).
type checkFunc func(ctx context.Context, r *run, c *Check)

type ctxT = context.Context
