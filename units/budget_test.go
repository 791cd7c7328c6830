package units

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBudgetOriginStory(t *testing.T) {
	t.Parallel()
	// The origin story: puma defaults (2×5), one sidekiq -c 10, one streaming process.
	b := Budget{Sidekiq: []int{10}, StreamingInstances: 1}
	r := b.Compute()
	assert.Equal(t, 10, r.Web)
	assert.Equal(t, 10, r.Sidekiq)
	assert.Equal(t, 10, r.Streaming)
	assert.Equal(t, 35, r.Total)
	assert.Equal(t, 97, r.Available)
	assert.NoError(t, b.Validate().Err())
}

func TestBudgetOver(t *testing.T) {
	t.Parallel()
	b := Budget{WebWorkers: 4, WebThreads: 5, Sidekiq: []int{25, 25, 10, 5}, StreamingInstances: 4, MaxConnections: 100}
	err := b.Validate().Err()
	require.ErrorIs(t, err, ErrOverBudget)
	assert.Contains(t, err.Error(), "over by")
	assert.Contains(t, err.Error(), "raise max_connections")
}

func TestBudgetBadNumbers(t *testing.T) {
	t.Parallel()
	ps := Budget{WebThreads: -1, Sidekiq: []int{0}}.Validate()
	require.Len(t, ps.Errors(), 2)
	assert.Equal(t, "budget.sidekiq[0]", ps[0].Path)
	assert.Equal(t, "budget.web_threads", ps[1].Path)
}

func TestBudgetFormulaNamesAbsentProcesses(t *testing.T) {
	t.Parallel()
	// A worker-only host: no web and no streaming pool, written as such.
	r := Budget{NoWeb: true, Sidekiq: []int{25, 10}}.Compute()
	assert.Equal(t, "web none + sidekiq 25+10 + streaming none + reserve 5 = 40 of 97 available (max_connections 100 − 3 superuser-reserved)", r.Formula)
	r = Budget{StreamingInstances: 2}.Compute()
	assert.Contains(t, r.Formula, "web 1×2×5 + sidekiq none + streaming 2×10")
}
