package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/report"
)

// Kinds are the four PEM files of a lineage version, in certbot's names.
var kinds = [...]string{"cert", "chain", "fullchain", "privkey"}

// MetaSuffix ends the name of v6-certs' renewal metadata in renewal/ (certbot's own
// files end in .conf and are left alone).
const MetaSuffix = ".v6-certs.json"

// Store is a configuration directory in certbot's layout:
//
//	archive/NAME/{cert,chain,fullchain,privkey}N.pem   one set per issuance, privkey 0600
//	live/NAME -> .NAME.vN                               one rename switches versions
//	live/.NAME.vN/{cert,chain,fullchain,privkey}.pem -> ../../archive/NAME/*N.pem
//	renewal/NAME.v6-certs.json                          v6-certs' metadata
//	renewal/NAME.v6-certs.deploy-pending                switched, deploy not yet passed
//	renewal/NAME.conf                                   certbot's (import reads it, sets autorenew = False)
//	accounts/HOST/PATH/v6-certs/                        ACME account, key 0600
//
// Paths such as live/NAME/fullchain.pem stay what nginx and certbot users expect. A
// version switch replaces the live/NAME symlink with one rename(2), so a reader that
// opens live/NAME once sees either the old or the new certificate and key, never a mix.
type Store struct {
	// Root is the directory. Zero: /etc/letsencrypt.
	Root string
	// Keep is how many versions older than the live one each lineage keeps when
	// [Store.Prune] runs (the [Client] prunes after every switch). Zero: 5
	// ([DefaultKeep], as certbot). Negative: keep every version forever.
	Keep int
	// Now is the clock for the deploy-pending markers [Store.Repair] writes. Nil: time.Now.
	Now func() time.Time

	// noPending is set on the store of a Client without a deploy step: a switch then
	// writes no deploy-pending marker, as there is nothing to deploy.
	noPending bool
	// waiting, if set, is told once that another run (pid, 0 if unknown) holds the lock.
	waiting func(lock string, pid int)
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) root() string {
	if s.Root == "" {
		return DefaultRoot
	}
	return s.Root
}

// Path joins elements under the root.
func (s *Store) Path(elem ...string) string {
	return filepath.Join(append([]string{s.root()}, elem...)...)
}

// LiveDir is the live directory of a lineage (a symlink to the current version).
func (s *Store) LiveDir(name string) string { return s.Path("live", name) }

// Meta is v6-certs' renewal metadata for one lineage, stored as JSON in
// renewal/NAME.v6-certs.json.
type Meta struct {
	// Format is the file format version (1).
	Format int `json:"format"`
	// Names are the identifiers the certificate covers, as ordered.
	Names []string `json:"names"`
	// Server is the ACME directory URL.
	Server string `json:"server"`
	// Account is the ACME account URL that ordered the certificate.
	Account string `json:"account,omitempty"`
	// KeyType is the key type of new keys for this lineage.
	KeyType KeyType `json:"key_type"`
	// Profile is the ACME profile ordered ("" = the CA's default).
	Profile string `json:"profile,omitempty"`
	// Challenge is how the names are validated (credentials are never stored).
	Challenge Challenge `json:"challenge"`
	// ARI is the last renewal-information answer, cached until its Retry-After.
	ARI *ARIState `json:"ari,omitempty"`
	// NoARI records that the CA advertised no renewalInfo at the last contact.
	NoARI bool `json:"no_ari,omitempty"`
	// ARIRetry is set after a failed ARI check: don't ask again before it.
	ARIRetry time.Time `json:"ari_retry,omitzero"`
	// Failures counts consecutive failed renewals; NextAttempt backs them off.
	Failures int `json:"failures,omitempty"`
	// NextAttempt is the earliest time to try again after a failure.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// LastError is the last failure's message.
	LastError string `json:"last_error,omitempty"`
	// PairStamp identifies the files installed (inode, size and change time of
	// cert.pem, privkey.pem, chain.pem and fullchain.pem, in that order) after they were
	// checked together; while live/NAME's files still match it, Load skips re-parsing
	// the key and the chain (a nothing-due renew stays a stat per file). Any rewrite,
	// truncation or replacement changes it and those files are checked. A stamp of an
	// older v6-certs covers cert.pem and privkey.pem only: the chain is then checked on
	// every Load until the next renewal.
	PairStamp string `json:"pair_stamp,omitempty"`
	// Source is "v6-certs" or "certbot" (imported).
	Source string `json:"source"`
	// Updated is when the metadata was last written.
	Updated time.Time `json:"updated"`
}

