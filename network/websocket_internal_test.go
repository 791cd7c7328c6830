package network

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWSFrameRoundTrip: what the check writes (masked, as a client must) reads back
// unchanged, for each length encoding.
func TestWSFrameRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 125, 126, 0xffff, 0x10000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		var b bytes.Buffer
		require.NoError(t, wsWriteClientFrame(&b, 0x1, payload))
		assert.NotZero(t, b.Bytes()[1]&0x80, "client frames are masked")
		// The payload on the wire is the payload XOR the frame's masking key (a
		// random key: comparing with the plain payload failed whenever the key's
		// first byte was 0, once in 256 runs of n = 1).
		hdr := 2
		switch b.Bytes()[1] & 0x7f {
		case 126:
			hdr += 2
		case 127:
			hdr += 8
		}
		key, wire := b.Bytes()[hdr:hdr+4], b.Bytes()[hdr+4:]
		require.Len(t, wire, n)
		for i := range wire {
			if wire[i] != payload[i]^key[i%4] {
				t.Fatalf("n=%d: byte %d on the wire is %#x, want the payload masked with %x", n, i, wire[i], key)
			}
		}
		op, got, err := wsReadFrame(&b)
		require.NoError(t, err, n)
		assert.Equal(t, byte(0x1), op)
		assert.Equal(t, payload, got, n)
	}
	// a frame larger than the check reads is refused before its payload is allocated
	_, _, err := wsReadFrame(bytes.NewReader([]byte{0x81, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
	require.ErrorContains(t, err, "more than")
}

// TestRemoteText: server text is printable and bounded.
func TestRemoteText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "Invalid access token", remoteText("Invalid access token"))
	assert.Equal(t, "a?b?c", remoteText("a\nb\x1bc"))
	assert.Equal(t, strings.Repeat("y", 120)+"…", remoteText(strings.Repeat("y", 500)))
}

// FuzzWSReadFrame: any bytes from a server parse without panicking or over-allocating,
// and a frame written by the check reads back the same.
func FuzzWSReadFrame(f *testing.F) {
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, []byte("ping"))
	f.Add([]byte{0x88, 0x02, 0x03, 0xe8}, []byte{})
	f.Add([]byte{0x8a, 0xfe, 0x00, 0x04, 1, 2, 3, 4, 'a', 'b', 'c', 'd'}, []byte(`{"type":"subscribe","stream":"user"}`))
	f.Fuzz(func(t *testing.T, stream, payload []byte) {
		r := bytes.NewReader(stream)
		for {
			_, p, err := wsReadFrame(r)
			if err != nil {
				break
			}
			if len(p) > wsMaxFrame {
				t.Fatalf("payload of %d bytes", len(p))
			}
		}
		var b bytes.Buffer
		if err := wsWriteClientFrame(&b, 0x9, payload); err != nil {
			t.Fatal(err)
		}
		op, got, err := wsReadFrame(&b)
		if err != nil || op != 0x9 || !bytes.Equal(got, payload) {
			t.Fatalf("round trip: op %x, %q, %v", op, got, err)
		}
		if _, _, err := wsReadFrame(&b); err != io.EOF {
			t.Fatalf("trailing bytes: %v", err)
		}
	})
}

var fixedTokenErrors = map[string]bool{
	"is empty: write the access token into it":                                                       true,
	"holds more than one line: write only the access token":                                          true,
	"holds only '=' characters, not an access token":                                                 true,
	"has a character an access token never has at byte  (only letters, digits and -._~+/, then '=')": true,
}

// FuzzValidToken: a token validToken accepts can only hold b64token characters, and its
// error never repeats the token.
func FuzzValidToken(f *testing.F) {
	for _, s := range []string{"rEaDtOkEn0123456789abcdefghijklmnopqrstuvwx", "a b", "x\ny", "==", "abc==", `a"b`, "tök"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		err := validToken(tok)
		if err == nil {
			if strings.ContainsAny(tok, " \t\r\n\"';{}%\\\x00") {
				t.Fatalf("accepted %q", tok)
			}
			return
		}
		// the message is one of four fixed texts (with a byte offset): nothing of the token
		msg := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, err.Error())
		if !fixedTokenErrors[msg] {
			t.Fatalf("error %q is not one of the fixed texts", err)
		}
	})
}
