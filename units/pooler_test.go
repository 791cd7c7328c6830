package units_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/units"
)

func TestPoolerBudget(t *testing.T) {
	b := units.PoolerBudget{Clients: units.Budget{WebHosts: 2, Sidekiq: []int{25}, StreamingInstances: 1}, DefaultPoolSize: 20, ReservePoolSize: 5, Pools: 2}
	r := b.Compute()
	assert.Equal(t, 2*2*5+25+10, r.Clients)
	assert.Equal(t, 25, r.PerPool)
	assert.Equal(t, 2*25+5, r.Server)
	assert.Equal(t, 97, r.Available)
	require.NoError(t, b.Validate().Err())

	// The single-server verdict does not apply: 400 clients fit 100 max_connections here.
	b = units.PoolerBudget{Clients: units.Budget{WebHosts: 8, WebWorkers: 5, WebThreads: 10}, MaxClientConn: 500}
	require.NoError(t, b.Validate().Err())
	b.MaxClientConn = 300
	ps := b.Validate()
	require.ErrorIs(t, ps.Err(), units.ErrOverBudget)
	assert.Equal(t, "pooler.clients", ps.Errors()[0].Path)
	assert.Contains(t, ps.Errors()[0].Message, "over by 100")

	b = units.PoolerBudget{DefaultPoolSize: 50, Pools: 2, MaxConnections: 100}
	ps = b.Validate()
	assert.Equal(t, "pooler.server", ps.Errors()[0].Path)
	assert.Contains(t, ps.Errors()[0].Message, "over by 8")
}
