package units

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

func sk(s string) Sidekiq {
	v, err := ParseSidekiq(s)
	if err != nil {
		panic(err)
	}
	return v
}

// TestBadInput: every bad deployment fails Render with an error at the field's path,
// wrapping the rule's sentinel, and WriteDir is never reached (nothing written).
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		d        Deployment
		path     string
		sentinel error
		msg      string
	}{
		{"two schedulers", Deployment{Sidekiq: []Sidekiq{sk("default,scheduler@5"), sk("push,pull,mailers,ingress,fasp,scheduler@5")}}, "sidekiq", ErrScheduler, "sidekiq[0], sidekiq[1]"},
		{"scheduler and an all-queue process", Deployment{Sidekiq: []Sidekiq{{Concurrency: 5}, sk("scheduler@5")}}, "sidekiq", ErrScheduler, "scheduler"},
		{"queue with spaces", Deployment{Sidekiq: []Sidekiq{sk("default,my queue@5")}}, "sidekiq[0].queues[1]", ErrQueue, `"my queue"`},
		{"queue like an option", Deployment{Sidekiq: []Sidekiq{sk("default,-v@5")}}, "sidekiq[0].queues[1]", ErrQueue, `"-v" starts with '-'`},
		{"queue like a long option", Deployment{Sidekiq: []Sidekiq{sk("--config,default@5")}}, "sidekiq[0].queues[0]", ErrQueue, `"--config" starts with`},
		{"queue listed twice", Deployment{Sidekiq: []Sidekiq{sk("default,default@5")}}, "sidekiq[0].queues[1]", ErrQueue, "twice"},
		{"negative weight", Deployment{Sidekiq: []Sidekiq{sk("default:-1@5")}}, "sidekiq[0].queues[0]", ErrQueue, "weight -1"},
		{"concurrency zero", Deployment{Sidekiq: []Sidekiq{sk("default@0")}}, "sidekiq[0].concurrency", ErrConcurrency, "concurrency 0"},
		{"concurrency negative", Deployment{Sidekiq: []Sidekiq{sk("default@-3")}}, "sidekiq[0].concurrency", ErrConcurrency, "concurrency -3"},
		{"web threads negative", Deployment{Web: Web{Threads: -1}}, "web.threads", ErrConcurrency, "-1"},
		{"over budget", Deployment{Web: Web{Workers: 8, Threads: 5}, Sidekiq: []Sidekiq{{Concurrency: 50}}, Streaming: Streaming{Instances: 2}}, "budget", ErrOverBudget, "over by"},
		{"relative app path", Deployment{Paths: Paths{App: "live"}}, "paths.app", ErrPath, "relative"},
		{"relative read-write path", Deployment{ReadWritePaths: []string{"media"}}, "read_write_paths[0]", ErrPath, "relative"},
		{"unclean path", Deployment{Paths: Paths{Node: "/usr/bin/../bin/node"}}, "paths.node", ErrPath, "/usr/bin/node"},
		{"path with a space", Deployment{Paths: Paths{Bundle: "/opt/my ruby/bundle"}}, "paths.bundle", ErrPath, "space"},
		{"path with a newline", Deployment{ReadWritePaths: []string{"/srv/a\nExecStartPre=/bin/sh"}}, "read_write_paths[0]", ErrPath, "control character"},
		{"user with a capital", Deployment{User: "Mastodon"}, "user", ErrUser, `"Mastodon"`},
		{"user with a space", Deployment{User: "mast odon"}, "user", ErrUser, "Unix user name"},
		{"user too long", Deployment{User: "m234567890123456789012345678901234"}, "user", ErrUser, "32"},
		{"web and streaming collide", Deployment{Web: Web{Port: 4001}, Streaming: Streaming{Instances: 2}}, "streaming.ports[1]", ErrPort, "web.port"},
		{"streaming instances collide", Deployment{Streaming: Streaming{Instances: 2, Ports: []int{4000, 4000}}}, "streaming.ports[1]", ErrPort, "streaming.ports[0]"},
		{"exporter collides", Deployment{Exporter: &Exporter{Port: 3000}}, "exporter.port", ErrPort, "web.port"},
		{"port out of range", Deployment{Web: Web{Port: 70000}}, "web.port", ErrPort, "70000"},
		{"ports count mismatch", Deployment{Streaming: Streaming{Instances: 3, Ports: []int{4000}}}, "streaming.ports", ErrPort, "3 streaming instances"},
		{"two ports before 4.2", Deployment{Release: mastodon.MustLookup("4.1"), Streaming: Streaming{Instances: 2, Ports: []int{4000, 4001}}}, "streaming.ports", ErrPort, "one port"},
		{"exporter before 4.6", Deployment{Release: mastodon.MustLookup("4.5"), Exporter: &Exporter{}}, "exporter", ErrExporter, "4.6"},
		{"unknown version", Deployment{Release: mastodon.Release{Version: mastodon.V(5, 0, 0)}}, "mastodon", ErrVersion, "5.0"},
		{"unknown layout", Deployment{Layout: "arch"}, "layout", ErrLayout, "arch"},
		{"env newline", Deployment{Env: []Var{{"FOO", "a\nExecStartPre=/bin/false"}}}, "env[0].value", ErrValue, "control character"},
		{"env bad name", Deployment{Env: []Var{{"FOO BAR", "x"}}}, "env[0].name", ErrEnvName, "FOO BAR"},
		{"env reserved", Deployment{Env: []Var{{"BIND", "::"}}}, "env[0].name", ErrEnvName, "Deployment field"},
		{"env secret", Deployment{Env: []Var{{"SECRET_KEY_BASE", "x"}}}, "env[0].name", ErrSecretInUnit, ".env.production"},
		{"renew arg newline", Deployment{CertRenew: &CertRenew{Args: []string{"--x\n"}}}, "cert_renew.args[0]", ErrValue, "control character"},
		{"renew lone semicolon", Deployment{CertRenew: &CertRenew{Args: []string{";"}}}, "cert_renew.args[0]", ErrValue, "separator"},
		{"renew bad OnFailure", Deployment{CertRenew: &CertRenew{OnFailure: "mail root"}}, "cert_renew.on_failure", ErrUnitName, "mail root"},
		{"renew negative delay", Deployment{CertRenew: &CertRenew{RandomizedDelay: -1}}, "cert_renew.randomized_delay", ErrTimer, "negative"},
		{"bind with zone", Deployment{Bind: mustAddr("fe80::1%eth0")}, "bind", ErrBind, "zone"},
		{"sidekiq name", Deployment{Sidekiq: []Sidekiq{{Name: "a/b", Concurrency: 5}}}, "sidekiq[0].name", ErrUnitName, "a/b"},
		{"sidekiq unit names collide", Deployment{Sidekiq: []Sidekiq{{Name: "x", Concurrency: 5}, {Name: "x", Queues: []Queue{{Name: "push"}}, Concurrency: 5}}}, "sidekiq[1].name", ErrUnitName, "mastodon-sidekiq-x.service"},
		// systemd expands $ in a command's argv[0] but runs the path unexpanded: refused.
		{"bundle with $", Deployment{Paths: Paths{Bundle: "/opt/r$b/bundle"}}, "paths.bundle", ErrPath, "'$'"},
		{"bundle with ${VAR}", Deployment{Paths: Paths{Bundle: "/opt/${RUBY}/bundle"}}, "paths.bundle", ErrPath, "'$'"},
		{"node with $", Deployment{Paths: Paths{Node: "/opt/node$$/bin/node"}}, "paths.node", ErrPath, "'$'"},
		{"npm with $", Deployment{Release: mastodon.MustLookup("2.7"), Paths: Paths{NPM: "/opt/$npm/npm"}}, "paths.npm", ErrPath, "'$'"},
		{"kill with $", Deployment{Paths: Paths{Kill: "/opt/$k/kill"}}, "paths.kill", ErrPath, "'$'"},
		{"echo with $", Deployment{Paths: Paths{Echo: "/opt/$e/echo"}}, "paths.echo", ErrPath, "'$'"},
		{"certs with $", Deployment{CertRenew: &CertRenew{}, Paths: Paths{Certs: "/opt/$c/v6-certs"}}, "paths.certs", ErrPath, "'$'"},
		{"home with $ gives bundle", Deployment{Paths: Paths{Home: "/srv/m$"}}, "paths.bundle", ErrPath, "paths.home"},
		{"user with $ gives bundle", Deployment{User: "mast$"}, "paths.bundle", ErrPath, "paths.home"},
		{"jemalloc with a colon", Deployment{Paths: Paths{Jemalloc: "/opt/a:b/libjemalloc.so.2"}}, "paths.jemalloc", ErrPath, "':'"},
		// Characters systemd would unquote, unescape or split in WorkingDirectory= and ReadWritePaths=.
		{"app with a quote", Deployment{Paths: Paths{App: `/srv/"live"`}}, "paths.app", ErrPath, "quote"},
		{"app with a semicolon", Deployment{Paths: Paths{App: "/srv/live;x"}}, "paths.app", ErrPath, "';'"},
		{"read-write path with a backslash", Deployment{ReadWritePaths: []string{`/srv/a\x20b`}}, "read_write_paths[0]", ErrPath, "backslash"},
		{"read-write path with a single quote", Deployment{ReadWritePaths: []string{"/srv/it's"}}, "read_write_paths[0]", ErrPath, "quote"},
		{"read-write path with a space", Deployment{ReadWritePaths: []string{"/srv/my media"}}, "read_write_paths[0]", ErrPath, "space"},
		{"jemalloc relative path", Deployment{Paths: Paths{Jemalloc: "lib/jemalloc"}}, "paths.jemalloc", ErrPath, "soname"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ps := c.d.Validate()
			plan, err := c.d.Render()
			require.Error(t, err)
			assert.Nil(t, plan, "nothing is rendered, so nothing can be written")
			assert.ErrorIs(t, err, c.sentinel)
			var found *report.Problem
			for i, p := range ps.Errors() {
				if p.Path == c.path && errors.Is(p, c.sentinel) {
					found = &ps.Errors()[i]
				}
			}
			require.NotNil(t, found, "no error at %s wrapping %v in:\n%s", c.path, c.sentinel, ps)
			assert.Contains(t, found.Message, c.msg)
		})
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		d    Deployment
		path string
		msg  string
	}{
		{"unknown queue", Deployment{Sidekiq: []Sidekiq{{Concurrency: 25}, sk("bulk@5")}}, "sidekiq[1].queues[0]", `no queue "bulk"`},
		{"unserved queue", Deployment{Sidekiq: []Sidekiq{sk("default:8,ingress:4@25"), sk("push,pull@10"), sk("mailers@5"), sk("scheduler@5")}}, "sidekiq", `queue "fasp"`},
		{"no scheduler", Deployment{Sidekiq: []Sidekiq{sk("default,push,pull,mailers,ingress,fasp@25")}}, "sidekiq", `queue "scheduler"`},
		{"split before 3.3", Deployment{Release: mastodon.MustLookup("2.9"), Sidekiq: []Sidekiq{sk("default,push@5"), sk("pull,mailers@5")}}, "sidekiq", "loads the schedule"},
		{"bind on 1.6", Deployment{Release: mastodon.MustLookup("1.6"), Bind: mustAddr("::")}, "bind", "ignores BIND"},
		{"root user", Deployment{User: "root"}, "user", "root"},
		{"tight budget", Deployment{Sidekiq: []Sidekiq{{Concurrency: 70}}}, "budget", "headroom"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			plan, err := c.d.Render()
			require.NoError(t, err, "warnings do not stop Render")
			var msgs []string
			for _, p := range plan.Problems.Warnings() {
				if p.Path == c.path {
					msgs = append(msgs, p.Message)
				}
			}
			require.NotEmpty(t, msgs, "no warning at %s in:\n%s", c.path, plan.Problems)
			assert.Contains(t, msgs[0]+" "+lastOr(msgs), c.msg)
		})
	}
}

