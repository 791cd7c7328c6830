package network_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/v6kit/v6kit/network"
)

// The websocket check proves the streaming path end to end when it has an access token
// with the read scope. The token comes from a file only its owner can read, never from a
// flag or the report.
func ExampleReadStreamingToken() {
	dir, err := os.MkdirTemp("", "v6kit-token")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "streaming-token")
	_ = os.WriteFile(path, []byte("ZXhhbXBsZS1hY2Nlc3MtdG9rZW4tb2YtNDMtY2hhcnM\n"), 0o644)

	_, err = network.ReadStreamingToken(path)
	fmt.Println("0644 refused:", errors.Is(err, network.ErrTokenFile))

	_ = os.Chmod(path, 0o600)
	token, err := network.ReadStreamingToken(path)
	fmt.Println("0600 read:", len(token), "characters,", err)

	steps, _ := network.Plan(network.Options{Domain: "social.example.org", StreamingToken: token})
	for _, s := range steps {
		if s.ID == "inbound.websocket" {
			fmt.Println(s.ID+":", s.Title)
		}
	}
	// Output:
	// 0644 refused: true
	// 0600 read: 43 characters, <nil>
	// inbound.websocket: websocket handshake on /api/v1/streaming (HTTP/1.1) and a subscription round trip with the access token
}