// ARIState is a cached ACME Renewal Information answer (RFC 9773).
type ARIState struct {
	// CertID is the ARI certificate identifier it answers for.
	CertID string `json:"cert_id"`
	// Start and End bound the suggested renewal window.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// RenewAt is the random time inside the window chosen for this certificate.
	RenewAt time.Time `json:"renew_at"`
	// ExplanationURL is the CA's explanation, if any.
	ExplanationURL string `json:"explanation_url,omitempty"`
	// CheckedAt is when the answer was fetched; NextCheck is CheckedAt + Retry-After.
	CheckedAt time.Time `json:"checked_at"`
	NextCheck time.Time `json:"next_check"`
}

// Lineage is one certificate lineage as found on disk.
type Lineage struct {
	// Name is the lineage name (directory under live/ and archive/).
	Name string `json:"name"`
	// Version is the archive number live/NAME points to.
	Version int `json:"version"`
	// Names are the certificate's DNS names and IP addresses.
	Names []string `json:"names"`
	// NotBefore and NotAfter bound the current certificate's validity.
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Serial is the current certificate's serial number in hex.
	Serial string `json:"serial"`
	// Versions is how many versions the lineage holds on disk (live, older kept ones,
	// and any newer one not switched in yet). Set by [Store.List]; zero from Load.
	Versions int `json:"versions,omitempty"`
	// Pending is the lineage's deploy-pending marker: a version went live and no deploy
	// step has passed since (the next renew deploys it). Set by [Store.List]; nil when
	// there is none, and always nil from Load.
	Pending *PendingDeploy `json:"pending_deploy,omitempty"`
	// KeyProblem says what is wrong with the live private key, if anything: missing,
	// truncated, unparsable or not the certificate's key (then KeyBroken is set and
	// renew replaces certificate and key although nothing is due), or not readable by
	// this user (KeyBroken unset: not checked). Set by Load and List.
	KeyProblem string `json:"key_problem,omitempty"`
	// KeyBroken reports that the live key cannot serve the live certificate.
	KeyBroken bool `json:"key_broken,omitempty"`
	// ChainProblems say what is wrong with the live fullchain.pem (what nginx serves
	// with privkey.pem) and chain.pem, one entry per problem, each naming its file: not
	// a regular file, missing, truncated or unparsable, a fullchain.pem whose first
	// certificate is not cert.pem (another lineage's), or one that is not cert.pem
	// followed by chain.pem. ChainBroken is then set and renew replaces the lineage's
	// files although nothing is due, as for a broken key; an entry without ChainBroken
	// is a file this user may not read (not checked). Set by Load and List.
	ChainProblems []string `json:"chain_problems,omitempty"`
	// ChainBroken reports that fullchain.pem or chain.pem cannot serve the live
	// certificate.
	ChainBroken bool `json:"chain_broken,omitempty"`
	// Meta is the renewal metadata.
	Meta Meta `json:"meta"`
	// Leaf is the parsed current certificate.
	Leaf *x509.Certificate `json:"-"`
}

// Version is the PEM material of one issuance.
type Version struct {
	// Cert is the leaf certificate, Chain the issuer chain, Key the private key (PEM).
	Cert, Chain, Key []byte
}

// Fullchain returns leaf + chain, what nginx's ssl_certificate points to.
func (v Version) Fullchain() []byte {
	out := append([]byte{}, v.Cert...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, v.Chain...)
}

// SplitBundle splits a PEM bundle (leaf first) into leaf and chain.
func SplitBundle(bundle []byte) (cert, chain []byte, err error) {
	block, rest := pem.Decode(bundle)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, errors.New("no PEM certificate in the bundle")
	}
	return pem.EncodeToMemory(block), bytes.TrimLeft(rest, "\n"), nil
}

// Check parses the version and checks that the key matches the leaf.
func (v Version) Check() (*x509.Certificate, error) {
	leaf, err := parseLeaf(v.Cert)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(v.Key)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, errors.New("private key does not match the certificate")
	}
	return leaf, nil
}

func parseLeaf(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	var k any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("unsupported private key type")
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		return k.(eq).Equal(b)
	}
	return false
}

func (s *Store) metaPath(name string) string { return s.Path("renewal", name+MetaSuffix) }

// ReadMeta reads a lineage's metadata.
func (s *Store) ReadMeta(name string) (Meta, error) {
	var m Meta
	b, err := readRegular(s.metaPath(name), false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return m, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return m, fileErr(err)
	}
	// json.Unmarshal first (one pass over the bytes, no Decoder buffer); only when it
	// fails, the Decoder, which accepts what follows the first value as it always has.
	if err := json.Unmarshal(b, &m); err != nil {
		m = Meta{}
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&m); err != nil {
			return m, fmt.Errorf("%w: %s: %v", ErrCorrupt, s.metaPath(name), err)
		}
	}
	if m.Format != 1 || len(m.Names) == 0 {
		return m, fmt.Errorf("%w: %s: unknown format %d or no names", ErrCorrupt, s.metaPath(name), m.Format)
	}
	return m, nil
}

