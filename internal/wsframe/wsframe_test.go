package wsframe

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccept(t *testing.T) {
	// The example of RFC 6455 section 1.3.
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Accept("dGhlIHNhbXBsZSBub25jZQ=="))
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 0xffff, 0x10000} {
		for _, mask := range []bool{false, true} {
			payload := []byte(strings.Repeat("x", n))
			var buf bytes.Buffer
			require.NoError(t, Write(&buf, OpText, payload, mask))
			if mask && n > 0 {
				assert.NotContains(t, buf.String(), string(payload), "a masked frame does not carry its payload in clear")
			}
			op, got, masked, err := Read(&buf, 1<<20)
			require.NoError(t, err, "n=%d mask=%v", n, mask)
			assert.Equal(t, OpText, op)
			assert.Equal(t, mask, masked)
			assert.Equal(t, payload, got)
			assert.Zero(t, buf.Len(), "the whole frame is read")
		}
	}
}

func TestReadRefusesLargeAndShort(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, OpText, make([]byte, 200), false))
	_, _, _, err := Read(bytes.NewReader(buf.Bytes()), 100)
	assert.ErrorContains(t, err, "200 bytes (more than 100)")
	_, _, _, err = Read(bytes.NewReader(buf.Bytes()[:50]), 1000)
	assert.Error(t, err, "a truncated frame")
}

func FuzzRead(f *testing.F) {
	f.Add([]byte{0x81, 0x02, 'h', 'i'}, false)
	f.Add([]byte{0x89, 0x80, 1, 2, 3, 4}, true)
	f.Fuzz(func(t *testing.T, b []byte, mask bool) {
		op, payload, _, err := Read(bytes.NewReader(b), 1<<16)
		if err != nil {
			return
		}
		// Whatever reads, writes back to a frame that reads the same.
		var buf bytes.Buffer
		require.NoError(t, Write(&buf, op, payload, mask))
		op2, p2, m2, err := Read(&buf, 1<<16)
		require.NoError(t, err)
		assert.Equal(t, op, op2)
		assert.Equal(t, payload, p2)
		assert.Equal(t, mask, m2)
	})
}
