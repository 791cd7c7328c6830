package e2e

// TestNspawnInstall: issue 13's real-systemd world. A throwaway Debian 12 system boots
// with systemd as PID 1 (systemd-nspawn over a rootfs mmdebstrap built from Debian's
// packages, testenv.Rootfs) in the world's IPv6-only server namespace, and v6-install
// applies the all-in-one bundle inside it as root.
//
// What is real: systemd, Debian's nginx, PostgreSQL 15, Redis 7, git, nftables and Node.js
// 18; v6-install, v6-pgsetup, v6-certs and the rendered units, site and files; Pebble (in
// the client namespace, over IPv6) issuing through the bootstrap site; the probe from the
// IPv6-only client. What is a stub, and says so: Mastodon's own code. The checkout is a
// local git repository (Host.Source) whose streaming/index.js and stub/web.js are small
// servers run by the real Node under the rendered units' hardening (puma's unit runs
// stub/web.js through the stub `bundle exec puma`; sidekiq's an idle Node), and Ruby's
// toolchain is a stub rbenv (ruby, bundle and yarn shims that are shell scripts: no gems,
// no JavaScript packages; db:setup creates the tables the owner step's check reads).
//
// The release is Mastodon 4.2: the newest line whose MinNode (16) Debian 12's Node 18
// satisfies without corepack, which Debian's nodejs lacks (4.3 needs `corepack enable`,
// 4.4 and later Node 20 or 22).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
)

const nspawnMastodon = "4.2"