// WriteMeta writes a lineage's metadata atomically.
func (s *Store) WriteMeta(name string, m Meta, now time.Time) error {
	if err := ValidateCertName(name); err != nil {
		return err
	}
	m.Format = 1
	m.Updated = now.UTC().Truncate(time.Second)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := checkReplaceable(s.metaPath(name)); err != nil {
		return err
	}
	_, err = fsutil.WriteFile(s.metaPath(name), b, fsutil.Options{Mode: 0o644, MkdirAll: true, DirMode: 0o755})
	return err
}

// liveVersion reads which version live/NAME points to: the N of .NAME.vN, or, for a
// certbot-made directory, the N its cert.pem link names.
func (s *Store) liveVersion(name string) (int, error) {
	live := s.LiveDir(name)
	target, err := os.Readlink(live)
	if errors.Is(err, fs.ErrPermission) {
		return 0, fileErr(err)
	}
	if err == nil {
		v, ok := strings.CutPrefix(target, "."+name+".v")
		if n, err := strconv.Atoi(v); ok && err == nil && n > 0 {
			return n, nil
		}
		return 0, fmt.Errorf("%w: %s points to %q, not to a version directory", ErrCorrupt, live, target)
	}
	// A real directory (certbot) with links certN.pem.
	t, err2 := os.Readlink(filepath.Join(live, "cert.pem"))
	if err2 != nil {
		if errors.Is(err2, fs.ErrNotExist) {
			if _, err3 := os.Lstat(live); errors.Is(err3, fs.ErrNotExist) {
				return 0, fmt.Errorf("%w: %s", ErrNotFound, live)
			}
		}
		return 0, fmt.Errorf("%w: %s: %v", ErrCorrupt, live, err2)
	}
	base := filepath.Base(t)
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(base, "cert"), ".pem"))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %s/cert.pem points to %q", ErrCorrupt, live, t)
	}
	return n, nil
}

// Load reads a lineage: metadata, current version and certificate. A lineage that
// cannot be read is reported with ErrCorrupt and is never written to.
func (s *Store) Load(name string) (Lineage, error) {
	return s.load(name, 0)
}

// load is Load with the live version already read by the caller (0: read it here),
// so a renew reads live/NAME's link once per lineage.
func (s *Store) load(name string, v int) (Lineage, error) {
	l := Lineage{Name: name}
	if err := ValidateCertName(name); err != nil {
		return l, err
	}
	m, err := s.ReadMeta(name)
	if err != nil {
		return l, err
	}
	l.Meta = m
	if v <= 0 {
		v, err = s.liveVersion(name)
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return l, fmt.Errorf("%w: %s has metadata but no live/%s", ErrCorrupt, name, name)
		}
		return l, err
	}
	l.Version = v
	certPath := filepath.Join(s.LiveDir(name), "cert.pem")
	b, cst, err := readRegularStat(certPath, true)
	if err != nil {
		return l, fileErr(err)
	}
	leaf, err := parseLeaf(b)
	if err != nil {
		return l, fmt.Errorf("%w: %s: %v", ErrCorrupt, certPath, err)
	}
	l.setLeaf(leaf)
	// The certificate's part of the stamp comes from the descriptor just read (the same
	// file the path names, links followed), so only the other three are stat'ed.
	keyOK, chainOK := stampCovers(m.PairStamp, cst, s.LiveDir(name))
	if !keyOK {
		l.KeyProblem, l.KeyBroken = s.checkLiveKey(name, leaf)
	}
	if !chainOK {
		l.ChainProblems, l.ChainBroken = s.checkLiveChain(name, leaf)
	}
	return l, nil
}

// filesStamp is the [Meta.PairStamp] of cert, key, chain and fullchain: "inode:size:ctime"
// of each (following links), joined by "/"; "" if one cannot be stat'ed.
func filesStamp(cert, key, chain, full string) string {
	parts := make([]string, 0, 4)
	for _, p := range []string{cert, key, chain, full} {
		sp := statPart(p)
		if sp == "" {
			return ""
		}
		parts = append(parts, sp)
	}
	return strings.Join(parts, "/")
}

// stampCovers reports whether stamp (a [Meta.PairStamp]) still names the live files of
// dir, cert.pem already stat'ed: key for cert.pem and privkey.pem, chain for cert.pem,
// chain.pem and fullchain.pem. An old two-part stamp never covers the chain.
func stampCovers(stamp string, cert *syscall.Stat_t, dir string) (key, chain bool) {
	if stamp == "" {
		return false, false
	}
	parts := strings.Split(stamp, "/")
	if len(parts) < 2 || parts[0] != stampPart(cert) {
		return false, false
	}
	same := func(part, file string) bool {
		sp := statPart(filepath.Join(dir, file))
		return sp != "" && sp == part
	}
	key = same(parts[1], "privkey.pem")
	chain = len(parts) == 4 && same(parts[2], "chain.pem") && same(parts[3], "fullchain.pem")
	return key, chain
}

