package acme_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
)

// selfSigned makes an offline version (leaf signed by a throwaway CA) for names.
func selfSigned(t testing.TB, notBefore time.Time, life time.Duration, names ...string) acme.Version {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: notBefore.Add(-time.Hour),
		NotAfter: notBefore.Add(life + time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		SubjectKeyId: []byte{1, 2, 3, 4}}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	lt := &x509.Certificate{SerialNumber: serial, NotBefore: notBefore, NotAfter: notBefore.Add(life), AuthorityKeyId: caT.SubjectKeyId}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			lt.IPAddresses = append(lt.IPAddresses, ip)
		} else {
			lt.DNSNames = append(lt.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, lt, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return acme.Version{
		Cert:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Chain: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Key:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
}

// exampleVersion is selfSigned without a testing.TB, for examples.
func exampleVersion(now time.Time, names ...string) acme.Version {
	var tb fakeTB
	return selfSigned(&tb, now, 90*24*time.Hour, names...)
}

type fakeTB struct{ testing.TB }

func (fakeTB) Helper()               {}
func (fakeTB) Errorf(string, ...any) { panic("example setup failed") }
func (fakeTB) FailNow()              { panic("example setup failed") }
