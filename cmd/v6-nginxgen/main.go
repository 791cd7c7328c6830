// Command v6-nginxgen renders the nginx site of an IPv6-only or dual-stack Mastodon host
// (an http-context include, like upstream's dist/nginx.conf) with package nginxconf.
//
//	v6-nginxgen --domain social.example.org [--web-domain NAME] [--family ipv6-only|dual-stack]
//	    [--nginx-version 1.22] [--mastodon 4.7] [--cert FILE --key FILE] [--root DIR]
//	    [--backend ADDR]... [--out FILE] [--check] [--diff] [--json] [--strict]
//
// Without --out the site goes to stdout. --check runs `nginx -t` on it in a temporary
// prefix and writes nothing; --diff shows what would change in --out and writes nothing.
// Exit status: 0 ok (--diff: nothing would change), 1 invalid input, a failed check or
// (--diff) something would change, 2 usage. The conventions are internal/cli's.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/nginxconf"
)

func main() { os.Exit(cli.Main("v6-nginxgen", run)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var s nginxconf.Site
	var alts string
	var out string
	var check, diff, asJSON, strict bool
	cmd := cli.New("v6-nginxgen", "v6-nginxgen --domain NAME [--out FILE] [flags]", stdout, stderr)
	fs := cmd.Flags
	family := cli.IPv6Only
	fs.StringVar(&s.Domain, "domain", "", "LOCAL_DOMAIN (required)")
	fs.StringVar(&s.WebDomain, "web-domain", "", "WEB_DOMAIN, if it differs from --domain")
	fs.StringVar(&alts, "alternate-domains", "", "ALTERNATE_DOMAINS, comma-separated")
	cmd.FamilyFlag(&family, false, "ipv6-only listens on [::] only, dual-stack on 0.0.0.0 too")
	fs.StringVar(&s.NginxVersion, "nginx-version", "", "target nginx version, or \"installed\" to ask nginx -v (empty: 1.22, Debian 12's)")
	cmd.Release(&s.Release)
	fs.StringVar(&s.Cert, "cert", "", "certificate chain (default /etc/letsencrypt/live/NAME/fullchain.pem)")
	fs.StringVar(&s.Key, "key", "", "private key (default /etc/letsencrypt/live/NAME/privkey.pem)")
	fs.StringVar(&s.Root, "root", "", "Mastodon's public directory (default /home/mastodon/live/public)")
	fs.StringVar(&s.ACMEWebroot, "acme-webroot", "", "webroot for /.well-known/acme-challenge/ (default --root)")
	fs.IntVar(&s.HTTPPort, "http-port", 0, "HTTP port (default 80)")
	fs.IntVar(&s.HTTPSPort, "https-port", 0, "HTTPS port (default 443)")
	fs.Func("backend", "`ADDR` of a host running puma and streaming (repeat for several web hosts; default ::1 for --family ipv6-only, 127.0.0.1 for dual-stack)", func(v string) error {
		a, err := cli.ParseAddr(v)
		if err != nil {
			return fmt.Errorf("%w; nginx would resolve a name once at start", err)
		}
		for _, b := range s.Web.Addrs {
			if b == a {
				return fmt.Errorf("%s is given twice: list each host once", a)
			}
		}
		s.Web.Addrs, s.Streaming.Addrs = append(s.Web.Addrs, a), append(s.Streaming.Addrs, a)
		return nil
	})
	fs.IntVar(&s.StreamingInstances, "streaming-instances", 0, "streaming processes on ports 4000, 4001, … (default 1)")
	fs.StringVar(&s.CachePath, "cache-path", "", "proxy_cache_path directory (default /var/cache/nginx)")
	fs.StringVar(&s.AccessLog, "access-log", "", "per-site access log (default: the main config's)")
	fs.StringVar(&s.ErrorLog, "error-log", "", "per-site error log (default: the main config's)")
	fs.StringVar(&out, "out", "", "write the site to `FILE` atomically; its directory must exist (default: stdout)")
	fs.BoolVar(&check, "check", false, "run nginx -t on the result; write nothing")
	fs.BoolVar(&diff, "diff", false, "show what would change in --out (unified diff); write nothing; exit 1 when something would")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fs.BoolVar(&strict, "strict", false, "fail on warnings")
	lock := cmd.NoWait()
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	switch {
	case s.Domain == "":
		return cmd.Usage("--domain is required")
	case diff && out == "":
		return cmd.Usage("--diff needs --out FILE")
	}
	if code, ok := cmd.Out("--out", out); !ok {
		return code
	}
	if family == cli.DualStack {
		s.Family = nginxconf.DualStack
	} else if len(s.Web.Addrs) == 0 {
		// The family's loopback, as v6-unitgen and the bundles bind puma and streaming.
		loop := s.Release.OrNewest().LoopbackBind(true)
		s.Web.Addr, s.Streaming.Addr = loop, loop
	}
	if s.NginxVersion == "installed" {
		v, err := nginxconf.InstalledVersion(context.Background(), "")
		if err != nil {
			fmt.Fprintln(stderr, "v6-nginxgen: --nginx-version installed:", err)
			return 1
		}
		s.NginxVersion = v.String()
	}
	if alts != "" {
		s.AlternateDomains = strings.Split(alts, ",")
	}

	var res result
	finish := func(code int, err error) int { return res.finish(cmd, code, err, asJSON) }
	res.Problems = cmd.FlagPaths(s.Validate(), backendFlags)
	if err := res.Problems.Err(); err != nil {
		return finish(1, err)
	}
	if strict && res.Problems.Strict() != nil {
		return finish(1, errors.New("warnings are fatal under --strict"))
	}
	site, err := s.Bytes()
	if err != nil {
		return finish(1, err)
	}
	switch {
	case check:
		cr, err := nginxconf.Check(context.Background(), s, nginxconf.CheckOptions{})
		res.Nginx, res.Warnings = cr.Nginx.String(), cr.Warnings
		if err != nil {
			return finish(1, err)
		}
		if strict && len(cr.Warnings) > 0 {
			return finish(1, errors.New("nginx -t warned, fatal under --strict"))
		}
		if !asJSON {
			fmt.Fprintf(stdout, "nginx %s: the site is valid\n", cr.Nginx)
		}
	case diff:
		old, _, err := fsutil.ReadExisting(out) // a FIFO or a dangling link is an error, never blocks
		if err != nil {
			return finish(1, err)
		}
		res.Out, res.Diff = out, cli.Diff(out, string(old), string(site))
		res.Changed = res.Diff != ""
		if !asJSON {
			fmt.Fprint(stdout, res.Diff)
		}
		return finish(cli.DiffCode(res.Changed), nil)
	case out == "" || out == "-":
		if asJSON {
			res.Site = string(site)
		} else if _, err := stdout.Write(site); err != nil {
			return finish(1, err)
		}
	default:
		wr, err := s.WriteFileOpts(context.Background(), out, nginxconf.WriteOptions{NoWait: lock.NoWait(), Waiting: lock.Waiting})
		for _, n := range wr.Notes {
			fmt.Fprintf(stderr, "v6-nginxgen: %s\n", n)
		}
		res.Out, res.Changed, res.Backup = out, wr.Changed, wr.Backup
		if err != nil {
			return finish(1, err)
		}
		if !asJSON {
			state := "unchanged"
			if wr.Changed {
				state = "written"
			}
			if wr.Backup != "" {
				state += ", previous kept as " + wr.Backup + " (in .v6kit-backup/, which an include DIR/* does not match)"
			}
			fmt.Fprintf(stdout, "%s: %s\n", out, state)
		}
	}
	return finish(0, nil)
}

// backendFlags names the site's fields that --backend sets.
var backendFlags = map[string]string{"web.addrs": "--backend", "streaming.addrs": "--backend", "web.addr": "--backend", "streaming.addr": "--backend"}
