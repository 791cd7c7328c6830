package nginxconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckOptions controls [Check]. The zero value finds nginx in PATH or /usr/sbin and
// includes /etc/nginx/mime.types when it exists.
type CheckOptions struct {
	// Nginx is the nginx binary. Empty: "nginx" from PATH, else /usr/sbin/nginx.
	Nginx string
	// MimeTypes is the mime.types file the temporary main config includes. Empty:
	// /etc/nginx/mime.types when it exists.
	MimeTypes string
	// TempDir is where the temporary prefix is made. Empty: the system's.
	TempDir string
}

// CheckResult is what `nginx -t` said about a site.
type CheckResult struct {
	// Nginx is the version of the nginx that checked (from `nginx -v`).
	Nginx Version
	// Output is nginx's messages.
	Output string
	// Warnings are the `[warn]` lines. A site with warnings loads, but a strict check
	// (the CLI's --strict, every v6kit test) fails on them.
	Warnings []string
}

// Check renders the site and runs the real `nginx -t` on it in a temporary prefix with a
// minimal main config, as the site's http-context include. The certificate and key must
// exist (a missing one is [ErrCertMissing]). proxy_cache_path and log files are pointed
// into the temporary prefix, so nothing outside it is created; nginx -t still binds the
// listen addresses (it ignores "address in use", so a running nginx is no obstacle, but
// ports below 1024 need root). The prefix is removed afterwards.
//
// A target nginx with `http2 on;` (1.25.1+) can't be checked by an older nginx: Check
// says so with [ErrCheck] instead of reporting a misleading syntax error.
func Check(ctx context.Context, s Site, opt CheckOptions) (CheckResult, error) {
	var res CheckResult
	r, ps := s.resolve()
	if err := ps.Err(); err != nil {
		return res, err
	}
	var missing []string
	for _, f := range []string{r.cert, r.key} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", f, unwrapPathError(err)))
		}
	}
	if len(missing) > 0 {
		return res, fmt.Errorf("%w: %s", ErrCertMissing, strings.Join(missing, "; "))
	}

	bin, err := findNginx(opt.Nginx)
	if err != nil {
		return res, err
	}
	installed, err := InstalledVersion(ctx, bin)
	if err != nil {
		return res, err
	}
	res.Nginx = installed
	if r.nginx.HasHTTP2Directive() && !installed.HasHTTP2Directive() {
		return res, fmt.Errorf("%w: the site targets nginx %s (`http2 on;`), but the installed nginx is %s, which can't parse it; check on the target host or render for --nginx-version %d.%d",
			ErrCheck, r.nginx, installed, installed.Major, installed.Minor)
	}

	dir, err := os.MkdirTemp(opt.TempDir, "v6k-nginx-")
	if err != nil {
		return res, fmt.Errorf("nginxconf: check: %w", err)
	}
	defer os.RemoveAll(dir)
	// Workers run as nobody when nginx -t runs as root: the prefix must be traversable.
	if err := os.Chmod(dir, 0o755); err != nil {
		return res, fmt.Errorf("nginxconf: check: %w", err)
	}
	for _, d := range []string{"conf", "logs", "tmp", "cache"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return res, fmt.Errorf("nginxconf: check: %w", err)
		}
	}
	// The same site with its side-effect paths inside the prefix.
	r.cache = filepath.Join(dir, "cache")
	if r.accessLog != "" {
		r.accessLog = filepath.Join(dir, "logs", "site-access.log")
	}
	if r.errorLog != "" {
		r.errorLog = filepath.Join(dir, "logs", "site-error.log")
	}
	var site bytes.Buffer
	if err := Print(&site, r.render()); err != nil {
		return res, err
	}
	sitePath := filepath.Join(dir, "conf", "site.conf")
	if err := os.WriteFile(sitePath, site.Bytes(), 0o644); err != nil {
		return res, fmt.Errorf("nginxconf: check: %w", err)
	}
	mime := opt.MimeTypes
	if mime == "" {
		if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
			mime = "/etc/nginx/mime.types"
		}
	}
	main := MainConfig(dir, mime, sitePath, false)
	conf := filepath.Join(dir, "conf", "nginx.conf")
	if err := os.WriteFile(conf, main, 0o644); err != nil {
		return res, fmt.Errorf("nginxconf: check: %w", err)
	}
	errLog := filepath.Join(dir, "logs", "error.log")
	out, runErr := exec.CommandContext(ctx, bin, "-t", "-q", "-p", dir+"/", "-c", conf, "-e", errLog).CombinedOutput()
	res.Output = strings.TrimSpace(strings.ReplaceAll(string(out), dir, "<prefix>"))
	for _, l := range strings.Split(res.Output, "\n") {
		if strings.Contains(l, "[warn]") {
			res.Warnings = append(res.Warnings, l)
		}
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("nginxconf: check: %w", ctx.Err())
		}
		return res, fmt.Errorf("%w:\n%s", ErrCheck, res.Output)
	}
	return res, nil
}

func findNginx(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", fmt.Errorf("%w: nginx is not installed (Debian package nginx); install it or drop --check", ErrCheck)
}

// InstalledVersion runs `nginx -v` (bin, or nginx from PATH or /usr/sbin when empty) and
// parses its answer, for rendering a site for the nginx that will load it.
func InstalledVersion(ctx context.Context, bin string) (Version, error) {
	bin, err := findNginx(bin)
	if err != nil {
		return Version{}, err
	}
	out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput()
	if err != nil {
		return Version{}, fmt.Errorf("%w: %s -v: %v: %s", ErrCheck, bin, err, strings.TrimSpace(string(out)))
	}
	v, err := ParseVersion(strings.TrimSpace(string(out)))
	if err != nil {
		return Version{}, fmt.Errorf("%s -v: %w", bin, err)
	}
	return v, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// MainConfig returns a minimal main nginx.conf for a temporary prefix dir that includes
// the site file: pid, logs and temp paths inside dir, mime types from mimeTypes (if not
// empty), `daemon off`, one worker. With runAsRoot the workers run as root (tests in
// 0700 directories); otherwise as nginx's default user.
func MainConfig(dir, mimeTypes, site string, runAsRoot bool) []byte {
	var http []Directive
	if mimeTypes != "" {
		http = append(http, D("include", mimeTypes))
	}
	http = append(http,
		D("default_type", "application/octet-stream"),
		D("access_log", filepath.Join(dir, "logs", "access.log")),
		D("client_body_temp_path", filepath.Join(dir, "tmp", "body")),
		D("proxy_temp_path", filepath.Join(dir, "tmp", "proxy")),
		D("fastcgi_temp_path", filepath.Join(dir, "tmp", "fastcgi")),
		D("uwsgi_temp_path", filepath.Join(dir, "tmp", "uwsgi")),
		D("scgi_temp_path", filepath.Join(dir, "tmp", "scgi")),
		D("include", site),
	)
	var main []Directive
	if runAsRoot {
		main = append(main, D("user", "root", "root"))
	}
	main = append(main,
		D("worker_processes", "1"),
		D("daemon", "off"),
		D("pid", filepath.Join(dir, "logs", "nginx.pid")),
		D("error_log", filepath.Join(dir, "logs", "error.log"), "info"),
		B("events", nil, D("worker_connections", "256")),
		B("http", nil, http...),
	)
	var b bytes.Buffer
	if err := Print(&b, main); err != nil {
		// Only reachable with control characters in dir or site, which callers create.
		return []byte("# " + err.Error() + "\n")
	}
	return b.Bytes()
}
