package sentinel_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
)

func TestGolden(t *testing.T) {
	c := base()
	c.SentinelPassword = "sentinel-password-0123456789"
	c.Prefixes = []string{"", "SIDEKIQ_"}
	var secs []golden.Section
	for i := range c.Redis {
		b, err := c.RedisConf(i)
		require.NoError(t, err)
		secs = append(secs, golden.Section{Name: fmt.Sprintf("redis%d.conf", i+1), Data: string(b)})
	}
	for i := range c.Sentinels {
		b, err := c.SentinelConf(i)
		require.NoError(t, err)
		secs = append(secs, golden.Section{Name: fmt.Sprintf("sentinel%d.conf", i+1), Data: string(b)})
	}
	env, ps := c.Env()
	require.NoError(t, ps.Err())
	var e string
	for _, x := range env {
		e += x.Key + "=" + x.Value + "\n"
	}
	secs = append(secs, golden.Section{Name: ".env.production", Data: e})
	golden.Check(t, "testdata/sentinel.txtar", "Two Redis nodes and three sentinels by name, the main and sidekiq Redis through them.", secs...)
}
