package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/v6kit/v6kit/internal/pgconnect"
)

// PostgresBinDir is where Debian's postgresql-15 package puts the server binaries.
const PostgresBinDir = "/usr/lib/postgresql/15/bin"

// PostgresSuperPassword is the password of the "postgres" superuser of every test cluster.
const PostgresSuperPassword = "v6kit-test-superuser"

// Postgres is a throwaway PostgreSQL 15 cluster started by [StartPostgres]: a copy of a
// template cluster, listening on ::1, 127.0.0.1 and a socket in Dir, with
// log_connections on and its log in Log.
type Postgres struct {
	Dir     string // cluster root, also the socket directory
	DataDir string // Dir/data
	HBAFile string // DataDir/pg_hba.conf
	Port    int
	Log     string // the server's stderr (its log)
	Proc    *Process
}

// DSN is the superuser's connection string over the socket.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("host=%s port=%d user=postgres password=%s dbname=postgres sslmode=disable", p.Dir, p.Port, PostgresSuperPassword)
}

// Conn opens a superuser connection over the socket, closed at cleanup.
func (p *Postgres) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := p.connect(ctx)
	if err != nil {
		t.Fatalf("connect to test cluster: %v\n%s", err, p.LogText())
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// connect opens a superuser connection with [Postgres.DSN], built from explicit settings
// only (PG* environment variables and ~/.pgpass are ignored: see [PostgresHostileEnv]).
func (p *Postgres) connect(ctx context.Context) (*pgx.Conn, error) {
	params, err := pgconnect.ParseDSN(p.DSN())
	if err != nil {
		return nil, err
	}
	cfg, err := params.Config()
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// LogText returns the server log so far.
func (p *Postgres) LogText() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// pgTemplate is the cluster initdb'ed once per test binary and copied per test.
var pgTemplate struct {
	once sync.Once
	dir  string
	err  error
}

// PostgresMain runs the tests of a package that uses [StartPostgres] and then removes the
// template cluster: func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }.
func PostgresMain(m *testing.M) int {
	code := m.Run()
	if pgTemplate.dir != "" {
		_ = os.RemoveAll(pgTemplate.dir)
	}
	return code
}

// postgresCred returns the credential to run PostgreSQL with: the postgres user when
// running as root (the server refuses root), else nil (the current user).
func postgresCred() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, os.Getuid(), os.Getgid(), nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root needs the postgres user (Debian package postgresql-15): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

func postgresCmd(name string, args ...string) (*exec.Cmd, error) {
	cred, _, _, err := postgresCred()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(PostgresBinDir, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	return cmd, nil
}

// postgresDir makes a short temp dir owned by the server's user.
func postgresDir(t testing.TB) string {
	t.Helper()
	d := TempDir(t)
	_, uid, gid, err := postgresCred()
	if err != nil {
		Unavailable(t, "%v", err)
	}
	if err := os.Chown(d, uid, gid); err != nil {
		t.Fatalf("chown %s: %v", d, err)
	}
	return d
}

func initTemplate() (string, error) {
	d, err := os.MkdirTemp("", "v6k-pgt-")
	if err != nil {
		return "", err
	}
	_ = os.Chmod(d, 0o755)
	_, uid, gid, err := postgresCred()
	if err != nil {
		return d, err
	}
	pw := filepath.Join(d, "pw")
	if err := os.WriteFile(pw, []byte(PostgresSuperPassword+"\n"), 0o600); err != nil {
		return d, err
	}
	if err := errors.Join(os.Chown(d, uid, gid), os.Chown(pw, uid, gid)); err != nil {
		return d, err
	}
	cmd, err := postgresCmd("initdb", "-D", filepath.Join(d, "data"), "-U", "postgres", "--pwfile="+pw,
		"-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions")
	if err != nil {
		return d, err
	}
	out, err := cmd.CombinedOutput()
	_ = os.Remove(pw)
	if err != nil {
		return d, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return d, nil
}

// StartPostgres starts a fresh PostgreSQL 15 cluster for the test: the template cluster
// (initdb'ed once per test binary) is copied with cp -a, then started as a child on a
// free port with listen_addresses=127.0.0.1,::1, log_connections=on and no fsync; it is
// stopped (SIGINT, fast shutdown) and removed at cleanup. The superuser "postgres" logs
// in with [PostgresSuperPassword] (scram-sha-256 everywhere, as initdb -A sets it).
//
// settings ("name=value") are passed as -c after the defaults, so they override them
// (for example "logging_collector=on"; Log then holds only the collector's start-up lines).
func StartPostgres(t testing.TB, settings ...string) *Postgres {
	t.Helper()
	p, logf := newPostgresCluster(t)
	for attempt := 0; ; attempt++ {
		p.Port = FreePort(t)
		cmd, err := postgresCmd("postgres", append(p.serverArgs(), "-c", "listen_addresses=127.0.0.1,::1")...)
		if err != nil {
			Unavailable(t, "%v", err)
		}
		for _, kv := range settings {
			cmd.Args = append(cmd.Args, "-c", kv)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		p.Proc = Start(t, cmd, syscall.SIGINT)
		err = p.waitReady()
		if err == nil {
			return p
		}
		if attempt < 2 && strings.Contains(p.LogText(), "Address already in use") {
			continue // lost the free port to another process: try a new one
		}
		t.Fatalf("PostgreSQL did not start: %v\n%s", err, p.LogText())
	}
}

// newPostgresCluster checks the tools, makes the template cluster once per test binary
// and copies it into a fresh directory for this test, with the server log opened for
// appending (closed at cleanup). The caller starts the server.
func newPostgresCluster(t testing.TB) (*Postgres, *os.File) {
	t.Helper()
	Tool(t, "initdb", "postgresql-15", PostgresBinDir)
	Tool(t, "postgres", "postgresql-15", PostgresBinDir)
	if _, _, _, err := postgresCred(); err != nil {
		Unavailable(t, "%v", err)
	}
	pgTemplate.once.Do(func() { pgTemplate.dir, pgTemplate.err = initTemplate() })
	if pgTemplate.err != nil {
		t.Fatalf("template cluster: %v", pgTemplate.err)
	}
	d := postgresDir(t)
	p := &Postgres{Dir: d, DataDir: filepath.Join(d, "data"), Log: filepath.Join(d, "server.log")}
	p.HBAFile = filepath.Join(p.DataDir, "pg_hba.conf")
	if out, err := exec.Command("cp", "-a", filepath.Join(pgTemplate.dir, "data"), p.DataDir).CombinedOutput(); err != nil {
		t.Fatalf("copy template cluster: %v\n%s", err, out)
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("server log: %v", err)
	}
	t.Cleanup(func() { logf.Close() })
	return p, logf
}

// serverArgs are the postgres arguments every test server runs with: its data directory,
// port and socket directory, no durability (throwaway data) and log_connections, whose
// lines name the pg_hba.conf line a login matched.
func (p *Postgres) serverArgs() []string {
	return []string{"-D", p.DataDir, "-p", strconv.Itoa(p.Port), "-k", p.Dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "log_connections=on", "-c", "logging_collector=off", "-c", "shared_buffers=16MB"}
}

func (p *Postgres) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		c, err := p.connect(ctx)
		if err == nil {
			return c.Close(ctx)
		}
		select {
		case <-p.Proc.Done():
			return fmt.Errorf("postgres exited: %v", p.Proc.Err())
		case <-ctx.Done():
			return fmt.Errorf("not ready after 90 s: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PostgresConfCheck checks a postgresql.conf snippet offline with the real server
// binary: `postgres --config-file=F -D <empty dir> -C NAME` reports unknown names, bad
// units and out-of-range values. It returns the value postgres resolves for name, or an
// error holding postgres' messages.
func PostgresConfCheck(t testing.TB, snippet []byte, name string) (string, error) {
	t.Helper()
	Tool(t, "postgres", "postgresql-15", PostgresBinDir)
	d := postgresDir(t)
	conf := filepath.Join(d, "candidate.conf")
	data := filepath.Join(d, "data")
	if err := os.WriteFile(conf, snippet, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	_, uid, gid, _ := postgresCred()
	if err := os.Chown(data, uid, gid); err != nil {
		t.Fatal(err)
	}
	cmd, err := postgresCmd("postgres", "--config-file="+conf, "-D", data, "-C", name)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("postgres -C %s: %v\n%s", name, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}
