package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

// BenchmarkRenewNothingDueProcess runs the real v6-certs binary (go build) as a whole
// process — start, flags, lock, scan of every lineage, due decision, exit — on a store
// of 1 and 1,000 lineages with nothing due (no ARI, so no request; the CA URL is a
// closed port, so any request would fail the run). Target: ≤ 0.1 s for 1,000 on a quiet
// machine (README "Numbers"); scripts/bench-certs.sh measures the same beside certbot
// and lego.
func BenchmarkRenewNothingDueProcess(b *testing.B) {
	dir := testenv.TempDir(b)
	bin := filepath.Join(dir, "v6-certs")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"bench.example"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	v := acme.Version{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Chain: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
	meta := acme.Meta{Server: "https://[::1]:9/dir", NoARI: true, Challenge: acme.Challenge{Type: acme.HTTP01, Webroot: "/var/www/acme"}}
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			root := filepath.Join(dir, fmt.Sprint(n))
			st := &acme.Store{Root: root}
			for i := range n {
				name := fmt.Sprintf("site%04d.example", i)
				if _, err := st.Install(name, v, meta, now); err != nil {
					b.Fatal(err)
				}
				if err := os.Remove(filepath.Join(root, "renewal", name+acme.PendingSuffix)); err != nil && !os.IsNotExist(err) {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				var out bytes.Buffer
				cmd := exec.Command(bin, "renew", "--dir", root, "--server", "https://[::1]:9/dir")
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil || out.Len() > 0 {
					b.Fatalf("renew with nothing due: %v: %s", err, out.Bytes())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/process")
		})
	}
}