// statPart is stampPart of the file p names (following links), "" if it cannot be stat'ed.
func statPart(p string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return ""
	}
	return stampPart(&st)
}

func stampPart(st *syscall.Stat_t) string {
	return fmt.Sprintf("%d:%d:%d.%09d", st.Ino, st.Size, st.Ctim.Sec, st.Ctim.Nsec)
}

// checkLiveKey reads live/NAME/privkey.pem and checks it is the key of leaf. broken
// reports a key that is missing, truncated, unparsable, not a regular file or not the
// certificate's (renew replaces the lineage's certificate and key); problem without
// broken is a key this user may not read (not checked).
func (s *Store) checkLiveKey(name string, leaf *x509.Certificate) (problem string, broken bool) {
	p := filepath.Join(s.LiveDir(name), "privkey.pem")
	b, err := readRegular(p, true)
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Sprintf("private key %s not checked: permission denied (run as root to check it)", p), false
	}
	if err != nil {
		return fmt.Sprintf("private key %s cannot be read: %v", p, err), true
	}
	key, err := parseKey(b)
	if err != nil {
		return fmt.Sprintf("private key %s is damaged or truncated: %v", p, err), true
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return fmt.Sprintf("private key %s does not match certificate %s: nginx cannot serve this pair", p, filepath.Join(s.LiveDir(name), "cert.pem")), true
	}
	return "", false
}

// checkLiveChain reads live/NAME/fullchain.pem (what nginx serves with privkey.pem)
// and chain.pem and checks that they serve leaf: each a regular file holding PEM
// certificates and nothing else, fullchain.pem's first certificate cert.pem's, and
// fullchain.pem cert.pem followed by chain.pem. broken reports any of these failing
// (renew replaces the lineage's files); problems without broken are files this user
// may not read (not checked). Every problem names its file.
func (s *Store) checkLiveChain(name string, leaf *x509.Certificate) (problems []string, broken bool) {
	dir := s.LiveDir(name)
	fail := func(format string, a ...any) {
		problems, broken = append(problems, fmt.Sprintf(format, a...)), true
	}
	read := func(p string) ([]*x509.Certificate, bool) {
		b, err := readRegular(p, true)
		if errors.Is(err, fs.ErrPermission) {
			problems = append(problems, fmt.Sprintf("%s not checked: permission denied (run as root to check it)", p))
			return nil, false
		}
		if err != nil {
			fail("%s", unreadable(p, err))
			return nil, false
		}
		certs, err := parseCerts(b)
		if err != nil {
			fail("%s is damaged or truncated: %v", p, err)
			return nil, false
		}
		return certs, true
	}
	fullPath, chainPath := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "chain.pem")
	full, fullOK := read(fullPath)
	chain, chainOK := read(chainPath)
	if fullOK {
		switch {
		case len(full) == 0:
			fail("%s holds no certificate", fullPath)
			fullOK = false
		case !full[0].Equal(leaf):
			why := "nginx serves it with privkey.pem, which is not its key"
			if publicKeysEqual(full[0].PublicKey, leaf.PublicKey) {
				why = "another certificate for the same key"
			}
			fail("%s begins with the certificate of %s (serial %s), not cert.pem's (%s, serial %s): %s", fullPath,
				describeCert(full[0]), full[0].SerialNumber.Text(16), describeCert(leaf), leaf.SerialNumber.Text(16), why)
			fullOK = false
		}
	}
	if fullOK && chainOK && !slices.EqualFunc(full[1:], chain, (*x509.Certificate).Equal) {
		fail("%s is not cert.pem followed by chain.pem %s: after cert.pem it holds %s, chain.pem holds %s", fullPath, chainPath,
			describeCerts(full[1:]), describeCerts(chain))
	}
	return problems, broken
}

// parseCerts parses a PEM file of certificates (fullchain.pem, chain.pem): every block
// must be a certificate, and nothing but white space may follow the last one (a cut
// block is a truncated file). No block at all is an empty list.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, not a CERTIFICATE", len(out)+1, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(out)+1, err)
		}
		out, rest = append(out, c), r
	}
	if t := bytes.TrimSpace(rest); len(t) > 0 {
		return nil, fmt.Errorf("%d bytes after certificate %d are not a complete PEM certificate", len(t), len(out))
	}
	return out, nil
}

// describeCert names a certificate for a message: its names, else its subject.
func describeCert(c *x509.Certificate) string {
	if names := certNames(c); len(names) > 0 {
		return strings.Join(names, ",")
	}
	return c.Subject.String()
}

