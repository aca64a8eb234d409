package sessionmesh_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// serverNames are the names the test certificate is valid for.
var serverNames = []string{"a.example", "b.example"}

// fixture is a cluster of members in this process, each with an HTTPS server.
type fixture struct {
	t       *testing.T
	secret  []byte
	roots   *x509.CertPool
	base    *tls.Config // picks a config per server name, as multi-host servers do
	members []*sessionmesh.Member
	servers []*httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cert, roots, err := selfsigned.New(serverNames...)
	if err != nil {
		t.Fatal(err)
	}
	perName := make(map[string]*tls.Config)
	for _, name := range serverNames {
		perName[name] = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	base := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			return perName[hello.ServerName], nil // nil for other names: base itself
		},
	}
	return &fixture{t: t, secret: sessionmesh.NewSecret(), roots: roots, base: base}
}

// start starts a member with cfg (its Secret and Join filled in: the first
// member's address) and an HTTPS server on it.
func (f *fixture) start(cfg sessionmesh.Config) *sessionmesh.Member {
	f.t.Helper()
	cfg.Secret = f.secret
	if len(f.members) > 0 && cfg.Join == nil {
		cfg.Join = []string{f.members[0].GossipAddr()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := sessionmesh.Start(ctx, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { m.Close() })
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s", m.Name())
	}))
	srv.TLS = m.TLSConfig(f.base)
	srv.StartTLS()
	f.t.Cleanup(srv.Close)
	f.members = append(f.members, m)
	f.servers = append(f.servers, srv)
	return m
}

// client is one browser: its own session cache, one TLS version, one server name.
type client struct {
	f    *fixture
	http *http.Client
	tls  *tls.Config
}

func (f *fixture) client(version uint16, serverName string) *client {
	cfg := &tls.Config{
		RootCAs: f.roots, ServerName: serverName, MinVersion: version, MaxVersion: version,
		ClientSessionCache: tls.NewLRUClientSessionCache(8),
	}
	return &client{f: f, tls: cfg, http: &http.Client{
		Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true},
		Timeout:   10 * time.Second,
	}}
}

// get asks server i for / and reports whether the connection resumed.
func (c *client) get(i int) bool {
	c.f.t.Helper()
	resp, err := c.http.Get(c.f.servers[i].URL)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil { // a TLS 1.3 ticket arrives as the client reads
		c.f.t.Fatal(err)
	}
	return resp.TLS.DidResume
}

