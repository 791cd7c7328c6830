package network_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
)

// childEnv carries a probe to run when the test binary is re-executed inside a network
// namespace (`ip netns exec NS network.test`): the child sees that namespace's
// interfaces, routes and raw sockets, as v6-probe would on that host.
const childEnv = "V6KIT_NETWORK_PROBE_CHILD"

type childSpec struct {
	Options  network.Options `json:"options"`
	Mastodon string          `json:"mastodon,omitempty"`
	CAFile   string          `json:"ca_file,omitempty"`
	Timeout  time.Duration   `json:"timeout"`
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(testenv.PostgresMain(m))
}

func runChild(spec string) int {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "child spec:", err)
		return 3
	}
	if s.Mastodon != "" {
		r, err := mastodon.Lookup(s.Mastodon)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		s.Options.Release = r
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		s.Options.RootCAs = pool
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	rep, err := network.Probe(ctx, s.Options)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 3
	}
	return 0
}