// describeCerts lists certificates for a message: "2 certificates (A; B)", "none".
func describeCerts(cs []*x509.Certificate) string {
	if len(cs) == 0 {
		return "none"
	}
	var ds []string
	for _, c := range cs {
		ds = append(ds, describeCert(c))
	}
	return fmt.Sprintf("%d certificate(s) (%s)", len(cs), strings.Join(ds, "; "))
}

// unreadable says why a live file could not be read: the file type it is instead of
// a regular file (links followed), or the error.
func unreadable(p string, err error) string {
	if errors.Is(err, ErrNotRegular) {
		if st, e := os.Stat(p); e == nil && !st.Mode().IsRegular() {
			return fmt.Sprintf("%s is %s", p, describeMode(st.Mode()))
		}
	}
	return fmt.Sprintf("%s cannot be read: %v", p, err)
}

func (l *Lineage) setLeaf(leaf *x509.Certificate) {
	l.Leaf = leaf
	l.NotBefore, l.NotAfter = leaf.NotBefore, leaf.NotAfter
	l.Serial = leaf.SerialNumber.Text(16)
	l.Names = certNames(leaf)
}

func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return names
}

// Names lists the lineages that have v6-certs metadata, sorted.
func (s *Store) Names() ([]string, error) {
	names, _, _, err := s.scan()
	return names, err
}