func TestNspawnInstall(t *testing.T) {
	start := time.Now()
	testenv.WorldTools(t)
	testenv.NspawnTools(t)
	testenv.Tool(t, "git", "git")
	rel := mastodon.MustLookup(nspawnMastodon)
	require.LessOrEqual(t, rel.MinNode(), 18, "Debian 12's Node is 18")
	require.Nil(t, rel.CorepackEnable(), "Debian 12's nodejs has no corepack")

	rootfsStart := time.Now()
	rootfs := testenv.Rootfs(t, testenv.MastodonHostPackages...)
	rootfsTook := time.Since(rootfsStart)
	bins := buildV6Kit(t, "v6-install", "v6-pgsetup", "v6-certs", "v6-probe")

	w := testenv.NewWorld(t, testenv.WorldOptions{})
	local, web := "example."+w.Zone, "social.example."+w.Zone
	require.NoError(t, w.AddRecords("example AAAA "+w.ServerAddr.String(), "social.example AAAA "+w.ServerAddr.String()))
	pebble := w.StartE2EPebble(t, w.Client, w.ClientAddr, w.ServerAddr, netip.Addr{}, w.Server)

	// The bundle: allinone's host for the world's names, cloning the stub checkout.
	h := bundle.Host{
		Family: bundle.IPv6Only, LocalDomain: local, WebDomain: web, AdminEmail: "admin@" + local, Owner: "admin",
		SMTP:    envfile.SMTP{Server: "relay." + w.Zone, Port: 25, AuthMethod: "none", OpenSSLVerifyMode: "none", FromAddress: "Mastodon <notifications@" + local + ">"},
		NAT64:   w.NAT64Prefix,
		Release: rel, ACMEServer: pebble.DirURL, RAM: 1 << 30,
		Source:   "/srv/mastodon-stub.git",
		Firewall: &firewall.SSH{Any: true},
	}
	site := filepath.Join(testenv.TempDir(t), "site")
	var rout, rerr strings.Builder
	require.Zero(t, bundle.RunHost(h, site, &rout, &rerr), "%s%s", rout.String(), rerr.String())

	c := testenv.BootContainer(t, testenv.ContainerOptions{
		Rootfs: rootfs, Netns: w.Server,
		ResolvConf: "nameserver " + w.DNS64.String() + "\nsearch " + w.Zone + "\n",
		Setup: func(root string) error {
			if err := copyTree(site, filepath.Join(root, "root/site")); err != nil {
				return err
			}
			for _, b := range bins {
				if err := copyTree(b, filepath.Join(root, "usr/local/bin", filepath.Base(b))); err != nil {
					return err
				}
			}
			// Pebble's HTTPS is signed by a test CA: the host trusts it like a public one.
			if err := os.WriteFile(filepath.Join(root, "usr/local/share/ca-certificates/v6kit-pebble.crt"), pebble.CAPEM, 0o644); err != nil {
				return err
			}
			return stubCheckout(filepath.Join(root, "srv/mastodon-stub.git"), rel)
		},
	})
	t.Logf("booted in %v", c.Booted)
	c.Run("update-ca-certificates")
	// git refuses to clone a repository another user owns unless it is a safe directory.
	c.Run("git", "config", "--system", "--add", "safe.directory", "/srv/mastodon-stub.git")

	apply := func() ([]bundle.StepResult, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var out, stderr strings.Builder
		cmd := c.Command(ctx, "v6-install", "--bundle", "/root/site", "--apply", "--json")
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		var res []bundle.StepResult
		dec := json.NewDecoder(strings.NewReader(out.String()))
		_ = dec.Decode(&res)
		var states strings.Builder
		for _, r := range res {
			fmt.Fprintf(&states, "%-8s %s\n", r.State, r.Step.ID)
		}
		return res, states.String() + stderr.String(), err
	}

	// 1. The first run stops where a stock Debian 12 host lacks Ruby (rbenv), with the fix.
	applyStart := time.Now()
	res, out, err := apply()
	require.Error(t, err, "Debian 12 has no Ruby %s: the ruby step must fail\n%s", rel.Ruby(), out)
	last := res[len(res)-1]
	require.Equal(t, "ruby", last.Step.ID, "%s", out)
	require.Equal(t, bundle.Failed, last.State)
	assert.Contains(t, out, "rbenv install "+rel.Ruby())
	for _, r := range res[:len(res)-1] {
		assert.Contains(t, []bundle.State{bundle.Done, bundle.Ran}, r.State, r.Step.ID)
	}

	// 2. The admin installs Ruby as the fix says: here the stub rbenv. Then every step runs.
	c.Run("runuser", "-u", "mastodon", "--", "sh", "-c", "mkdir -p /home/mastodon/.rbenv/shims /home/mastodon/.rbenv/bin && cp /srv/mastodon-stub.git/rbenv/* /home/mastodon/.rbenv/shims/")
	res, out, err = apply()
	require.NoError(t, err, "%s", out)
	applyTook := time.Since(applyStart)
	t.Logf("v6-install --apply:\n%s", out)

	// 3. Debian's daemons and the Mastodon units run, under the rendered hardening.
	rf, err := os.ReadFile(filepath.Join(site, bundle.StepsPath))
	require.NoError(t, err)
	var steps bundle.StepsFile
	require.NoError(t, json.Unmarshal(rf, &steps))
	units := []string{"nginx.service", "postgresql@15-main.service", "redis-server.service", "mastodon-web.service", "mastodon-sidekiq.service"}
	for _, s := range steps.Steps {
		if s.ID == "units" {
			for _, ch := range s.Check {
				if len(ch.Args) == 4 && ch.Args[1] == "is-active" {
					units = append(units, ch.Args[3])
				}
			}
		}
	}
	for _, u := range units {
		assert.Equal(t, "active", strings.TrimSpace(c.Run("systemctl", "show", "-P", "ActiveState", u)), u)
	}
	for _, u := range []string{"mastodon-web.service", "mastodon-sidekiq.service", "mastodon-streaming@4000.service"} {
		props := c.Run("systemctl", "show", "-p", "ProtectSystem,PrivateUsers,NoNewPrivileges,SystemCallFilter,ExecMainPID,ExecMainStatus", u)
		assert.Contains(t, props, "ProtectSystem=strict", u)
		assert.Contains(t, props, "PrivateUsers=yes", u)
		assert.Contains(t, props, "SystemCallFilter=~", u)
		pid := strings.TrimSpace(c.Run("systemctl", "show", "-P", "MainPID", u))
		comm := strings.TrimSpace(c.Run("cat", "/proc/"+pid+"/comm"))
		assert.Equal(t, "node", comm, "%s runs the real Node (the stub's process)", u)
	}
	assert.Contains(t, c.Run("systemctl", "list-timers", "--all", "--no-pager"), "v6-certs-renew.timer")

	// 4. The certificate came from Pebble through the bootstrap site.
	caFile := filepath.Join(testenv.TempDir(t), "roots.pem")
	require.NoError(t, os.WriteFile(caFile, pebble.Roots(t), 0o644))
	serial := servedSerial(t, w, web, w.ServerAddr, nil, caFile)
	require.NotEmpty(t, serial)

	// 5. The probe's whole ladder from the IPv6-only client.
	opts := network.Options{Domain: local, WebDomain: web, Family: network.V6Only, Resolver: netip.AddrPortFrom(w.DNS64, 53), CheckTimeout: 10 * time.Second,
		Outbound: true, OutboundURL: "http://" + w.PeerName + "/whoami", AllowedPrivateAddresses: []netip.Prefix{w.NAT64Prefix}}
	rep := probeRelease(t, w, w.Client, rel, opts, caFile)
	for try := 1; try < 3 && parityRace(rep); try++ {
		rep = probeRelease(t, w, w.Client, rel, opts, caFile)
	}
	requireAllPass(t, rep)

	// 6. A re-rendered config (less RAM: PostgreSQL's tuning snippet changes) and the site
	// touched behind the installer's back: --plan shows exactly the changed files' steps
	// and every restart or reload step whose daemon runs an older file to do (is-active
	// alone said done), every other step done (the first --apply left nothing to do);
	// --apply runs exactly those, and then every step is done.
	restartStart := time.Now()
	before := treeBytes(t, site)
	h.RAM = 512 << 20
	rout.Reset()
	rerr.Reset()
	require.Zero(t, bundle.RunHost(h, site, &rout, &rerr), "%s%s", rout.String(), rerr.String())
	var changed []string // tree paths whose bytes changed
	for p, b := range treeBytes(t, site) {
		if p != bundle.StepsPath && p != bundle.NextStepsPath && !bytes.Equal(before[p], b) {
			changed = append(changed, p)
		}
	}
	require.Contains(t, changed, bundle.TuningPath, "less RAM, other tuning")
	cp := exec.Command("cp", "-a", "--", site+"/.", filepath.Join(c.Root, "root/site"))
	b, err := cp.CombinedOutput()
	require.NoError(t, err, "%s", b)
	c.Run("touch", "/"+bundle.SitePath)
	stale := append([]string{"/" + bundle.SitePath}, prefixed("/", changed)...)
	var want []string // the changed files' steps, and every step checking a stale file's daemon
	for _, s := range readSteps(t, site) {
		if slices.Contains(changed, strings.TrimPrefix(s.ID, "file:")) {
			want = append(want, s.ID)
			continue
		}
		for _, ch := range s.Check {
			if freshness(ch) && slices.ContainsFunc(ch.Args[6:], func(f string) bool { return slices.Contains(stale, f) }) {
				want = append(want, s.ID)
				break
			}
		}
	}
	assert.Contains(t, want, "postgresql-restart")
	assert.Contains(t, want, "site")
	planStates := func() map[bundle.State][]string {
		var res []bundle.StepResult
		require.NoError(t, json.Unmarshal([]byte(c.Run("v6-install", "--bundle", "/root/site", "--plan", "--json")), &res))
		m := map[bundle.State][]string{}
		for _, r := range res {
			m[r.State] = append(m[r.State], r.Step.ID)
		}
		return m
	}
	assert.ElementsMatch(t, want, planStates()[bundle.Todo], "--plan after the re-render")
	res, out, err = apply()
	require.NoError(t, err, "%s", out)
	var ran []string
	for _, r := range res {
		if r.State == bundle.Ran {
			ran = append(ran, r.Step.ID)
		}
	}
	assert.ElementsMatch(t, want, ran, "--apply runs exactly the steps to do\n%s", out)
	assert.Empty(t, planStates()[bundle.Todo], "after --apply every step is done")
	// What the checks rely on, under this real systemd: the site step's reload moved
	// nginx's StateChangeTimestamp but not its ActiveEnterTimestamp (a started-after
	// check would call a reload step never done); the restart moved PostgreSQL's.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(cmd bundle.Cmd) error { return c.Command(ctx, cmd.Args...).Run() }
	assert.NoError(t, run(bundle.ReloadedAfter("nginx.service", "/"+bundle.SitePath)))
	assert.Error(t, run(bundle.StartedAfter("nginx.service", "/"+bundle.SitePath)), "a reload leaves ActiveEnterTimestamp")
	assert.NoError(t, run(bundle.StartedAfter("postgresql.service", "/"+bundle.TuningPath)))
	restartTook := time.Since(restartStart)

	// The pgsetup step's check reads the role's password: changed behind the installer's
	// back, the step is to do again, and --apply sets it back.
	c.Run("runuser", "-u", "postgres", "--", "psql", "-XAtq", "-c", "ALTER ROLE mastodon PASSWORD 'changed-behind-our-back'")
	plan := c.Run("v6-install", "--bundle", "/root/site", "--plan", "--only", "pgsetup", "--json")
	assert.Contains(t, plan, `"state": "to do"`, "a changed password is not done")
	_, out, err = apply()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, out, "ran      pgsetup")

	// 7. A forced renewal inside reloads nginx while a client keeps requesting over IPv6.
	load := startHealthLoad(w, web, caFile)
	time.Sleep(300 * time.Millisecond)
	renewStart := time.Now()
	c.Run("v6-certs", "renew", "--force", "--reload-nginx")
	renewTook := time.Since(renewStart)
	after := serial
	for deadline := time.Now().Add(30 * time.Second); after == serial && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		after = servedSerial(t, w, web, w.ServerAddr, nil, caFile)
	}
	time.Sleep(500 * time.Millisecond)
	reqs, fails := load.stopAndCheck(t)
	assert.NotEqual(t, serial, after, "nginx serves the renewed certificate")
	t.Logf("nspawn world: rootfs %v, boot %v, both --apply runs %v, re-render to every step done %v, renewal %v (%d requests, %d failed), whole test %v",
		rootfsTook.Round(time.Millisecond), c.Booted.Round(time.Millisecond), applyTook.Round(time.Millisecond),
		restartTook.Round(time.Millisecond), renewTook.Round(time.Millisecond), reqs, fails, time.Since(start).Round(time.Millisecond))
}

