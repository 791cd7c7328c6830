package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SelfSigned is a self-signed ECDSA certificate for name, valid from an hour ago for
// 90 days, and its PKCS#8 key, both PEM.
func SelfSigned(t testing.TB, name string) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// CertbotLineage lays out a certbot lineage NAME in the configuration directory dir as
// certbot does: archive/NAME/{cert,chain,fullchain,privkey}1.pem (0600), live/NAME/*.pem
// links to them, and renewal/NAME.conf holding conf. fullchain is cert followed by chain
// (a newline between them if cert lacks one), as acme.Version.Fullchain makes it.
func CertbotLineage(t testing.TB, dir, name string, cert, chain, key []byte, conf string) {
	t.Helper()
	for _, d := range []string{"archive/" + name, "live/" + name, "renewal"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	fullchain := append([]byte{}, cert...)
	if len(fullchain) > 0 && fullchain[len(fullchain)-1] != '\n' {
		fullchain = append(fullchain, '\n')
	}
	fullchain = append(fullchain, chain...)
	for k, b := range map[string][]byte{"cert": cert, "chain": chain, "fullchain": fullchain, "privkey": key} {
		if err := os.WriteFile(filepath.Join(dir, "archive", name, k+"1.pem"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../archive/"+name+"/"+k+"1.pem", filepath.Join(dir, "live", name, k+".pem")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "renewal", name+".conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}
