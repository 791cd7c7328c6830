package units

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/mastodon"
)

// TestCertRenewDeploysByDefault: the renewal service loads what it renewed. Before,
// CertRenew{} rendered `v6-certs renew` alone, so nginx never served a renewed
// certificate (issue 12, defect 1).
func TestCertRenewDeploysByDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		r    CertRenew
		want string
	}{
		{"zero reloads nginx", CertRenew{}, "ExecStart=/usr/local/bin/v6-certs renew --reload-nginx\n"},
		{"args kept before the reload", CertRenew{Args: []string{"--dir", "/srv/le"}}, "ExecStart=/usr/local/bin/v6-certs renew --dir /srv/le --reload-nginx\n"},
		{"reload given once", CertRenew{Args: []string{"--reload-nginx"}}, "ExecStart=/usr/local/bin/v6-certs renew --reload-nginx\n"},
		{"a hook instead", CertRenew{DeployHook: "systemctl reload haproxy"}, "ExecStart=/usr/local/bin/v6-certs renew --deploy-hook \"systemctl reload haproxy\"\n"},
		{"hook in args", CertRenew{Args: []string{"--deploy-hook=/bin/true"}}, "ExecStart=/usr/local/bin/v6-certs renew --deploy-hook=/bin/true\n"},
		{"chosen off", CertRenew{NoReload: true}, "ExecStart=/usr/local/bin/v6-certs renew\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			plan, err := Deployment{Release: mastodon.MustLookup("4.7"), Processes: []Process{ProcessNone}, CertRenew: &r}.Render()
			require.NoError(t, err)
			f, ok := plan.File(CertRenewUnit)
			require.True(t, ok)
			assert.Contains(t, string(f.Bytes()), c.want)
		})
	}
	_, err := Deployment{CertRenew: &CertRenew{DeployHook: "a\nb"}}.Render()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cert_renew.deploy_hook")
}