// treeBytes is every regular file of the bundle tree dir, by tree path.
func treeBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = b
		return err
	}))
	return m
}

// readSteps is the steps of the bundle in dir, as v6-install reads them.
func readSteps(t *testing.T, dir string) []bundle.Step {
	t.Helper()
	steps, err := bundle.ReadSteps(dir)
	require.NoError(t, err)
	return steps
}

// freshness says whether c is a bundle.StartedAfter or bundle.ReloadedAfter check
// (unit at Args[5], files from Args[6]).
func freshness(c bundle.Cmd) bool {
	script := bundle.StartedAfter("x.service", "/x").Args[2]
	return len(c.Args) > 6 && c.Args[0] == "sh" && c.Args[2] == script
}

func prefixed(pre string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = pre + s
	}
	return out
}

// buildV6Kit builds the named commands (static, CGO off) into a temp dir.
func buildV6Kit(t *testing.T, names ...string) []string {
	t.Helper()
	dir := testenv.TempDir(t)
	var pkgs, out []string
	for _, n := range names {
		pkgs = append(pkgs, "github.com/v6kit/v6kit/cmd/"+n)
		out = append(out, filepath.Join(dir, n))
	}
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", b)
	return out
}

// copyTree copies a file or a directory tree (cp -a).
func copyTree(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if b, err := exec.Command("cp", "-a", "--", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp %s: %v: %s", src, err, b)
	}
	return nil
}

