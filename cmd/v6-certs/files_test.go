package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

// TestMain lets a test run this binary as v6-certs itself (a real second process,
// for signals and for other users): V6CERTS_TEST_MAIN=1 ./v6-certs.test ARGS…
func TestMain(m *testing.M) {
	if os.Getenv("V6CERTS_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// selfBinary copies the test binary where any user can run it.
func selfBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	p := filepath.Join(testenv.TempDir(t), "v6-certs")
	require.NoError(t, os.WriteFile(p, b, 0o755))
	return p
}

// offlineStore installs not-due self-signed lineages (no ARI: no request) with the
// library, the way obtain would have left them.
func offlineStore(t *testing.T, names ...string) string {
	t.Helper()
	root := testenv.TempDir(t)
	st := &acme.Store{Root: root}
	for _, n := range names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), DNSNames: []string{n},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		require.NoError(t, err)
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		v := acme.Version{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			Chain: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			Key:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
		_, err = st.Install(n, v, acme.Meta{Server: "https://[::1]:9/dir", NoARI: true, Challenge: acme.Challenge{Type: acme.HTTP01, Webroot: "/var/www/acme"}}, time.Now())
		require.NoError(t, err)
		require.NoError(t, os.Remove(filepath.Join(root, "renewal", n+acme.PendingSuffix)))
	}
	return root
}

