// Package wsframe reads and writes single RFC 6455 websocket frames: the little of the
// protocol that network's streaming check (a client) and testenv's streaming stub (a
// server) need, in one place. Frames are always final (FIN set); fragments are read as
// they come, with their opcode.
package wsframe

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
)

// Opcodes (RFC 6455 section 5.2).
const (
	OpText  byte = 0x1
	OpClose byte = 0x8
	OpPing  byte = 0x9
	OpPong  byte = 0xa
)

// Accept is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key (section 4.2.2).
func Accept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Write writes one final frame. A client masks its frames with a fresh random key
// (mask true, section 5.3); a server never does.
func Write(w io.Writer, op byte, payload []byte, mask bool) error {
	var bit byte
	if mask {
		bit = 0x80
	}
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, bit|byte(n))
	case n <= 0xffff:
		hdr = append(hdr, bit|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, bit|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var key [4]byte
	if mask {
		if _, err := rand.Read(key[:]); err != nil {
			return err
		}
		hdr = append(hdr, key[:]...)
	}
	out := append(hdr, payload...)
	if mask {
		for i := range payload {
			out[len(hdr)+i] ^= key[i%4]
		}
	}
	_, err := w.Write(out)
	return err
}

// Read reads one frame of at most max payload bytes and returns its opcode and its
// payload, unmasked; masked says whether it came masked (a server must refuse unmasked
// frames, a client masked ones: section 5.1).
func Read(r io.Reader, max uint64) (op byte, payload []byte, masked bool, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, false, err
	}
	masked = h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, masked, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, masked, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > max {
		return 0, nil, masked, fmt.Errorf("a websocket frame of %d bytes (more than %d)", n, max)
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, masked, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, masked, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, payload, masked, nil
}