// stubCheckout makes the bare repository the install clones: a stub of Mastodon's
// code at rel's tag (see the file comment), plus, outside the tree, the stub rbenv.
func stubCheckout(bare string, rel mastodon.Release) error {
	work := bare + ".work"
	files := map[string]string{
		"streaming/index.js": stubStreamingJS,
		"stub/web.js":        fmt.Sprintf(stubWebJS, rel.String()),
		"stub/sidekiq.js":    "// v6kit test stub for sidekiq: an idle Node process\nsetInterval(() => {}, 1 << 30);\n",
		"bin/tootctl":        stubTootctl,
		"README.md":          "A v6kit test stub of Mastodon " + rel.String() + "'s checkout: not Mastodon.\n",
	}
	for p, s := range files {
		f := filepath.Join(work, p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, []byte(s), 0o755); err != nil {
			return err
		}
	}
	git := func(dir string, args ...string) error {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=v6kit", "-c", "user.email=v6kit@invalid", "-c", "init.defaultBranch=main"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, b)
		}
		return nil
	}
	for _, a := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-qm", "stub"}, {"tag", rel.GitTag()}} {
		if err := git(work, a...); err != nil {
			return err
		}
	}
	if err := git(filepath.Dir(bare), "clone", "-q", "--bare", work, bare); err != nil {
		return err
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	rb := filepath.Join(bare, "rbenv")
	if err := os.MkdirAll(rb, 0o755); err != nil {
		return err
	}
	for name, s := range map[string]string{
		"ruby":   "#!/bin/sh\n# v6kit test stub of rbenv's ruby shim: no Ruby\necho 'ruby " + rel.Ruby() + " (v6kit test stub)'\n",
		"bundle": stubBundle,
		"yarn":   "#!/bin/sh\n# v6kit test stub of yarn: no JavaScript packages\nmkdir -p node_modules && touch node_modules/.yarn-integrity node_modules/.yarn-state.yml\n",
	} {
		if err := os.WriteFile(filepath.Join(rb, name), []byte(s), 0o755); err != nil {
			return err
		}
	}
	return nil
}

