package faulttest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/internal/faultnet"
	"github.com/sessionmesh/sessionmesh/internal/testcluster"
)

// TestNoSecretsInLogs runs both modes through every path that logs — joins,
// handshakes on every node, misses of each kind, a partition and its heal,
// a graceful restart with handoff, a crash, key rotation — with every log
// line kept at debug level, then looks for anything secret in them: the
// cluster secret, the session IDs clients hold, the session states stored
// under them, the nodes' peer TLS keys. In any encoding: raw, hex, base64,
// or Go's %v of a byte slice.
func TestNoSecretsInLogs(t *testing.T) {
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var secrets [][]byte

	// Cache mode.
	net := faultnet.New()
	c := testcluster.Start(t, 3, testcluster.Options{Logger: logger, Net: net})
	secrets = append(secrets, c.Secret)
	for _, nd := range c.Nodes {
		secrets = append(secrets, peerKey(t, nd))
	}
	var clients []*testcluster.Client
	for i := range 12 {
		cl := c.Client([]uint16{tls.VersionTLS12, tls.VersionTLS13}[i%2], "a.example")
		cl.Connect(c.Nodes[i%3].Addr)
		cl.Connect(c.Nodes[(i+1)%3].Addr)
		clients = append(clients, cl)
	}
	for _, cl := range clients {
		ticket, _, err := cl.Session().ResumptionState()
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, ticket)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if r, err := c.Nodes[0].Store.Get(ctx, string(ticket)); err == nil {
			secrets = append(secrets, r.Value)
		}
		cancel()
	}
	// Forged tickets are session IDs too, as far as a server can tell.
	unknown := make([]byte, 32)
	rand.Read(unknown)
	secrets = append(secrets, unknown)
	offerForged(t, c, clients[0], [][]byte{{1}, unknown, bytes.Repeat([]byte{7}, 300)})
	wrongName := c.Client(tls.VersionTLS13, "a.example")
	wrongName.Connect(c.Nodes[0].Addr)
	wrongName.Config.ServerName = "b.example"
	wrongName.Offer(clients[1].Session())
	wrongName.Connect(c.Nodes[1].Addr)

	net.Partition(names(c.Nodes[:1]), names(c.Nodes[1:]))
	waitMembers(t, c.Nodes[:1], 1)
	for _, nd := range c.Nodes {
		clients[2].Offer(clients[2].Session())
		clients[2].Connect(nd.Addr)
	}
	net.Heal()
	waitMembers(t, c.Nodes, 3)
	c.WaitSettled(3)
	c.Restart(1)
	c.WaitSettled(3)
	c.Nodes[2].Stop()
	c.WaitSettled(2)

	// Ticket mode.
	tc := testcluster.Start(t, 2, testcluster.Options{Logger: logger, Tickets: &ticketkeys.Config{}})
	secrets = append(secrets, tc.Secret)
	tc.WaitTicketKeys()
	cl := tc.Client(tls.VersionTLS12, "a.example")
	cl.Connect(tc.Nodes[0].Addr)
	cl.Connect(tc.Nodes[1].Addr)
	tc.Nodes[0].Keys.Rotate()
	offerForged(t, tc, cl, [][]byte{{1}, make([]byte, 64)})

	text := logs.String()
	if !strings.Contains(text, "level=DEBUG") || !strings.Contains(text, "ticket key generated") ||
		!strings.Contains(text, "handed records over") || !strings.Contains(text, "session not resumed") {
		t.Fatalf("the run did not log what it should have; got %d bytes of logs", len(text))
	}
	for i, s := range secrets {
		for _, form := range encodings(s) {
			if strings.Contains(text, form) {
				t.Errorf("secret %d appears in the logs as %q", i, form)
			}
		}
	}
	t.Logf("%d log lines checked against %d secrets", strings.Count(text, "\n"), len(secrets))
}

// offerForged offers forged tickets (with cl's real session state) to every node.
func offerForged(t *testing.T, c *testcluster.Cluster, cl *testcluster.Client, tickets [][]byte) {
	t.Helper()
	_, state, err := cl.Session().ResumptionState()
	if err != nil {
		t.Fatal(err)
	}
	for _, ticket := range tickets {
		forged, err := tls.NewResumptionState(ticket, state)
		if err != nil {
			t.Fatal(err)
		}
		for _, nd := range c.Running() {
			cl.Offer(forged)
			if _, err := cl.Connect(nd.Addr); err != nil {
				t.Fatalf("forged ticket on %s: %v", nd.Name, err)
			}
		}
	}
}

// peerKey returns the seed of the node's peer TLS private key.
func peerKey(t *testing.T, nd *testcluster.Node) []byte {
	t.Helper()
	cert, err := nd.Cluster.PeerTLS().GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return cert.PrivateKey.(ed25519.PrivateKey).Seed()
}

// encodings returns the forms a byte string could take in a log line. Short
// secrets are skipped as substrings would match by chance.
func encodings(b []byte) []string {
	if len(b) < 8 {
		return nil
	}
	return []string{
		string(b),
		hex.EncodeToString(b),
		base64.StdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		cluster.EncodeSecret(b),
		strings.Trim(fmt.Sprint(b), "[]"),
		fmt.Sprintf("%q", b),
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
