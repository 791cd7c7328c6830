package envfile

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
)

// GenerateSecret returns a new value for a secret in Mastodon's format, reading random
// bytes from rnd (nil: crypto/rand): SecureRandom.hex(64) for Hex128, the 62-character
// alphabet of SecureRandom.alphanumeric(32) for Alnum32 (unbiased, by rejection). A VAPID
// pair is made with [GenerateVAPID].
func GenerateSecret(format mastodon.SecretFormat, rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	switch format {
	case mastodon.Hex128:
		b := make([]byte, 64)
		if _, err := io.ReadFull(rnd, b); err != nil {
			return "", fmt.Errorf("envfile: random bytes: %w", err)
		}
		return hex.EncodeToString(b), nil
	case mastodon.Alnum32:
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		out := make([]byte, 0, 32)
		buf := make([]byte, 64)
		for len(out) < 32 {
			if _, err := io.ReadFull(rnd, buf); err != nil {
				return "", fmt.Errorf("envfile: random bytes: %w", err)
			}
			for _, c := range buf {
				if c < 248 && len(out) < 32 { // 248 = 4*62: no modulo bias
					out = append(out, alphabet[c%62])
				}
			}
		}
		return string(out), nil
	}
	return "", fmt.Errorf("envfile: %v is generated as a pair with GenerateVAPID", format)
}

// GenerateVAPID returns a new Web Push key pair as Mastodon's webpush:generate_vapid_key
// prints it: the P-256 private scalar (32 bytes) and the uncompressed public point (65
// bytes), each base64url with padding (44 and 88 characters). The scalar is read from
// rnd (nil: crypto/rand) and drawn again until it is a valid key.
func GenerateVAPID(rnd io.Reader) (private, public string, err error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, 32)
	for range 100 {
		if _, err := io.ReadFull(rnd, b); err != nil {
			return "", "", fmt.Errorf("envfile: random bytes: %w", err)
		}
		k, err := ecdh.P256().NewPrivateKey(b)
		if err != nil {
			continue // zero or ≥ the group order: draw again
		}
		return base64.URLEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(k.PublicKey().Bytes()), nil
	}
	return "", "", fmt.Errorf("envfile: no valid P-256 scalar in 100 draws: the random source is broken")
}

// decodeB64URL accepts base64url with or without padding, as Ruby's urlsafe_decode64.
func decodeB64URL(s string) ([]byte, error) {
	if b, err := base64.URLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// CheckSecret reports whether value is in the format Mastodon generates for it.
func CheckSecret(format mastodon.SecretFormat, value string) error {
	ok := false
	switch format {
	case mastodon.Hex128:
		ok = len(value) == 128 && strings.Trim(value, "0123456789abcdef") == ""
	case mastodon.Alnum32:
		ok = len(value) == 32 && strings.Trim(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == ""
	case mastodon.VAPIDPrivate:
		b, err := decodeB64URL(value)
		if err == nil && len(b) == 32 {
			_, err = ecdh.P256().NewPrivateKey(b)
			ok = err == nil
		}
	case mastodon.VAPIDPublic:
		b, err := decodeB64URL(value)
		if err == nil && len(b) == 65 {
			_, err = ecdh.P256().NewPublicKey(b)
			ok = err == nil
		}
	}
	if !ok {
		return fmt.Errorf("%w: expected %v", ErrSecretFormat, format)
	}
	return nil
}

// vapidMatch reports whether public is the public key of private (both well-formed).
func vapidMatch(private, public string) bool {
	pb, err1 := decodeB64URL(private)
	ub, err2 := decodeB64URL(public)
	if err1 != nil || err2 != nil {
		return false
	}
	k, err := ecdh.P256().NewPrivateKey(pb)
	if err != nil {
		return false
	}
	return bytes.Equal(k.PublicKey().Bytes(), ub)
}

// publicFromPrivate returns the base64url (padded) uncompressed public key of a P-256 scalar.
func publicFromPrivate(scalar []byte) (string, error) {
	k, err := ecdh.P256().NewPrivateKey(scalar)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(k.PublicKey().Bytes()), nil
}