// TestRenewAndListRefuseAMistypedDir (issue 12.2): a mistyped --dir is created by
// neither renew nor list: exit 2 with the path; an existing directory without any
// lineage or account is exit 1 with the fix; -v changes nothing.
func TestRenewAndListRefuseAMistypedDir(t *testing.T) {
	t.Parallel()
	parent := testenv.TempDir(t)
	typo := filepath.Join(parent, "letsencrpyt")
	for _, args := range [][]string{{"renew", "--dir", typo}, {"renew", "-v", "--dir", typo, "--reload-nginx"}, {"list", "--dir", typo}, {"list", "--json", "--dir", typo}} {
		code, _, stderr := runCLI(args...)
		assert.Equal(t, 2, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, typo+" does not exist", args)
		assert.Contains(t, stderr, "check --dir", args)
		assert.NoDirExists(t, typo, args)
	}
	empty := filepath.Join(parent, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	for _, args := range [][]string{{"renew", "--dir", empty}, {"list", "--dir", empty}} {
		code, _, stderr := runCLI(args...)
		assert.Equal(t, 1, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, "holds no v6-certs certificate and no account", args)
	}
	ents, _ := os.ReadDir(empty)
	assert.Empty(t, ents)
}

// TestListWarnsAboutABrokenKey (issue 20): list exits 1 and names the key that does
// not match its certificate.
func TestListWarnsAboutABrokenKey(t *testing.T) {
	t.Parallel()
	root := offlineStore(t, "ok.test", "broken.test")
	code, _, stderr := runCLI("list", "--dir", root)
	require.Equal(t, 0, code, stderr)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	require.NoError(t, os.WriteFile(filepath.Join(root, "archive", "broken.test", "privkey1.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	code, out, stderr := runCLI("list", "--dir", root)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "broken.test")
	assert.Contains(t, stderr, "lineage broken.test: warning: private key "+filepath.Join(root, "live", "broken.test", "privkey.pem")+" does not match certificate")
	assert.Contains(t, stderr, "the next renew replaces certificate and key")
}

// TestNonRootSeesPermissionDenied (issue 20): as another user, list and renew say
// "permission denied", not "damaged".
func TestNonRootSeesPermissionDenied(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	setpriv := testenv.Tool(t, "setpriv", "util-linux")
	bin := selfBinary(t)
	root := offlineStore(t, "a.test", "b.test")
	for _, cmd := range []string{"list", "renew"} {
		c := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, cmd, "--dir", root)
		c.Env = append(os.Environ(), "V6CERTS_TEST_MAIN=1")
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s: %s %s", cmd, out.String(), errb.String())
		assert.Equal(t, 1, ee.ExitCode(), cmd)
		assert.Contains(t, errb.String(), "permission denied", cmd)
		assert.NotContains(t, errb.String(), "damaged", cmd)
		want := 2 // list: one line per lineage
		if cmd == "renew" {
			want = 1 // renew: the lock, before anything
		}
		assert.Equal(t, want, strings.Count(errb.String(), "permission denied: run v6-certs as root"), "%s: %s", cmd, errb.String())
	}
}

// TestSignalStopsARunAndReleasesTheLock (issue 20): SIGTERM while the deploy step
// hangs stops v6-certs promptly and the next run gets the lock.
func TestSignalStopsARunAndReleasesTheLock(t *testing.T) {
	t.Parallel()
	bin := selfBinary(t)
	root := offlineStore(t, "a.test")
	// An earlier run's deploy is owed: renew deploys even though nothing is due.
	st := &acme.Store{Root: root}
	require.NoError(t, os.WriteFile(filepath.Join(root, "renewal", "a.test"+acme.PendingSuffix),
		[]byte(`{"format": 1, "name": "a.test", "version": 1}`+"\n"), 0o644))
	started := filepath.Join(testenv.TempDir(t), "started")
	c := exec.Command(bin, "renew", "--dir", root, "--deploy-hook", "touch "+started+"; exec sleep 60")
	c.Env = append(os.Environ(), "V6CERTS_TEST_MAIN=1")
	var errb bytes.Buffer
	c.Stdout, c.Stderr = io.Discard, &errb
	require.NoError(t, c.Start())
	require.Eventually(t, func() bool { _, err := os.Stat(started); return err == nil }, 10*time.Second, 20*time.Millisecond)
	// While it runs, another run with --no-wait finds the lock held, names the holder
	// and exits 0 at once (the holder does the work).
	code, _, stderr := runCLI("renew", "--dir", root, "--no-wait")
	require.Equal(t, 0, code)
	require.Contains(t, stderr, "another v6-certs run holds the lock")
	require.Contains(t, stderr, fmt.Sprintf("held by PID %d", c.Process.Pid))

	t0 := time.Now()
	require.NoError(t, c.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 1, ee.ExitCode(), errb.String())
	case <-time.After(15 * time.Second):
		_ = c.Process.Kill()
		t.Fatalf("v6-certs ignored SIGTERM: %s", errb.String())
	}
	assert.Less(t, time.Since(t0), 8*time.Second)
	// The lock is free again, and the deploy is still owed.
	unlock, err := st.Lock(t.Context(), 0)
	require.NoError(t, err)
	unlock()
	p, err := st.ReadPending("a.test")
	require.NoError(t, err)
	assert.Equal(t, 1, p.Failures)
}

// TestCLIExitCodesAndDeployOutputAgainstPebble: (issue 12.8) obtain without a deploy
// step leaves no marker and list says nothing about a deploy; with --deploy-hook the
// output names the hook that ran, not a check or a reload that did not. (issue 20) a
// lineage whose metadata is bad fails with exit 1 while the others renew (it was 2,
// "usage"), and a live key that does not match is renewed by a plain renew.
func TestCLIExitCodesAndDeployOutputAgainstPebble(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	dir := testenv.TempDir(t)
	common := []string{"--dir", dir, "--server", p.DirURL, "--ca-cert", p.CAFile}
	listen := "[::1]:" + strconv.Itoa(p.HTTPPort)

	code, out, stderr := runCLI(append([]string{"obtain", "--separate", "-d", "a.exit.test", "-d", "b.exit.test", "--listen", listen}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, out, "deployed")
	markers, _ := filepath.Glob(filepath.Join(dir, "renewal", "*"+acme.PendingSuffix))
	assert.Empty(t, markers, "nothing to deploy: no marker")
	code, out, stderr = runCLI(append([]string{"list"}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, out, "pending")
	assert.NotContains(t, out, "ended before its deploy")

	hookLog := filepath.Join(testenv.TempDir(t), "hook")
	code, out, stderr = runCLI(append([]string{"obtain", "-d", "c.exit.test", "--listen", listen, "--deploy-hook", "echo ran >> " + hookLog}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "deployed: ran the deploy hook: echo ran >> "+hookLog+"\n")
	assert.NotContains(t, out, "check passed")
	assert.NotContains(t, out, "reloaded")
	b, _ := os.ReadFile(hookLog)
	assert.Equal(t, "ran\n", string(b))
	code, out, stderr = runCLI(append([]string{"renew", "--force", "--cert-name", "c.exit.test", "--check-cmd", "true", "--deploy-hook", "true"}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "deployed: check passed: true, ran the deploy hook: true\n")

	// b's metadata asks for a key type that does not exist: b fails, a and c renew, exit 1.
	metaPath := filepath.Join(dir, "renewal", "b.exit.test"+acme.MetaSuffix)
	mb, err := os.ReadFile(metaPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(metaPath, bytes.Replace(mb, []byte(`"key_type": "ec256"`), []byte(`"key_type": "dsa"`), 1), 0o644))
	code, out, stderr = runCLI(append([]string{"renew", "--force"}, common...)...)
	assert.Equal(t, 1, code, "some failed, not usage: %s", stderr)
	assert.Contains(t, out, "renewed  a.exit.test")
	assert.Contains(t, out, "renewed  c.exit.test")
	assert.Contains(t, stderr, "failed   b.exit.test")
	require.NoError(t, os.WriteFile(metaPath, mb, 0o644))

	// a's live key replaced by another key: list warns (exit 1), renew renews it.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	keyPath, err := filepath.EvalSymlinks(filepath.Join(dir, "live", "a.exit.test", "privkey.pem"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	code, _, stderr = runCLI(append([]string{"list"}, common...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "does not match certificate")
	code, out, stderr = runCLI(append([]string{"renew"}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "renewed  a.exit.test")
	assert.NotContains(t, out, "b.exit.test")
	code, _, stderr = runCLI(append([]string{"list"}, common...)...)
	assert.Equal(t, 0, code, stderr)
}

// TestListAndRenewReportADamagedChain (issue 20): nginx serves fullchain.pem with
// privkey.pem. A FIFO there, or a fullchain.pem copied from another lineage, used to
// leave list at exit 0 and renew skipping the lineage. Now list names the file and
// the fix (exit 1), and renew treats the lineage as it treats a broken key: it is
// renewed at once (here the CA is a closed port, so the attempt fails: exit 1).
func TestListAndRenewReportADamagedChain(t *testing.T) {
	t.Parallel()
	root := offlineStore(t, "ok.test", "fifo.test", "other.test")
	full := filepath.Join(root, "archive", "fifo.test", "fullchain1.pem")
	require.NoError(t, os.Remove(full))
	require.NoError(t, syscall.Mkfifo(full, 0o644))
	b, err := os.ReadFile(filepath.Join(root, "archive", "ok.test", "fullchain1.pem"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "archive", "other.test", "fullchain1.pem"), b, 0o644))
	fifoLive := filepath.Join(root, "live", "fifo.test", "fullchain.pem")
	otherLive := filepath.Join(root, "live", "other.test", "fullchain.pem")

	code, out, stderr := runCLI("list", "--dir", root)
	assert.Equal(t, 1, code, stderr)
	for _, n := range []string{"ok.test", "fifo.test", "other.test"} {
		assert.Contains(t, out, n, "a damaged chain still lists the lineage")
	}
	assert.Contains(t, stderr, "lineage fifo.test: warning: "+fifoLive+" is a FIFO (named pipe)")
	assert.Contains(t, stderr, "lineage other.test: warning: "+otherLive+" begins with the certificate of ok.test")
	assert.Equal(t, 2, strings.Count(stderr, "the next renew replaces the lineage's certificate files"), stderr)
	assert.NotContains(t, stderr, "lineage ok.test")

	code, out, stderr = runCLI("renew", "--dir", root, "-v")
	assert.Equal(t, 1, code, "a damaged lineage is never skipped with exit 0: %s", stderr)
	assert.Contains(t, out, "kept     ok.test")
	assert.Contains(t, stderr, "failed   fifo.test")
	assert.Contains(t, stderr, "failed   other.test")
	assert.Contains(t, stderr, "warning  fifo.test: "+fifoLive+" is a FIFO (named pipe)")
	assert.Contains(t, stderr, "warning  other.test: "+otherLive+" begins with the certificate of ok.test")
	assert.NotContains(t, stderr, "ok.test:")
}

// TestRenewReportsANonRegularMarker (issue 20): a FIFO where a deploy-pending marker
// belongs made list warn while renew said nothing and exited 0. renew now fails that
// lineage naming the marker and the fix (exit 1), with or without a deploy step, and
// still handles the others; the FIFO is left where it is.
func TestRenewReportsANonRegularMarker(t *testing.T) {
	t.Parallel()
	root := offlineStore(t, "ok.test", "fifo.test")
	marker := filepath.Join(root, "renewal", "fifo.test"+acme.PendingSuffix)
	require.NoError(t, syscall.Mkfifo(marker, 0o644))
	for _, args := range [][]string{{"renew", "--dir", root, "-v"}, {"renew", "--dir", root, "-v", "--deploy-hook", "true"}} {
		start := time.Now()
		code, out, stderr := runCLI(args...)
		assert.Less(t, time.Since(start), 5*time.Second, "the FIFO blocked %v", args)
		assert.Equal(t, 1, code, "%v: %s", args, stderr)
		assert.Contains(t, out, "kept     ok.test", args)
		assert.Contains(t, stderr, "failed   fifo.test: not a regular file", args)
		assert.Contains(t, stderr, "deploy-pending marker "+marker+" is a FIFO (named pipe)", args)
		assert.Contains(t, stderr, "rm -r "+marker, args)
		assert.NotContains(t, out, "deployed", args)
		fi, err := os.Lstat(marker)
		require.NoError(t, err)
		assert.NotZero(t, fi.Mode()&os.ModeNamedPipe, "the FIFO is left for the admin")
	}
	code, _, stderr := runCLI("list", "--dir", root)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "lineage fifo.test: warning: deploy-pending marker "+marker+" is a FIFO (named pipe)")
	assert.Contains(t, stderr, "rm -r "+marker)
}

// TestSignalWhileWaitingForTheLock (issue 20): SIGINT or SIGTERM while renew waits
// for another run's lock used to print a bare "context canceled". It says what it
// waited for and that nothing was done, and exits 1 (the lock wait failed).
func TestSignalWhileWaitingForTheLock(t *testing.T) {
	t.Parallel()
	bin := selfBinary(t)
	root := offlineStore(t, "a.test")
	st := &acme.Store{Root: root}
	unlock, err := st.Lock(t.Context(), 0)
	require.NoError(t, err)
	defer unlock()
	lock := filepath.Join(root, acme.LockName)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		errPath := filepath.Join(testenv.TempDir(t), "stderr")
		errf, err := os.Create(errPath)
		require.NoError(t, err)
		c := exec.Command(bin, "renew", "--dir", root)
		c.Env = append(os.Environ(), "V6CERTS_TEST_MAIN=1")
		c.Stdout, c.Stderr = io.Discard, errf
		require.NoError(t, c.Start())
		errf.Close()
		waiting := fmt.Sprintf("waiting for PID %d, which holds %s", os.Getpid(), lock)
		require.Eventually(t, func() bool { b, _ := os.ReadFile(errPath); return strings.Contains(string(b), waiting) },
			10*time.Second, 20*time.Millisecond, "renew never said it waits")
		require.NoError(t, c.Process.Signal(sig))
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			_ = c.Process.Kill()
			t.Fatalf("%v: v6-certs kept waiting for the lock", sig)
		}
		b, _ := os.ReadFile(errPath)
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%v: %s", sig, b)
		assert.Equal(t, 1, ee.ExitCode(), "%v: %s", sig, b)
		what := map[syscall.Signal]string{syscall.SIGINT: "interrupt", syscall.SIGTERM: "terminated"}[sig]
		assert.Contains(t, string(b), fmt.Sprintf("v6-certs renew: interrupted (%s signal received) while waiting for the lock %s held by PID %d: nothing was done\n", what, lock, os.Getpid()), sig)
		assert.NotContains(t, string(b), "context canceled", sig)
	}
}

// TestDamagedChainIsRenewedAgainstPebble (issue 20): a fullchain.pem copied from
// another lineage and a FIFO as chain.pem make list exit 1; a plain renew (nothing
// due) replaces both lineages' files, as it does for a broken key, and nginx's pair
// loads again.
func TestDamagedChainIsRenewedAgainstPebble(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	dir := testenv.TempDir(t)
	common := []string{"--dir", dir, "--server", p.DirURL, "--ca-cert", p.CAFile}
	listen := "[::1]:" + strconv.Itoa(p.HTTPPort)
	code, _, stderr := runCLI(append([]string{"obtain", "--separate", "-d", "a.chain.test", "-d", "b.chain.test", "-d", "c.chain.test", "--listen", listen}, common...)...)
	require.Equal(t, 0, code, stderr)
	live := func(n, f string) string { return filepath.Join(dir, "live", n, f) }

	// a: c's fullchain written over it (through the link, as cp would); b: chain.pem a FIFO.
	b, err := os.ReadFile(live("c.chain.test", "fullchain.pem"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(live("a.chain.test", "fullchain.pem"), b, 0o644))
	chain, err := filepath.EvalSymlinks(live("b.chain.test", "chain.pem"))
	require.NoError(t, err)
	require.NoError(t, os.Remove(chain))
	require.NoError(t, syscall.Mkfifo(chain, 0o644))
	_, err = tls.LoadX509KeyPair(live("a.chain.test", "fullchain.pem"), live("a.chain.test", "privkey.pem"))
	require.Error(t, err, "what nginx would load is broken")

	code, _, stderr = runCLI(append([]string{"list"}, common...)...)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "lineage a.chain.test: warning: "+live("a.chain.test", "fullchain.pem")+" begins with the certificate of c.chain.test")
	assert.Contains(t, stderr, "lineage b.chain.test: warning: "+live("b.chain.test", "chain.pem")+" is a FIFO (named pipe)")

	code, out, stderr := runCLI(append([]string{"renew"}, common...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "renewed  a.chain.test")
	assert.Contains(t, out, "renewed  b.chain.test")
	assert.NotContains(t, out, "c.chain.test")
	code, _, stderr = runCLI(append([]string{"list"}, common...)...)
	assert.Equal(t, 0, code, stderr)
	_, err = tls.LoadX509KeyPair(live("a.chain.test", "fullchain.pem"), live("a.chain.test", "privkey.pem"))
	require.NoError(t, err)
}