// waitRing waits until every cache-mode member has n members on its ring.
func (f *fixture) waitRing(n int) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, m := range f.members {
		for m.Store() != nil && m.Store().Stats().RingNodes != n {
			if time.Now().After(deadline) {
				f.t.Fatalf("%s: %d members on the ring, want %d", m.Name(), m.Store().Stats().RingNodes, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// waitKeys waits until every ticket-mode member encrypts with one key.
func (f *fixture) waitKeys() {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ids := map[uint64]bool{}
		for _, m := range f.members {
			var active uint64
			for _, k := range m.TicketKeys().Keys() {
				if k.State.String() == "active" {
					active = k.ID
				}
			}
			ids[active] = true
		}
		if len(ids) == 1 && !ids[0] {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("members encrypt with different keys: %v", ids)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var versions = []struct {
	name string
	v    uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// TestEveryMemberResumesEveryOther: with members started by Start, on one
// host, in either mode, a session made on each member resumes on every other,
// through a base config that picks its config by server name; each
// resumption is counted where it happened.
func TestEveryMemberResumesEveryOther(t *testing.T) {
	for _, mode := range []sessionmesh.Mode{sessionmesh.Cache, sessionmesh.Tickets} {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFixture(t)
			for range 3 {
				cfg := sessionmesh.LocalConfig()
				cfg.Mode = mode
				f.start(cfg)
			}
			if mode == sessionmesh.Cache {
				f.waitRing(3)
			} else {
				f.waitKeys()
			}
			for _, ver := range versions {
				for from := range f.members {
					for to := range f.members {
						if from == to {
							continue
						}
						c := f.client(ver.v, serverNames[(from+to)%2])
						if c.get(from) {
							t.Fatalf("%s: the first connection resumed", ver.name)
						}
						if !c.get(to) {
							t.Errorf("%s: a session from member %d did not resume on member %d", ver.name, from, to)
						}
					}
				}
			}
		})
	}
}

// TestShutdownHandsOver: a member that shuts down hands its sessions to the
// others, which then resume them, and Shutdown says all went well.
func TestShutdownHandsOver(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		f.start(sessionmesh.LocalConfig())
	}
	f.waitRing(3)
	// Sessions made on member 0 are owned by it (their IDs are drawn so);
	// with one replica each, some other member holds a copy too. Replicas
	// of 1 would make the handover the only way they survive: see
	// TestShutdownHandsOverSingleCopy.
	var clients []*client
	for range 20 {
		c := f.client(tls.VersionTLS13, "a.example")
		c.get(0)
		clients = append(clients, c)
	}
	f.servers[0].Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.members[0].Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	f.members, f.servers = f.members[1:], f.servers[1:]
	f.waitRing(2)
	for i, c := range clients {
		if !c.get(i % 2) {
			t.Errorf("session %d did not resume after its member shut down", i)
		}
	}
}

// TestShutdownHandsOverSingleCopy: with one copy of each session, only the
// handover keeps them: every one still resumes.
func TestShutdownHandsOverSingleCopy(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		cfg := sessionmesh.LocalConfig()
		cfg.Replicas = 1
		f.start(cfg)
	}
	f.waitRing(2)
	var clients []*client
	for range 20 {
		c := f.client(tls.VersionTLS12, "a.example")
		c.get(0)
		clients = append(clients, c)
	}
	f.servers[0].Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.members[0].Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	f.members, f.servers = f.members[1:], f.servers[1:]
	f.waitRing(1)
	for i, c := range clients {
		if !c.get(0) {
			t.Errorf("session %d was lost", i)
		}
	}
	if err := f.members[0].Shutdown(ctx); err != nil { // the last one: nobody to hand to, not an error
		t.Errorf("Shutdown of the last member: %v", err)
	}
}

// TestShutdownWithDoneContext: the context signal.NotifyContext gives is
// already done at shutdown; Shutdown says what that cost and how to fix it,
// and still stops everything.
func TestShutdownWithDoneContext(t *testing.T) {
	f := newFixture(t)
	m := f.start(sessionmesh.LocalConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := m.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "WithoutCancel") {
		t.Errorf("Shutdown(done context) = %v; want context.Canceled and the fix", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
}

// TestDuplicateName: a second member with a name a live member has fails at
// Start, naming the clash; the first carries on.
func TestDuplicateName(t *testing.T) {
	f := newFixture(t)
	cfg := sessionmesh.LocalConfig()
	cfg.Name = "web-1"
	first := f.start(cfg)
	cfg.Secret = f.secret
	cfg.Join = []string{first.GossipAddr()}
	m, err := sessionmesh.Start(context.Background(), cfg)
	if err == nil {
		m.Close()
		t.Fatal("a second member named web-1 started")
	}
	if !errors.Is(err, cluster.ErrNameTaken) || !strings.Contains(err.Error(), `"web-1"`) || !strings.Contains(err.Error(), first.GossipAddr()) {
		t.Errorf("error %q: want ErrNameTaken naming web-1 and %s", err, first.GossipAddr())
	}
	c := f.client(tls.VersionTLS13, "a.example")
	c.get(0)
	if !c.get(0) {
		t.Error("the first member stopped resuming")
	}
}

// TestDefaultNames: two members on one host with no Name get names of their
// own, and share sessions.
func TestDefaultNames(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		f.start(sessionmesh.Config{BindAddr: "127.0.0.1:0", DataAddr: "127.0.0.1:0", Timing: cluster.LocalTiming()})
	}
	if a, b := f.members[0].Name(), f.members[1].Name(); a == b {
		t.Fatalf("both members are called %q", a)
	}
	f.waitRing(2)
	c := f.client(tls.VersionTLS12, "b.example")
	c.get(0)
	if !c.get(1) {
		t.Error("not resumed across members with default names")
	}
}

// TestDataAddrAdvertised: a member whose data channel listens on every
// interface reports the address others reach it at, on its gossip host.
func TestDataAddrAdvertised(t *testing.T) {
	f := newFixture(t)
	f.start(sessionmesh.Config{BindAddr: "127.0.0.1:0", DataAddr: "0.0.0.0:0", Timing: cluster.LocalTiming()})
	m := f.members[0]
	host, port, err := net.SplitHostPort(m.DataAddr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("DataAddr %q, want 127.0.0.1 and the port it listens on (gossip at %s)", m.DataAddr(), m.GossipAddr())
	}
	if _, p, _ := net.SplitHostPort(m.Store().Addr()); p != port {
		t.Errorf("DataAddr's port %s, the listener's %s", port, p)
	}
}

// TestStartFails: Start refuses what cannot work, says why, and leaves
// nothing running (TestMain checks for goroutines left behind).
func TestStartFails(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	secret := sessionmesh.NewSecret()
	other := newFixture(t).start(sessionmesh.LocalConfig()) // a cluster with another secret
	local := func(edit func(*sessionmesh.Config)) sessionmesh.Config {
		cfg := sessionmesh.LocalConfig()
		cfg.Secret = secret
		edit(&cfg)
		return cfg
	}
	for _, tc := range []struct {
		name string
		cfg  sessionmesh.Config
		want string
	}{
		{"no secret", local(func(c *sessionmesh.Config) { c.Secret = nil }), "Secret"},
		{"short secret", local(func(c *sessionmesh.Config) { c.Secret = []byte("short") }), "16"},
		{"unknown mode", local(func(c *sessionmesh.Config) { c.Mode = 7 }), "Mode"},
		{"empty seed", local(func(c *sessionmesh.Config) { c.Join = []string{""} }), "empty address"},
		{"data port taken", local(func(c *sessionmesh.Config) { c.DataAddr = taken.Addr().String() }), taken.Addr().String()},
		{"gossip port taken", local(func(c *sessionmesh.Config) { c.BindAddr = taken.Addr().String() }), "address already in use"},
		{"negative web budget", local(func(c *sessionmesh.Config) { c.WebMaxBytes = -1 }), "WebMaxBytes"},
		{"nobody answers", local(func(c *sessionmesh.Config) {
			c.Join = []string{taken.Addr().String()} // TCP, but not memberlist
			c.JoinTimeout = 300 * time.Millisecond
		}), taken.Addr().String()},
		{"weak peer TLS", local(func(c *sessionmesh.Config) { c.PeerTLS = &tls.Config{} }), "ClientAuth"},
		{"negative replicas", local(func(c *sessionmesh.Config) { c.Replicas = -1 }), "Replicas"},
		{"memory for nothing", local(func(c *sessionmesh.Config) { c.MaxBytes = 10 }), "MaxBytes"},
		{"another cluster's secret", local(func(c *sessionmesh.Config) {
			c.Join = []string{other.GossipAddr()}
			c.JoinTimeout = 300 * time.Millisecond
		}), "another secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sessionmesh.Start(context.Background(), tc.cfg)
			if err == nil {
				m.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestTicketsModeHasNoDataPort: a ticket-mode member runs no store.
func TestTicketsModeHasNoDataPort(t *testing.T) {
	f := newFixture(t)
	cfg := sessionmesh.LocalConfig()
	cfg.Mode = sessionmesh.Tickets
	m := f.start(cfg)
	if m.DataAddr() != "" || m.Store() != nil || m.ClientSessionCache() != nil {
		t.Errorf("ticket mode: data %q, store %v, client cache %v", m.DataAddr(), m.Store(), m.ClientSessionCache())
	}
	for _, mb := range m.Node().Members() {
		if mb.DataAddr != "" {
			t.Errorf("advertises a data address %q", mb.DataAddr)
		}
	}
}

// TestShareTicketKeys: Cache-mode members with ShareTicketKeys derive the
// same ticket key as each other and as a Tickets-mode member of their
// cluster, and still resume sessions through the cache; members without it
// have no keys.
func TestShareTicketKeys(t *testing.T) {
	f := newFixture(t)
	var ms []*sessionmesh.Member
	for _, mode := range []sessionmesh.Mode{sessionmesh.Cache, sessionmesh.Cache, sessionmesh.Tickets} {
		cfg := sessionmesh.LocalConfig()
		cfg.Mode, cfg.ShareTicketKeys = mode, true
		ms = append(ms, f.start(cfg))
	}
	plain := f.start(sessionmesh.LocalConfig())
	if plain.TicketKeys() != nil {
		t.Error("a Cache-mode member without ShareTicketKeys has ticket keys")
	}
	if ms[0].Store() == nil || ms[0].TicketKeys() == nil {
		t.Fatal("a Cache-mode member with ShareTicketKeys lacks its store or its keys")
	}
	// The third and fourth members joined after the first key: each has it by now.
	_, want, err := ms[0].TicketKeys().DeriveKey("test", 48)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms[1:] {
		if _, got, err := m.TicketKeys().DeriveKey("test", 48); err != nil || string(got) != string(want) {
			t.Errorf("member %d derives another key (%v)", i+1, err)
		}
	}
	f.waitRing(3)
	c := f.client(tls.VersionTLS12, serverNames[0])
	if c.get(0) || !c.get(1) {
		t.Error("a session from member 0 did not resume on member 1 through the cache")
	}
}

// TestHandler: one handler mounted under a prefix serves the page, the JSON
// and the Prometheus metrics, and counts the member's handshakes.
func TestHandler(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		f.start(sessionmesh.LocalConfig())
	}
	f.waitRing(2)
	c := f.client(tls.VersionTLS13, "a.example")
	c.get(0)
	c.get(1)
	mux := http.NewServeMux()
	mux.Handle("/debug/sessionmesh/", f.members[1].Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		return string(b)
	}
	if page := get("/debug/sessionmesh/"); !strings.Contains(page, f.members[0].Name()) || !strings.Contains(page, "<html") {
		t.Errorf("the page does not list %s", f.members[0].Name())
	}
	if js := get("/debug/sessionmesh/?format=json"); !strings.Contains(js, `"resumed": 1`) {
		t.Errorf("the JSON does not count the resumed handshake:\n%s", js)
	}
	if m := get("/debug/sessionmesh/metrics"); !strings.Contains(m, `sessionmesh_handshakes_total{result="resumed",version="TLS1.3"} 1`) {
		t.Errorf("metrics without the resumed handshake")
	}
	if r := f.members[1].Status(); r.LastMinute.Resumed != 1 {
		t.Errorf("Status().LastMinute.Resumed = %d, want 1", r.LastMinute.Resumed)
	}
}