const stubBundle = `#!/bin/sh
# v6kit test stub of rbenv's bundle shim: no Ruby, no gems. The servers are Node stubs.
case "$1 $2" in
"config "*) exit 0 ;;
"install "*) mkdir -p vendor/bundle && touch vendor/bundle/.v6kit-stub; exit 0 ;;
"check "*) test -e vendor/bundle/.v6kit-stub; exit ;;
"exec puma") exec /usr/bin/node stub/web.js ;;
"exec sidekiq") exec /usr/bin/node stub/sidekiq.js ;;
"exec rails")
  case "$3" in
  db:setup) exec psql -X -v ON_ERROR_STOP=1 -q -d mastodon_production -c 'CREATE TABLE schema_migrations (version text PRIMARY KEY); CREATE TABLE accounts (id bigserial PRIMARY KEY, username text NOT NULL, domain text); CREATE TABLE users (id bigserial PRIMARY KEY, account_id bigint REFERENCES accounts, email text)' ;;
  assets:precompile) mkdir -p public/packs; exit 0 ;;
  esac ;;
esac
echo "bundle stub: unexpected: $*" >&2
exit 1
`

const stubTootctl = `#!/bin/sh
# v6kit test stub of tootctl accounts create USER --email EMAIL …
[ "$1 $2" = "accounts create" ] || { echo "tootctl stub: unexpected: $*" >&2; exit 1; }
psql -X -v ON_ERROR_STOP=1 -q -d mastodon_production -v u="$3" -v e="$5" <<'SQL'
WITH a AS (INSERT INTO accounts (username) VALUES (:'u') RETURNING id) INSERT INTO users (account_id, email) SELECT id, :'e' FROM a;
SQL
echo "OK"
echo "New password: v6kit-stub"
`

