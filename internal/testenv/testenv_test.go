package testenv

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFreePortIsFreeOnBothFamilies(t *testing.T) {
	port := FreePort(t)
	for _, host := range []string{"::1", "127.0.0.1"} {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		require.NoError(t, err, host)
		l.Close()
	}
}

func TestStartAndWaitTCP(t *testing.T) {
	py := Tool(t, "python3", "python3")
	port := FreePort(t)
	p := Start(t, exec.Command(py, "-c", "import socket,time\ns=socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('::1',"+strconv.Itoa(port)+"))\ns.listen()\ntime.sleep(60)"), 0)
	// Python's start through the pyenv shim took over 10 s once with both cores loaded:
	// the bound is for a listener that never comes, not for a slow one.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, WaitTCP(ctx, p, net.JoinHostPort("::1", strconv.Itoa(port))))
}
