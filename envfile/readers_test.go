package envfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// readerCorpus holds lines whose readings are known to be tricky: the rows of the
// measured table of the two readers' differences, and more.
var readerCorpus = []string{
	`PW1=pa$$word`,
	`PW2="pa$$word"`,
	`PW3="pa\$\$word"`,
	`PW4='pa$$word'`,
	`CMD1=$(echo pwned)`,
	`CMD2='$(echo pwned)'`,
	`CMD3="x$(echo ran)y"`,
	`CMD4="\$(echo escaped)"`,
	`CMD5=$()`,
	`VAR1=${NOPE}`,
	"TICK=`echo hi`",
	`BS1="a\\b"`,
	`BS2="a\"b"`,
	`Q1='a"b'`,
	`Q2="it's"`,
	`H1='abc#def'`,
	`H2="abc#def"`,
	`H3=abc #def`,
	`H4=val#ue`,
	`NL1='a\nb'`,
	`NL2="a\nb"`,
	`export EXP=exported`,
	`UNI=ünïcødé`,
	`YAML: colon form`,
	`SP1 = spaced value `,
	`SP2='   padded  '`,
	`TQ1='a' # it's'`,
	`TQ2='a'b'`,
	`REF1=$UNI`,
	`REF2="${UNI}x"`,
	`REF3=\$UNI`,
	`REF4=$UNI}`,
	`D1=$$`,
	`D2=a$`,
	`D3=$-x`,
	`EMPTY=`,
	`CMT=#comment`,
	`ADJ='it''s'`,
	`DQ3="a"b"`,
	"TAB='a\tb'",
	`R1='[::1]:6379'`,
	`R2=redis://[::1]:6379/0`,
	`MIX="a\\$UNI"`,
	`LT=<x>`,
	`NBSP=a` + "\u00a0",
	`B64=MUpCo5-KvyWndaSBDdIKgNqGsAEd6yG73zG1KCu8PZo=`,
	`FROM='Mastodon <notifications@example.com>'`,
}

// TestReadersMatchOracles checks the Go emulations of Ruby's and Node's dotenv against
// the real programs, line by line, and that every line Validate accepts reaches Rails,
// streaming and envfile as the same value.
func TestReadersMatchOracles(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	file := filepath.Join(dir, "corpus.env")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(readerCorpus, "\n")+"\n"), 0o600))
	ruby := testenv.DotenvRuby(t, file)
	node := testenv.DotenvNode(t, file)

	text := strings.Join(readerCorpus, "\n") + "\n"
	rr, nr := readGem(baseline, text), readNode(baseline, text)
	for i, line := range readerCorpus {
		key := strings.TrimSpace(strings.TrimPrefix(strings.FieldsFunc(line, func(c rune) bool { return c == '=' || c == ':' })[0], "export "))
		r, rok, _ := rr.at(i)
		n, nok, _ := nr.at(i)
		rv, rrok := ruby[key]
		nv, nnok := node[key]
		assert.Equal(t, rrok, rok, "%s: does Ruby read it", line)
		assert.Equal(t, nnok, nok, "%s: does Node read it", line)
		if r.command {
			assert.True(t, strings.HasPrefix(key, "CMD"), "%s: command found", line)
		} else if rrok {
			assert.Equal(t, rv, r.value, "%s: Ruby's reading", line)
		}
		if nnok {
			assert.Equal(t, nv, n.value, "%s: Node's reading", line)
		}
	}

	// Every line envfile parses and Validate accepts is read alike by all three; every
	// line the real readers disagree on is flagged.
	for _, line := range readerCorpus {
		f, err := Parse([]byte(line + "\n"))
		if err != nil {
			continue
		}
		l := f.Lines[0]
		flagged := false
		var ps report.Problems
		f.checkLinesWith(&ps, mastodon.Newest(), []mastodon.DotenvPair{baseline})
		for _, p := range ps.Errors() {
			if errors.Is(p, ErrReadersDisagree) || errors.Is(p, ErrCommandSubstitution) {
				flagged = true
			}
		}
		rv, rok := ruby[l.Key]
		nv, nok := node[l.Key]
		agree := rok && nok && rv == nv && rv == l.Value && !(l.Quote != Single && strings.Contains(line, "$(")) // any $( Rails substitutes is an error
		assert.Equal(t, !agree, flagged, "%s: Rails %q (%v), streaming %q (%v), envfile %q; flagged=%v", line, rv, rok, nv, nok, l.Value, flagged)
	}
}

// TestDocumentedDisagreements pins the measured differences: each is an error naming both readings.
func TestDocumentedDisagreements(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line     string
		sentinel error
		says     string
	}{
		{`LOCAL_DOMAIN=pa$$word.example`, ErrReadersDisagree, `Rails reads "pa$.example" and the streaming server reads "pa$$word.example"`},
		{`DB_PASS=pa$$word`, ErrReadersDisagree, "<secret, 3 characters>"},
		{`DB_PASS="pa\$\$word"`, ErrReadersDisagree, "backslashes"},
		{`DB_NAME=$(echo pwned)`, ErrCommandSubstitution, "shell command"},
		{`DB_NAME="x$(id)"`, ErrCommandSubstitution, "shell command"},
		{"DB_NAME=`echo hi`", ErrReadersDisagree, "Rails reads \"`echo hi`\" and the streaming server reads \"echo hi\""},
	} {
		t.Run(tc.line, func(t *testing.T) {
			t.Parallel()
			f, err := Parse([]byte(tc.line))
			require.NoError(t, err)
			ps := f.Validate(Options{})
			var hit *report.Problem
			for i, p := range ps {
				if errors.Is(p, tc.sentinel) {
					hit = &ps[i]
				}
			}
			require.NotNil(t, hit, "not flagged: %s", ps)
			assert.Equal(t, report.Error, hit.Severity)
			assert.Contains(t, hit.Message, tc.says)
			assert.Contains(t, hit.Path, ".env.production:1 ")
			assert.NotContains(t, hit.Message, "pa$$word\"", "secret value leaked")
		})
	}
}
