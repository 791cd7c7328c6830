package pgsetup

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// bigHBA is Debian's default file plus n generated host rules.
func bigHBA(n int) []byte {
	var b bytes.Buffer
	b.WriteString(debianHBA)
	for i := range n {
		fmt.Fprintf(&b, "# app host %d\nhost    mastodon_production  app%d  2001:db8:%x::/48  scram-sha-256\n", i, i, i)
	}
	return b.Bytes()
}

func BenchmarkParseHBA(b *testing.B) {
	for _, n := range []int{0, 1000} {
		data := bigHBA(n)
		b.Run(fmt.Sprintf("rules=%d", n+7), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ParseHBA(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSetBlock(b *testing.B) {
	c := Config{Database: "mastodon_production", Allow: []netip.Prefix{netip.MustParsePrefix("2001:db8:10::/64")}}
	for _, n := range []int{0, 1000} {
		data := bigHBA(n)
		b.Run(fmt.Sprintf("rules=%d", n+7), func(b *testing.B) {
			for b.Loop() {
				f, err := ParseHBA(data)
				if err != nil {
					b.Fatal(err)
				}
				if _, ps := f.SetBlock(c.BlockName(), c.HBARules()); ps.HasErrors() {
					b.Fatal(ps)
				}
				_ = f.Bytes()
			}
		})
	}
}

func BenchmarkRenderRule(b *testing.B) {
	r := HBARule{Type: Host, Databases: []string{"mastodon_production", "postgres"}, Users: []string{"mastodon"},
		Address: netip.MustParsePrefix("::1/128"), Method: ScramSHA256}
	for b.Loop() {
		_ = r.String()
	}
}

func BenchmarkSCRAMVerifier(b *testing.B) {
	for b.Loop() {
		if _, err := SCRAMVerifier("correct horse battery staple", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanLog reads 10,000 lines of a busy server's log (the concurrent logins
// of hbalog_test.go, repeated) for one login's lines, as VerifyLogins does per poll.
func BenchmarkScanLog(b *testing.B) {
	lp, err := parseLogPrefix(DefaultLogLinePrefix)
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Count(concurrentLog, "\n")
	log := strings.Repeat(concurrentLog, 10000/lines)
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		v := scanLogLines(strings.NewReader(log), lp, "")
		if len(v.backends) == 0 {
			b.Fatal("no backends")
		}
	}
}