// List loads every lineage, with the number of versions each holds and its
// deploy-pending marker, if any. Lineages that cannot be read are reported as problems
// (path "lineage NAME") and left out; they are never written to. A marker without a
// lineage is a warning.
func (s *Store) List() ([]Lineage, report.Problems) {
	var ps report.Problems
	names, pending, odd, err := s.scan()
	if err != nil {
		ps.Errorf("renewal", ErrCorrupt, "cannot read %s: %v", s.Path("renewal"), err)
		return nil, ps
	}
	for _, n := range pending {
		if !slices.Contains(names, n) {
			ps.Warnf("lineage "+n, ErrNotFound, "deploy-pending marker %s belongs to no lineage; the next renew with a deploy step removes it", s.pendingPath(n))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(odd)) {
		if !slices.Contains(names, n) {
			ps.Warnf("lineage "+n, ErrNotRegular, "%s", s.oddMarker(n, odd[n]))
		}
	}
	out := make([]Lineage, 0, len(names))
	for _, n := range names {
		l, err := s.Load(n)
		if err != nil {
			ps.Add(report.Problem{Path: "lineage " + n, Severity: report.Error, Message: err.Error(), Err: sentinelOf(err)})
			continue
		}
		if l.KeyBroken {
			ps.Add(report.Problem{Path: "lineage " + n, Severity: report.Warning, Message: l.KeyProblem + "; the next renew replaces certificate and key", Err: ErrCorrupt})
		} else if l.KeyProblem != "" {
			ps.Add(report.Problem{Path: "lineage " + n, Severity: report.Warning, Message: l.KeyProblem, Err: ErrPermission})
		}
		for _, p := range l.ChainProblems {
			if l.ChainBroken {
				ps.Add(report.Problem{Path: "lineage " + n, Severity: report.Warning, Message: p + "; the next renew replaces the lineage's certificate files", Err: ErrCorrupt})
			} else {
				ps.Add(report.Problem{Path: "lineage " + n, Severity: report.Warning, Message: p, Err: ErrPermission})
			}
		}
		if vs, err := s.Versions(n); err == nil {
			l.Versions = len(vs)
		} else {
			ps.Warnf("lineage "+n, ErrCorrupt, "cannot count its versions: %v", err)
		}
		if mode, ok := odd[n]; ok {
			ps.Warnf("lineage "+n, ErrNotRegular, "%s", s.oddMarker(n, mode))
		}
		if slices.Contains(pending, n) {
			p, err := s.ReadPending(n)
			if err != nil {
				ps.Warnf("lineage "+n, ErrCorrupt, "%v", err)
			}
			l.Pending = &p
		}
		out = append(out, l)
	}
	return out, ps
}

// archiveVersions returns the version numbers present in archive/NAME (any kind).
func (s *Store) archiveVersions(name string) ([]int, error) {
	// Names only (no os.ReadDir: its DirEntry values and the sort by name are not
	// needed, and a renew lists every lineage's archive).
	ents, err := readDirNames(s.Path("archive", name), nil)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []int
	for _, n := range ents {
		for _, k := range kinds {
			if v, ok := strings.CutPrefix(n, k); ok {
				if num, err := strconv.Atoi(strings.TrimSuffix(v, ".pem")); err == nil && strings.HasSuffix(v, ".pem") && num > 0 {
					if !slices.Contains(out, num) {
						out = append(out, num)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// readVersion reads archive version n.
func (s *Store) readVersion(name string, n int) (Version, error) {
	var v Version
	var err error
	read := func(kind string) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = readRegular(s.Path("archive", name, fmt.Sprintf("%s%d.pem", kind, n)), false)
		return b
	}
	v.Cert, v.Chain, v.Key = read("cert"), read("chain"), read("privkey")
	read("fullchain")
	return v, err
}

// Install writes v as the next archive version of the lineage, writes meta, and
// switches live/NAME to it with one rename. It returns the new version number. The
// current files are untouched until the final rename; on error they stay current.
// Older versions are left for [Store.Prune] (the [Client] calls it after Install).
func (s *Store) Install(name string, v Version, m Meta, now time.Time) (int, error) {
	if err := ValidateCertName(name); err != nil {
		return 0, err
	}
	leaf, err := v.Check()
	if err != nil {
		return 0, fmt.Errorf("refusing to install %s: %w", name, err)
	}
	if err := s.ensureDirs(name); err != nil {
		return 0, err
	}
	vs, err := s.archiveVersions(name)
	if err != nil {
		return 0, err
	}
	n := 1
	if len(vs) > 0 {
		n = vs[len(vs)-1] + 1
	}
	keyMode, keyGID := os.FileMode(0o600), -1
	if cur, err := s.liveVersion(name); err == nil {
		if st, err := os.Stat(s.Path("archive", name, fmt.Sprintf("privkey%d.pem", cur))); err == nil {
			keyMode = st.Mode().Perm() & 0o640 // never world-readable
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				keyGID = int(sys.Gid)
			}
		}
	}
	files := map[string][]byte{"cert": v.Cert, "chain": v.Chain, "fullchain": v.Fullchain(), "privkey": v.Key}
	for _, k := range kinds {
		p := s.Path("archive", name, fmt.Sprintf("%s%d.pem", k, n))
		mode := os.FileMode(0o644)
		if k == "privkey" {
			mode = keyMode
		}
		if _, err := fsutil.WriteFile(p, files[k], fsutil.Options{Mode: mode}); err != nil {
			return 0, fmt.Errorf("write %s: %w", p, err)
		}
		if k == "privkey" && keyGID >= 0 {
			_ = os.Chown(p, -1, keyGID)
		}
	}
	if err := fsutil.SyncDir(s.Path("archive", name)); err != nil {
		return 0, err
	}
	m.Names = certNames(leaf)
	if len(m.Names) == 0 {
		return 0, fmt.Errorf("refusing to install %s: the certificate names nothing", name)
	}
	// v.Check() verified the pair, and the chain files are written from the same
	// version: remember exactly which files hold them.
	file := func(k string) string { return s.Path("archive", name, fmt.Sprintf("%s%d.pem", k, n)) }
	m.PairStamp = filesStamp(file("cert"), file("privkey"), file("chain"), file("fullchain"))
	if err := s.WriteMeta(name, m, now); err != nil {
		return 0, err
	}
	if err := s.switchTo(name, n, now); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *Store) ensureDirs(name string) error {
	for _, d := range []string{s.root(), s.Path("archive"), s.Path("live"), s.Path("archive", name)} {
		mode := os.FileMode(0o700)
		if d == s.root() {
			mode = 0o755
		}
		if err := os.MkdirAll(d, mode); err != nil {
			return err
		}
	}
	return nil
}

// switchTo points live/NAME at archive version n: it writes the deploy-pending
// marker (renewal/NAME.v6-certs.deploy-pending, removed only by a deploy step that
// passed), builds live/.NAME.vN with relative links, then renames a new symlink over
// live/NAME. A certbot-made real directory is exchanged atomically (renameat2
// RENAME_EXCHANGE) and kept as live/.NAME.certbot.
func (s *Store) switchTo(name string, n int, now time.Time) error {
	// First the marker: a crash anywhere after this leaves it, and the next run deploys.
	// A client without a deploy step has nothing to deploy and writes none.
	if !s.noPending {
		if err := s.writePending(PendingDeploy{Name: name, Version: n, Switched: now.UTC().Truncate(time.Second)}); err != nil {
			return err
		}
	}
	live := s.Path("live")
	vdirName := fmt.Sprintf(".%s.v%d", name, n)
	vdir := filepath.Join(live, vdirName)
	if err := os.RemoveAll(vdir); err != nil {
		return err
	}
	if err := os.Mkdir(vdir, 0o755); err != nil {
		return err
	}
	for _, k := range kinds {
		target := filepath.Join("..", "..", "archive", name, fmt.Sprintf("%s%d.pem", k, n))
		if err := os.Symlink(target, filepath.Join(vdir, k+".pem")); err != nil {
			return err
		}
	}
	readme := "This directory holds the current certificate of " + name + ", managed by v6-certs.\n" +
		"Point nginx at fullchain.pem (ssl_certificate) and privkey.pem (ssl_certificate_key).\n" +
		"Don't move or rename these files; " + name + " itself is a symlink switched atomically on renewal.\n"
	if err := os.WriteFile(filepath.Join(vdir, "README"), []byte(readme), 0o644); err != nil {
		return err
	}
	if err := fsutil.SyncDir(vdir); err != nil {
		return err
	}
	tmp := filepath.Join(live, "."+name+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(vdirName, tmp); err != nil {
		return err
	}
	dst := filepath.Join(live, name)
	st, err := os.Lstat(dst)
	if err == nil && st.IsDir() {
		// certbot's real directory: swap it with our symlink in one step.
		if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE); err == nil {
			keep := filepath.Join(live, "."+name+".certbot")
			_ = os.RemoveAll(keep)
			if err := os.Rename(tmp, keep); err != nil {
				return err
			}
			return fsutil.SyncDir(live)
		}
		// No RENAME_EXCHANGE on this file system: two renames, a tiny gap.
		if err := os.Rename(dst, filepath.Join(live, "."+name+".certbot")); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	if err := fsutil.SyncDir(live); err != nil {
		return err
	}
	s.pruneLive(name, n)
	return nil
}

// pruneLive removes version directories other than the current and the previous
// one, once they are ten minutes old, so a reader that resolved live/NAME a moment
// ago can still open its files.
func (s *Store) pruneLive(name string, cur int) {
	ents, err := os.ReadDir(s.Path("live"))
	if err != nil {
		return
	}
	prefix := "." + name + ".v"
	var vs []int
	for _, e := range ents {
		if v, ok := strings.CutPrefix(e.Name(), prefix); ok {
			if n, err := strconv.Atoi(v); err == nil && n != cur {
				vs = append(vs, n)
			}
		}
	}
	prev := 0
	for _, n := range vs {
		if n < cur && n > prev {
			prev = n
		}
	}
	for _, n := range vs {
		p := s.Path("live", fmt.Sprintf("%s%d", prefix, n))
		if st, err := os.Lstat(p); n != prev && err == nil && time.Since(st.ModTime()) > 10*time.Minute {
			_ = os.RemoveAll(p)
		}
	}
}

// Repair finishes an interrupted switch: if the archive holds a complete, newer
// version whose key matches its certificate and whose names equal the lineage's,
// live/NAME is switched to it. It reports whether it switched. Incomplete or
// mismatched newer files are left alone (the next issuance numbers past them).
func (s *Store) Repair(name string) (bool, error) {
	switched, _, err := s.repair(name)
	return switched, err
}

// repair is Repair that also returns the live version afterwards (0 when live/NAME
// is missing), for [Store.load].
func (s *Store) repair(name string) (bool, int, error) {
	// The switch's temporary symlink (see switchTo), left by a run that died: unlink(2)
	// alone, as it is never a directory (os.Remove would try rmdir(2) too, one more
	// failing syscall per lineage on every renew).
	_ = syscall.Unlink(s.Path("live", "."+name+".tmp"))
	cur, err := s.liveVersion(name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, 0, err
	}
	vs, err := s.archiveVersions(name)
	if err != nil {
		return false, 0, err
	}
	if len(vs) == 0 || vs[len(vs)-1] <= cur {
		return false, cur, nil
	}
	m, err := s.ReadMeta(name)
	if err != nil {
		return false, 0, err // never touch a lineage we cannot read
	}
	var curLeaf *x509.Certificate
	if cur > 0 {
		if b, err := readRegular(filepath.Join(s.LiveDir(name), "cert.pem"), true); err == nil {
			curLeaf, _ = parseLeaf(b)
		}
	}
	for i := len(vs) - 1; i >= 0 && vs[i] > cur; i-- {
		v, err := s.readVersion(name, vs[i])
		if err != nil {
			continue
		}
		leaf, err := v.Check()
		if err != nil {
			continue
		}
		if full, err := readRegular(s.Path("archive", name, fmt.Sprintf("fullchain%d.pem", vs[i])), false); err != nil || !bytes.Equal(full, v.Fullchain()) {
			continue
		}
		if curLeaf != nil && leaf.NotBefore.Before(curLeaf.NotBefore) {
			continue
		}
		if !sameNames(certNames(leaf), m.Names) {
			continue
		}
		if err := s.switchTo(name, vs[i], s.now()); err != nil {
			return true, 0, err
		}
		return true, vs[i], nil
	}
	return false, cur, nil
}

func sameNames(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// LockName is the lock file's name under the root.
const LockName = ".v6-certs.lock"

// Lock takes the directory's lock (flock on ROOT/.v6-certs.lock), waiting up to wait
// (zero: not at all). The returned function releases it. The root must exist (Lock
// never creates the store). The lock file is opened with O_NOFOLLOW and must be a
// regular file owned by this user: a symlink there (dangling or not), or anything
// else, is refused with [ErrLockFile] and never followed or created through.
func (s *Store) Lock(ctx context.Context, wait time.Duration) (func(), error) {
	if err := s.checkRoot(); err != nil {
		return nil, err
	}
	p := s.Path(LockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w: %s is a symlink, refusing to follow it", ErrLockFile, p)
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("%w: cannot open the lock %s: %v", ErrPermission, p, err)
		}
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is %s", ErrLockFile, p, describeMode(st.Mode()))
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		f.Close()
		return nil, fmt.Errorf("%w: %s belongs to uid %d, not to this user (uid %d)", ErrLockFile, p, sys.Uid, os.Geteuid())
	}
	deadline := time.Now().Add(wait)
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		pid := fsutil.LockHolder(p)
		if !time.Now().Before(deadline) {
			f.Close()
			if pid > 0 {
				return nil, fmt.Errorf("%w (%s, held by PID %d)", ErrLocked, p, pid)
			}
			return nil, fmt.Errorf("%w (%s)", ErrLocked, p)
		}
		if !told && s.waiting != nil {
			s.waiting(p, pid)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, interrupted(ctx, p, pid)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// interruptedError is a lock wait ended by ctx (SIGINT or SIGTERM in v6-certs): it
// says what the run waited for, and unwraps to ctx.Err() (context.Canceled).
type interruptedError struct {
	msg string
	err error
}

func (e *interruptedError) Error() string { return e.msg }
func (e *interruptedError) Unwrap() error { return e.err }

// interrupted describes a lock wait that ctx ended before anything was done: its
// cause ("interrupt signal received" from signal.NotifyContext), the lock and its
// holder.
func interrupted(ctx context.Context, lock string, pid int) error {
	why := ctx.Err().Error()
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		why = cause.Error()
	}
	holder := "another run"
	if pid > 0 {
		holder = "PID " + strconv.Itoa(pid)
	}
	return &interruptedError{msg: fmt.Sprintf("interrupted (%s) while waiting for the lock %s held by %s: nothing was done", why, lock, holder), err: ctx.Err()}
}

// checkRoot reports a root that does not exist ([ErrNoStore]), is not a directory or
// cannot be read.
func (s *Store) checkRoot() error {
	st, err := os.Stat(s.root())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s does not exist", ErrNoStore, s.root())
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %s: %v", ErrPermission, s.root(), err)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%w: %s is %s", ErrNoStore, s.root(), describeMode(st.Mode()))
	}
	return nil
}

// CheckUsable reports whether renew and list have something to work on, without
// writing anything: [ErrNoStore] when the root does not exist, [ErrPermission] when
// it cannot be read, and [ErrEmptyStore] when it holds no v6-certs lineage, no
// deploy-pending marker and no v6-certs account (a mistyped --dir, or obtain never
// ran); the message then says whether certbot lineages are there to import.
func (s *Store) CheckUsable() error {
	if err := s.checkRoot(); err != nil {
		return err
	}
	// Only whether one lineage or marker is there (renew lists them all under the lock).
	found, err := s.anyLineage()
	if err != nil {
		return fileErr(err)
	}
	if found || s.hasAccount() {
		return nil
	}
	if confs, _ := filepath.Glob(s.Path("renewal", "*.conf")); len(confs) > 0 {
		return fmt.Errorf("%w: %s holds %d certbot lineage(s) (renewal/*.conf) but none v6-certs manages: run v6-certs import --certbot %s", ErrEmptyStore, s.root(), len(confs), s.root())
	}
	return fmt.Errorf("%w: %s", ErrEmptyStore, s.root())
}

// readDirNames lists a directory's entry names, unsorted. Raw getdents(2): os.ReadDir
// would build and sort DirEntry values, and os.Open of a directory tries to register
// it with the netpoller (four fcntl and one failing epoll_ctl), per lineage per renew.
// stop, if set, ends the listing early when it returns true.
func readDirNames(dir string, stop func(string) bool) ([]string, error) {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		before := len(names)
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
		if stop != nil {
			for _, name := range names[before:] {
				if stop(name) {
					return names, nil
				}
			}
		}
	}
}

// anyLineage reports whether renewal/ holds a lineage's metadata or a deploy-pending
// marker, reading no further than the first one.
func (s *Store) anyLineage() (bool, error) {
	found := false
	_, err := readDirNames(s.Path("renewal"), func(n string) bool {
		found = strings.HasSuffix(n, MetaSuffix) || strings.HasSuffix(n, PendingSuffix)
		return found
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return found, err
}

// hasAccount reports whether accounts/ holds a v6-certs account key.
func (s *Store) hasAccount() bool {
	found := false
	_ = filepath.WalkDir(s.Path("accounts"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "private_key.pem" && filepath.Base(filepath.Dir(p)) == "v6-certs" {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
