// Command v6-envgen writes or updates Mastodon's .env.production for a target release:
// missing secrets generated in Mastodon's formats, existing secrets and hand-written lines
// kept, every value written in the form Rails and the streaming server both read alike.
//
//	v6-envgen --domain NAME [--web-domain NAME] [--mastodon VERSION] [--family ipv6-only|dual-stack] [--out PATH]
//	          [--db-host … --db-port … --db-name … --db-user … --db-password-file FILE --db-sslmode …]
//	          [--redis-host … --redis-port … --redis-url … --redis-password-file FILE]
//	          [--smtp-server … --smtp-port … --smtp-login … --smtp-password-file FILE --smtp-from … --smtp-auth-method …]
//	          [--check] [--diff] [--no-wait] [--rotate KEY [--i-understand-data-loss=KEY]] [--json] [--strict]
//
// Exit 0 when done (or nothing to change), 1 on errors (nothing written) or when --diff
// finds a change, 2 for usage errors. Secrets are never printed: --diff masks them.
// The conventions (help, --out, --diff, --family, --json) are internal/cli's.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/redisconf"
)

func main() { os.Exit(cli.Main("v6-envgen", run)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cmd := cli.New("v6-envgen", "v6-envgen --domain NAME [--out .env.production] [flags]", stdout, stderr)
	fl := cmd.Flags
	var c envfile.Config
	var opt envfile.Options
	var out, dbPassFile, redisPassFile, smtpPassFile string
	var check, diff, asJSON, strict bool
	family := cli.IPv6Only
	fl.StringVar(&c.LocalDomain, "domain", "", "LOCAL_DOMAIN, the instance's domain (required for a new file; Unicode names become punycode)")
	fl.StringVar(&c.WebDomain, "web-domain", "", "WEB_DOMAIN, when the web interface lives on another name")
	cmd.Release(&opt.Release)
	cmd.FamilyFlag(&family, false, "the Redis default of a new file: ipv6-only REDIS_URL=redis://[::1]:6379/0 (4.2+; older releases can't, so 127.0.0.1), dual-stack REDIS_HOST=127.0.0.1")
	fl.StringVar(&out, "out", ".env.production", "the `FILE` to write (mode 0600); its directory must exist")
	fl.StringVar(&c.DB.Host, "db-host", "", "DB_HOST (new file: /var/run/postgresql)")
	fl.IntVar(&c.DB.Port, "db-port", 0, "DB_PORT (new file: 5432)")
	fl.StringVar(&c.DB.Name, "db-name", "", "DB_NAME (new file: mastodon_production)")
	fl.StringVar(&c.DB.User, "db-user", "", "DB_USER (new file: mastodon)")
	fl.StringVar(&dbPassFile, "db-password-file", "", "file holding DB_PASS")
	fl.StringVar(&c.DB.SSLMode, "db-sslmode", "", "DB_SSLMODE (disable, require, verify-full…)")
	fl.StringVar(&c.Redis.Host, "redis-host", "", "REDIS_HOST (new file: as --family says)")
	fl.IntVar(&c.Redis.Port, "redis-port", 0, "REDIS_PORT (new file: 6379)")
	fl.StringVar(&c.Redis.URL, "redis-url", "", "REDIS_URL, e.g. redis://[::1]:6379/0 (4.2+)")
	fl.StringVar(&redisPassFile, "redis-password-file", "", "file holding REDIS_PASSWORD")
	fl.StringVar(&c.SMTP.Server, "smtp-server", "", "SMTP_SERVER")
	fl.IntVar(&c.SMTP.Port, "smtp-port", 0, "SMTP_PORT (with --smtp-server on a new file: 587)")
	fl.StringVar(&c.SMTP.Login, "smtp-login", "", "SMTP_LOGIN")
	fl.StringVar(&smtpPassFile, "smtp-password-file", "", "file holding SMTP_PASSWORD")
	fl.StringVar(&c.SMTP.FromAddress, "smtp-from", "", "SMTP_FROM_ADDRESS (default notifications@DOMAIN)")
	fl.StringVar(&c.SMTP.AuthMethod, "smtp-auth-method", "", "SMTP_AUTH_METHOD: plain, login, cram_md5 or none")
	fl.BoolVar(&check, "check", false, "validate the file at --out and change nothing (exit 1 on errors)")
	fl.BoolVar(&diff, "diff", false, "print what would change (unified, secrets masked) and write nothing; exit 1 when something would")
	fl.Func("rotate", "replace this secret with a new one (repeatable)", func(s string) error { opt.Rotate = append(opt.Rotate, s); return nil })
	fl.Func("i-understand-data-loss", "confirm the rotation of a `KEY` whose loss destroys data (repeatable)", func(s string) error { opt.ConfirmLoss = append(opt.ConfirmLoss, s); return nil })
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
	fl.BoolVar(&strict, "strict", false, "treat warnings as errors")
	lock := cmd.NoWait()
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	if check && (diff || len(opt.Rotate) > 0) {
		return cmd.Usage("--check validates only: it cannot be combined with --diff or --rotate")
	}
	if code, ok := cmd.Out("--out", out); !ok {
		return code
	}
	opt.Release = opt.Release.OrNewest()
	res := &result{File: out, Mastodon: opt.Release.String(), cmd: cmd}
	for _, p := range []struct {
		flag, file string
		dst        *string
	}{
		{"--db-password-file", dbPassFile, &c.DB.Password},
		{"--redis-password-file", redisPassFile, &c.Redis.Password},
		{"--smtp-password-file", smtpPassFile, &c.SMTP.Password},
	} {
		if p.file == "" {
			continue
		}
		v, err := readSecretFile(p.file)
		if err != nil {
			return res.finish(1, fmt.Errorf("%s: %w", p.flag, err), asJSON, strict, stdout, stderr)
		}
		*p.dst = v
	}
	if check || diff {
		existing, err := envfile.ParseFile(out)
		if errors.Is(err, fs.ErrNotExist) {
			existing, err = nil, nil
		}
		if err != nil {
			return res.finish(1, fmt.Errorf("%s cannot be read, so it is left untouched: %w", out, err), asJSON, strict, stdout, stderr)
		}
		if check {
			if existing == nil {
				return res.finish(1, fmt.Errorf("--check: %s does not exist", out), asJSON, strict, stdout, stderr)
			}
			res.Problems = existing.Validate(opt)
			return res.finish(res.code(strict), nil, asJSON, strict, stdout, stderr)
		}
	}
	// The file is read, merged and written under its lock: a second run at the same time
	// waits and merges into what this one wrote (secrets generated once).
	code := -1
	uo := envfile.UpdateOptions{NoWait: lock.NoWait(), Waiting: lock.Waiting}
	w, err := envfile.UpdateFile(context.Background(), out, uo, func(existing *envfile.File) (*envfile.File, error) {
		var f *envfile.File
		if existing == nil {
			if c.LocalDomain == "" {
				code = cmd.Usage("--domain is required to create %s", out)
				return nil, envfile.ErrNothingToWrite
			}
			if err := redisDefault(&c, family, opt); err != nil {
				return nil, err
			}
			f, res.Problems = envfile.New(c, opt)
			f.Name = filepath.Base(out)
		} else {
			f, res.Problems = envfile.Merge(existing, c, opt)
		}
		res.Generated = envfile.Generated(existing, f, opt.Release)
		if c := res.code(strict); c != 0 {
			code = c
			return nil, envfile.ErrNothingToWrite
		}
		if diff {
			res.Diff = envfile.Diff(existing, f)
			res.Changed = res.Diff != ""
			if !asJSON {
				fmt.Fprint(stdout, res.Diff)
			}
			code = cli.DiffCode(res.Changed)
			return nil, envfile.ErrNothingToWrite
		}
		return f, nil
	})
	for _, n := range w.Notes {
		fmt.Fprintf(stderr, "v6-envgen: %s\n", n)
	}
	if err != nil {
		return res.finish(1, err, asJSON, strict, stdout, stderr)
	}
	if code == 2 {
		return 2
	}
	if code >= 0 {
		return res.finish(code, nil, asJSON, strict, stdout, stderr)
	}
	res.Written, res.Changed, res.Backup = true, w.Changed, w.Backup
	if fi, err := os.Stat(out); err == nil { // the mode kept or tightened, not a fixed 0600
		res.mode = fi.Mode().Perm()
	}
	return res.finish(0, nil, asJSON, strict, stdout, stderr)
}

// redisDefault gives a new file the Redis address v6kit's Redis of that family binds
// (redisconf's rule, the one the bundles use): on an IPv6-only host ::1 through a
// bracketed REDIS_URL from 4.2.0, 127.0.0.1 for older releases and dual-stack hosts.
// A --redis-host or --redis-url given by the user is kept as is.
func redisDefault(c *envfile.Config, family cli.Family, opt envfile.Options) error {
	if c.Redis.Host != "" || c.Redis.URL != "" || family != cli.IPv6Only || !opt.Release.RedisURLBrackets() {
		return nil
	}
	env, ps := redisconf.Config{Release: opt.Release, Family: redisconf.IPv6Only, Port: c.Redis.Port, Password: c.Redis.Password}.Env()
	if err := ps.Err(); err != nil {
		return fmt.Errorf("--redis-port/--redis-password-file: %w", err)
	}
	for _, v := range env {
		if v.Key == "REDIS_URL" {
			c.Redis.URL, c.Redis.Port, c.Redis.Password = v.Value, 0, ""
		}
	}
	return nil
}
