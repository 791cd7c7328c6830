package mastodon

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func optionValues(opts []UnitOption, name string) []string {
	var out []string
	for _, o := range opts {
		if o.Name == name {
			out = append(out, o.Value)
		}
	}
	return out
}

func TestDistHardeningOptions(t *testing.T) {
	t.Parallel()
	assert.Empty(t, MustLookup("3.3").DistHardeningOptions(ProcessWeb), "no sandbox before 3.4")

	h34 := MustLookup("3.4").DistHardeningOptions(ProcessWeb)
	assert.Equal(t, []string{"strict"}, optionValues(h34, "ProtectSystem"))
	assert.Empty(t, optionValues(h34, "ProcSubset"), "3.4 lacks ProcSubset")
	assert.Empty(t, optionValues(h34, "RemoveIPC"))
	assert.False(t, MustLookup("3.4").DistReadWritePaths(), "3.4 shipped ProtectSystem=strict without ReadWritePaths")

	for _, v := range []string{"3.5", "4.2", "4.7"} {
		r := MustLookup(v)
		assert.True(t, r.DistReadWritePaths())
		web := r.DistHardeningOptions(ProcessWeb)
		st := r.DistHardeningOptions(ProcessStreaming)
		assert.Equal(t, []string{"AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"}, optionValues(web, "RestrictAddressFamilies"), v)
		assert.Contains(t, optionValues(web, "SystemCallFilter"), "@chown", "Ruby units allow @chown")
		assert.NotContains(t, optionValues(st, "SystemCallFilter"), "@chown", "streaming does not")
		assert.Contains(t, optionValues(st, "SystemCallFilter")[0], "@memlock")
		assert.Equal(t, web, r.DistHardeningOptions(ProcessSidekiq))
		assert.Equal(t, web, r.DistHardeningOptions(ProcessExporter))
	}
}

func TestDistUnitShapes(t *testing.T) {
	t.Parallel()
	assert.True(t, MustLookup("1.6").DistSidekiqQueueFlags())
	assert.False(t, MustLookup("2.6").DistSidekiqQueueFlags())
	assert.False(t, MustLookup("1.6").DistStreamingClusterNum())
	assert.True(t, MustLookup("2.6").DistStreamingClusterNum())
	assert.True(t, MustLookup("4.1").DistStreamingClusterNum())
	assert.False(t, MustLookup("4.2").DistStreamingClusterNum())
}
