package cluster

import (
	"fmt"
	"log"
	"strings"

	"github.com/hashicorp/memberlist"
)

// listen opens memberlist's UDP and TCP listeners on host:port. The node
// opens them itself, before memberlist starts, to learn the port that port 0
// picked: the default node name includes it.
func listen(host string, port int, logger *log.Logger) (*memberlist.NetTransport, error) {
	cfg := &memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: logger}
	// Binding UDP and TCP to one free port is racy: another process may take
	// the UDP port the kernel gave TCP. memberlist retries; so do we.
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var t *memberlist.NetTransport
		if t, err = memberlist.NewNetTransport(cfg); err == nil {
			return t, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("listen for gossip on %s: %w", joinHostPort(host, port), err)
}