// stubWebJS answers what the probe asks puma (health, instance API, webfinger, host-meta,
// nodeinfo, the landing page), as testenv.MastodonStub does, on BIND:PORT from the unit.
const stubWebJS = `// v6kit test stub of Mastodon's puma, run by the real Node under the web unit.
const http = require('http');
const fs = require('fs');
const version = '%s';
// LOCAL_DOMAIN from .env.production in the working directory, as Rails reads it
const env = fs.readFileSync('.env.production', 'utf8').match(/^LOCAL_DOMAIN=(.*)$/m);
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://' + req.headers.host);
  const host = req.headers.host || '';
  const local = env ? env[1].trim() : host.replace(/:\d+$/, '');
  if (url.pathname !== '/health') res.setHeader('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');
  res.setHeader('Cache-Control', 'max-age=0, private, must-revalidate');
  const json = (type, v) => { res.setHeader('Content-Type', type); res.end(typeof v === 'string' ? v : JSON.stringify(v)); };
  switch (url.pathname) {
  case '/health': res.end('OK'); break;
  case '/api/v2/instance': json('application/json', {domain: local, version, title: 'stub'}); break;
  case '/.well-known/webfinger': json('application/jrd+json', {subject: url.searchParams.get('resource')}); break;
  case '/.well-known/host-meta':
    json('application/xrd+xml', '<?xml version="1.0"?><XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"><Link rel="lrdd" template="https://' + host + '/.well-known/webfinger?resource={uri}"/></XRD>'); break;
  case '/.well-known/nodeinfo':
    json('application/json', {links: [{rel: 'http://nodeinfo.diaspora.software/ns/schema/2.0', href: 'https://' + host + '/nodeinfo/2.0'}]}); break;
  case '/': json('text/html', '<!doctype html><title>stub</title>' + '<p>landing page padding, as Mastodon\'s is tens of kilobytes</p>\n'.repeat(1200)); break;
  default: res.statusCode = 404; res.end('not found');
  }
// BIND as puma reads it into tcp://BIND:PORT: an IPv6 address comes bracketed ([::1])
}).listen(Number(process.env.PORT), process.env.BIND.replace(/^\[(.*)\]$/, '$1'));
`

// stubStreamingJS is the streaming stub (testenv.StreamingStub in JavaScript): health,
// and a websocket upgrade answered 101 with the RFC 6455 accept key, one update frame
// and a normal close.
const stubStreamingJS = `// v6kit test stub of Mastodon's streaming server, run by the real Node under the unit.
const http = require('http');
const crypto = require('crypto');
const frame = (op, payload) => {
  const b = Buffer.from(payload);
  return Buffer.concat([Buffer.from([0x80 | op, b.length]), b]);
};
const srv = http.createServer((req, res) => {
  if (req.url.startsWith('/api/v1/streaming/health')) { res.end('OK'); return; }
  res.statusCode = 400; res.end('websocket upgrade required');
});
srv.on('upgrade', (req, sock) => {
  sock.on('error', () => {}); // a client closing first is not the server's failure
  const key = req.headers['sec-websocket-key'];
  if (!key || (req.headers.upgrade || '').toLowerCase() !== 'websocket') { sock.end('HTTP/1.1 400 Bad Request\r\n\r\n'); return; }
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  sock.write(frame(1, '{"event":"update","payload":"{}"}'));
  sock.end(frame(8, Buffer.from([0x03, 0xe8])));
});
srv.listen(Number(process.env.PORT), process.env.BIND);
`