func lastOr(s []string) string { return s[len(s)-1] }

func TestEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	d := Deployment{User: "Bad User", Paths: Paths{App: "rel"}, Sidekiq: []Sidekiq{sk("a b@0")}, Web: Web{Port: 4000}}
	ps := d.Validate().Errors()
	paths := map[string]bool{}
	for _, p := range ps {
		paths[p.Path] = true
	}
	for _, want := range []string{"user", "paths.app", "sidekiq[0].queues[0]", "sidekiq[0].concurrency", "streaming.ports[0]"} {
		assert.True(t, paths[want], "missing %s in:\n%s", want, ps)
	}
}

func TestParseSidekiq(t *testing.T) {
	t.Parallel()
	s, err := ParseSidekiq("default:8,ingress:4@25")
	require.NoError(t, err)
	assert.Equal(t, Sidekiq{Queues: []Queue{{"default", 8}, {"ingress", 4}}, Concurrency: 25}, s)
	assert.Equal(t, "default:8,ingress:4@25", s.String())
	for _, bad := range []string{"default", "default@", "@5", "a@b@5", "default:x@5", "default@five", ":0@0", "a,,b@1"} {
		_, err := ParseSidekiq(bad)
		assert.Error(t, err, bad)
	}
}

func FuzzParseSidekiq(f *testing.F) {
	for _, s := range []string{"default:8,ingress:4@25", "push,pull@10", "x@0", "a:b@c", "@", ",@1", "a::1@2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sk, err := ParseSidekiq(s)
		if err != nil {
			return
		}
		again, err := ParseSidekiq(sk.String())
		if err != nil {
			t.Fatalf("%q → %q does not parse: %v", s, sk.String(), err)
		}
		if again.String() != sk.String() {
			t.Fatalf("round trip %q → %q → %q", s, sk.String(), again.String())
		}
		// Validate never panics on whatever was parsed.
		_ = Deployment{Sidekiq: []Sidekiq{sk}}.Validate()
	})
}

func TestRenderWritesNothingOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := Deployment{Sidekiq: []Sidekiq{sk("default,scheduler@5"), sk("scheduler@5")}}
	plan, err := d.Render()
	require.Error(t, err)
	require.Nil(t, plan)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
