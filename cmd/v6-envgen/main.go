// Command v6-envgen writes or updates Mastodon's .env.production for a target release:
// missing secrets generated in Mastodon's formats, existing secrets and hand-written lines
// kept, every value written in the form Rails and the streaming server both read alike.
//
//	v6-envgen --domain NAME [--web-domain NAME] [--mastodon VERSION] [--out PATH]
//	          [--db-host … --db-port … --db-name … --db-user … --db-password-file FILE --db-sslmode …]
//	          [--redis-host … --redis-port … --redis-url … --redis-password-file FILE]
//	          [--smtp-server … --smtp-port … --smtp-login … --smtp-password-file FILE --smtp-from … --smtp-auth-method …]
//	          [--check] [--diff] [--rotate KEY [--i-understand-data-loss=KEY]] [--json] [--strict]
//
// Exit 0 when done (or nothing to change), 1 on errors (nothing written), 2 for usage errors.
// Secrets are never printed: --diff masks them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/mastodon"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("v6-envgen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var c envfile.Config
	var opt envfile.Options
	var version, out, dbPassFile, redisPassFile, smtpPassFile string
	var check, diff, asJSON, strict bool
	fl.StringVar(&c.LocalDomain, "domain", "", "LOCAL_DOMAIN, the instance's domain (required for a new file; Unicode names become punycode)")
	fl.StringVar(&c.WebDomain, "web-domain", "", "WEB_DOMAIN, when the web interface lives on another name")
	fl.StringVar(&version, "mastodon", "", "target Mastodon version, e.g. 4.7 or v4.5.2 (default: newest, "+mastodon.Newest().String()+")")
	fl.StringVar(&out, "out", ".env.production", "the file to write (mode 0600)")
	fl.StringVar(&c.DB.Host, "db-host", "", "DB_HOST (new file: /var/run/postgresql)")
	fl.IntVar(&c.DB.Port, "db-port", 0, "DB_PORT (new file: 5432)")
	fl.StringVar(&c.DB.Name, "db-name", "", "DB_NAME (new file: mastodon_production)")
	fl.StringVar(&c.DB.User, "db-user", "", "DB_USER (new file: mastodon)")
	fl.StringVar(&dbPassFile, "db-password-file", "", "file holding DB_PASS")
	fl.StringVar(&c.DB.SSLMode, "db-sslmode", "", "DB_SSLMODE (disable, require, verify-full…)")
	fl.StringVar(&c.Redis.Host, "redis-host", "", "REDIS_HOST (new file: 127.0.0.1)")
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
	fl.BoolVar(&diff, "diff", false, "print what would change, secrets masked, and write nothing")
	fl.Func("rotate", "replace this secret with a new one (repeatable)", func(s string) error { opt.Rotate = append(opt.Rotate, s); return nil })
	fl.Func("i-understand-data-loss", "confirm the rotation of a `KEY` whose loss destroys data (repeatable)", func(s string) error { opt.ConfirmLoss = append(opt.ConfirmLoss, s); return nil })
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
	fl.BoolVar(&strict, "strict", false, "treat warnings as errors")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "v6-envgen: "+format+"\n", a...)
		return 2
	}
	if fl.NArg() > 0 {
		return usage("unexpected argument %q", fl.Arg(0))
	}
	if check && (diff || len(opt.Rotate) > 0) {
		return usage("--check validates only: it cannot be combined with --diff or --rotate")
	}
	opt.Release = mastodon.Newest()
	if version != "" {
		r, err := mastodon.Lookup(version)
		if err != nil {
			return usage("--mastodon: %v", err)
		}
		opt.Release = r
	}
	res := &result{File: out, Mastodon: opt.Release.String()}
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
	var f *envfile.File
	if existing == nil {
		if c.LocalDomain == "" {
			return usage("--domain is required to create %s", out)
		}
		f, res.Problems = envfile.New(c, opt)
		f.Name = filepath.Base(out)
	} else {
		f, res.Problems = envfile.Merge(existing, c, opt)
	}
	res.Generated = envfile.Generated(existing, f, opt.Release)
	if code := res.code(strict); code != 0 {
		return res.finish(code, nil, asJSON, strict, stdout, stderr)
	}
	if diff {
		res.Diff = envfile.Diff(existing, f)
		res.Changed = res.Diff != ""
		if !asJSON {
			fmt.Fprint(stdout, res.Diff)
		}
		return res.finish(0, nil, asJSON, strict, stdout, stderr)
	}
	w, err := f.WriteFile(out)
	if err != nil {
		return res.finish(1, err, asJSON, strict, stdout, stderr)
	}
	res.Written, res.Changed, res.Backup = true, w.Changed, w.Backup
	return res.finish(0, nil, asJSON, strict, stdout, stderr)
}
