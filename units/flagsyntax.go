package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSidekiq parses the command-line form of one sidekiq process,
// QUEUES@CONCURRENCY, where QUEUES is a comma-separated list of NAME[:WEIGHT]
// ("default:8,ingress:4@25", "push,pull@10"). The queue names and numbers are checked
// by [Deployment.Validate]; ParseSidekiq only refuses what it cannot read.
func ParseSidekiq(s string) (Sidekiq, error) {
	var sk Sidekiq
	qs, c, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(c, "@") {
		return sk, fmt.Errorf("%w: %q: write QUEUES@CONCURRENCY, e.g. default:8,ingress:4@25", ErrQueue, s)
	}
	n, err := strconv.Atoi(c)
	if err != nil {
		return sk, fmt.Errorf("%w: %q: concurrency %q is not a number", ErrConcurrency, s, c)
	}
	sk.Concurrency = n
	if qs == "" {
		return sk, fmt.Errorf("%w: %q: list at least one queue before @", ErrQueue, s)
	}
	for _, q := range strings.Split(qs, ",") {
		name, w, hasWeight := strings.Cut(q, ":")
		if name == "" {
			return sk, fmt.Errorf("%w: %q: an empty queue name; separate names with single commas", ErrQueue, s)
		}
		queue := Queue{Name: name}
		if hasWeight {
			n, err := strconv.Atoi(w)
			if err != nil {
				return sk, fmt.Errorf("%w: %q: weight %q of queue %q is not a number", ErrQueue, s, w, name)
			}
			queue.Weight = n
		}
		sk.Queues = append(sk.Queues, queue)
	}
	return sk, nil
}

// String returns the command-line form that [ParseSidekiq] reads.
func (sk Sidekiq) String() string {
	var qs []string
	for _, q := range sk.Queues {
		if q.Weight != 0 {
			qs = append(qs, q.Name+":"+strconv.Itoa(q.Weight))
		} else {
			qs = append(qs, q.Name)
		}
	}
	return strings.Join(qs, ",") + "@" + strconv.Itoa(sk.Concurrency)
}
