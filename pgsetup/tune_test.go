package pgsetup

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/testenv"
)

func tuningFromComment(t *testing.T, comment string) Tuning {
	t.Helper()
	var tu Tuning
	for _, f := range strings.Fields(comment) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "ram":
			tu.RAM, err = ParseBytes(v)
		case "cpus":
			tu.CPUs, err = strconv.Atoi(v)
		case "storage":
			tu.Storage = Storage(v)
		case "connections":
			tu.Connections, err = strconv.Atoi(v)
		default:
			t.Fatalf("unknown key %q", k)
		}
		require.NoError(t, err)
	}
	return tu
}

// TestGoldenTuning renders each testdata/tune/*.txtar case and checks the snippet with
// the real postgres binary (`postgres -C`): names, units and ranges, and the values it
// resolves.
func TestGoldenTuning(t *testing.T) {
	t.Parallel()
	for _, name := range golden.Files(t, "testdata/tune/*.txtar") {
		t.Run(filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			ar := golden.Open(t, name)
			tu := tuningFromComment(t, ar.Comment())
			snippet, err := tu.Snippet()
			require.NoError(t, err)
			ar.Check(t, golden.Section{Name: "want/tuning.conf", Data: string(snippet)})
			settings, err := tu.Settings()
			require.NoError(t, err)
			for _, s := range settings {
				got, err := testenv.PostgresConfCheck(t, snippet, s.Name)
				require.NoError(t, err)
				assert.Equal(t, pgResolved(t, s), got, s.Name)
			}
		})
	}
}

// pgResolved is what `postgres -C` prints for a setting: memory in the GUC's own unit
// (8kB pages for shared_buffers, effective_cache_size and wal_buffers; kB otherwise;
// MB for the WAL sizes).
func pgResolved(t *testing.T, s Setting) string {
	t.Helper()
	n, err := ParseBytes(s.Value)
	if err != nil || !strings.ContainsAny(s.Value, "kMGB") {
		return s.Value
	}
	switch s.Name {
	case "shared_buffers", "effective_cache_size", "wal_buffers":
		return strconv.FormatInt(n/(8*1024), 10)
	case "min_wal_size", "max_wal_size":
		return strconv.FormatInt(n/(1024*1024), 10)
	}
	return strconv.FormatInt(n/1024, 10)
}

func TestTuningRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, tu := range []Tuning{{RAM: 100 << 20}, {RAM: 2 << 30, CPUs: -1}, {RAM: 2 << 30, Connections: 20000}, {RAM: 2 << 30, Storage: "tape"}} {
		_, err := tu.Snippet()
		require.ErrorIs(t, err, ErrTuning, "%+v", tu)
	}
	ps := Tuning{RAM: 512 << 20, Connections: 500}.Validate()
	require.Len(t, ps.Warnings(), 1)
}

// TestTuningBrokenSnippetCaught proves the postgres -C check catches what it should.
func TestTuningBrokenSnippetCaught(t *testing.T) {
	t.Parallel()
	for snippet, want := range map[string]string{
		"shared_buffers = 12XB\n":           `invalid value for parameter "shared_buffers"`,
		"shared_bufers = 128MB\n":           `unrecognized configuration parameter "shared_bufers"`,
		"effective_io_concurrency = 2000\n": "outside the valid range",
	} {
		_, err := testenv.PostgresConfCheck(t, []byte(snippet), "server_version")
		require.Error(t, err)
		assert.Contains(t, err.Error(), want)
	}
}

func TestParseFormatBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"2GiB": 2 << 30, "2GB": 2 << 30, "512MiB": 512 << 20, "2048M": 2 << 30, "1024": 1024, "8 kB": 8192} {
		got, err := ParseBytes(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "GiB", "2PB", "-1GiB", "99999999999999GiB"} {
		_, err := ParseBytes(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "2GB", FormatBytes(2<<30))
	assert.Equal(t, "1536MB", FormatBytes(1536<<20))
	assert.Equal(t, "5242kB", FormatBytes(5368709))
}
