package mastodon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestInstallCommands(t *testing.T) {
	for _, line := range Lines() {
		r := MustLookup(line)
		cmds := r.BundleInstallCommands()
		assert.Len(t, cmds, 3, line)
		assert.True(t, strings.HasPrefix(cmds[2], "bundle install"), line)
	}
	assert.Equal(t, "yarn install --pure-lockfile", MustLookup("4.2").JSInstallCommand())
	assert.Equal(t, "corepack enable && yarn install --immutable", MustLookup("4.3").JSInstallCommand())
	assert.Equal(t, "yarn install --pure-lockfile", MustLookup("1.6").JSInstallCommand())
}
