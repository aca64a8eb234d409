package tlsadapter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
	"github.com/sessionmesh/sessionmesh/store"
)

// Compile-time checks that the methods fit crypto/tls's hooks.
var _ = tls.Config{WrapSession: (*Cache)(nil).WrapSession, UnwrapSession: (*Cache)(nil).UnwrapSession}

// fakeStore is a Store in a map, with failures on demand.
type fakeStore struct {
	mu        sync.Mutex
	records   map[string]store.Record
	gets      int
	getErr    error // returned by Get instead of looking
	putErr    error // returned by Put instead of storing
	block     bool  // Get waits for its context to end
	deadlines []time.Duration
}

func newFakeStore() *fakeStore { return &fakeStore{records: make(map[string]store.Record)} }

func (f *fakeStore) NewID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%032d", len(f.records)+f.gets*1000+1)
}

func (f *fakeStore) Put(ctx context.Context, id string, r store.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putErr != nil {
		return f.putErr
	}
	f.records[id] = r
	return nil
}

func (f *fakeStore) Get(ctx context.Context, id string) (store.Record, error) {
	f.mu.Lock()
	f.gets++
	if d, ok := ctx.Deadline(); ok {
		f.deadlines = append(f.deadlines, time.Until(d))
	}
	block, err := f.block, f.getErr
	r, ok := f.records[id]
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return store.Record{}, ctx.Err()
	}
	if err != nil {
		return store.Record{}, err
	}
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	return r, nil
}

func (f *fakeStore) set(fn func(f *fakeStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// server runs a TLS server with cfg on loopback that greets each client.
func server(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					io.WriteString(tc, "hello\n")
					tc.Close()
				}
			})
		}
	})
	return ln.Addr().String()
}

// connect handshakes with addr using client, reads the greeting and reports
// whether the session resumed.
func connect(t *testing.T, addr string, client *tls.Config) (bool, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, client)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		return false, err
	}
	return c.ConnectionState().DidResume, nil
}

type fixture struct {
	store  *fakeStore
	cache  *Cache
	addr   string
	client func(version uint16) *tls.Config
}

func newFixture(t *testing.T, cfg CacheConfig) *fixture {
	t.Helper()
	f := &fixture{store: newFakeStore()}
	var err error
	if f.cache, err = NewCache(f.store, cfg); err != nil {
		t.Fatal(err)
	}
	cert, roots, err := selfsigned.New("a.example")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = server(t, f.cache.TLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))
	f.client = func(v uint16) *tls.Config {
		return &tls.Config{
			RootCAs: roots, ServerName: "a.example", MinVersion: v, MaxVersion: v,
			ClientSessionCache: tls.NewLRUClientSessionCache(8),
		}
	}
	return f
}

var versions = map[string]uint16{"TLS1.2": tls.VersionTLS12, "TLS1.3": tls.VersionTLS13}

func TestResumeThroughStore(t *testing.T) {
	for name, v := range versions {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, CacheConfig{})
			client := f.client(v)
			for i, want := range []bool{false, true, true} {
				resumed, err := connect(t, f.addr, client)
				if err != nil || resumed != want {
					t.Fatalf("connection %d: resumed=%v err=%v, want resumed=%v", i, resumed, err, want)
				}
			}
			st := f.cache.Stats()
			if st.Issued != 3 || st.Found != 2 {
				t.Errorf("stats %+v", st)
			}
			for id, r := range f.store.records {
				if len(id) != 32 || r.ServerName != "a.example" || r.Expires.Sub(r.Created) != 24*time.Hour {
					t.Errorf("stored record %+v", r)
				}
			}
		})
	}
}

// TestStoreErrorsAreMisses: whatever goes wrong in the store, the handshake
// completes in full and the miss is counted under the right reason.
func TestStoreErrorsAreMisses(t *testing.T) {
	for _, tc := range []struct {
		err    error
		reason MissReason
	}{
		{store.ErrNotFound, NotFound},
		{context.DeadlineExceeded, Timeout},
		{fmt.Errorf("wrapped: %w", store.ErrUnavailable), Unreachable},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, Unreachable},
		{store.ErrCorrupt, Undecodable},
		{store.ErrClosed, Unreachable},
		{errors.New("something unforeseen"), Unreachable},
	} {
		for name, v := range versions {
			t.Run(fmt.Sprint(tc.reason, "/", name), func(t *testing.T) {
				f := newFixture(t, CacheConfig{})
				client := f.client(v)
				if _, err := connect(t, f.addr, client); err != nil {
					t.Fatal(err)
				}
				f.store.set(func(f *fakeStore) { f.getErr = tc.err })
				resumed, err := connect(t, f.addr, client)
				if err != nil || resumed {
					t.Fatalf("resumed=%v err=%v; want a full handshake", resumed, err)
				}
				if got := f.cache.Stats().Missed(tc.reason); got != 1 {
					t.Errorf("%v misses = %d, want 1 (%+v)", tc.reason, got, f.cache.Stats())
				}
			})
		}
	}
}

// TestUndecodableState: a record whose state does not parse (another Go
// version's encoding) is a miss.
func TestUndecodableState(t *testing.T) {
	for name, v := range versions {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, CacheConfig{})
			client := f.client(v)
			connect(t, f.addr, client)
			f.store.set(func(f *fakeStore) {
				for id, r := range f.records {
					r.Value = []byte("a session state from Go 1.99")
					f.records[id] = r
				}
			})
			if resumed, err := connect(t, f.addr, client); err != nil || resumed {
				t.Fatalf("resumed=%v err=%v", resumed, err)
			}
			if f.cache.Stats().Missed(Undecodable) != 1 {
				t.Errorf("stats %+v", f.cache.Stats())
			}
		})
	}
}

func TestMalformedIdentityStaysOffTheNetwork(t *testing.T) {
	f := newFixture(t, CacheConfig{})
	for _, n := range []int{0, 1, 31, 33, 1000, 65535} {
		ss, err := f.cache.UnwrapSession(make([]byte, n), tls.ConnectionState{ServerName: "a.example"})
		if ss != nil || err != nil {
			t.Errorf("%d bytes: %v, %v", n, ss, err)
		}
	}
	if f.store.gets != 0 {
		t.Errorf("the store was asked %d times", f.store.gets)
	}
	if got := f.cache.Stats().Missed(Malformed); got != 5 {
		t.Errorf("malformed misses = %d, want 5 (the empty identity is TLS 1.2's 'no ticket')", got)
	}
}

// TestLookupIsBounded: UnwrapSession gives the store a deadline of
// LookupTimeout and returns a miss when it passes.
func TestLookupIsBounded(t *testing.T) {
	f := newFixture(t, CacheConfig{LookupTimeout: 30 * time.Millisecond})
	f.store.set(func(f *fakeStore) { f.block = true })
	ss, err := f.cache.UnwrapSession(make([]byte, 32), tls.ConnectionState{})
	if ss != nil || err != nil {
		t.Fatalf("%v, %v", ss, err)
	}
	if d := f.store.deadlines; len(d) != 1 || d[0] > 30*time.Millisecond {
		t.Errorf("store deadlines %v, want one of at most 30ms", d)
	}
	if f.cache.Stats().Missed(Timeout) != 1 {
		t.Errorf("stats %+v", f.cache.Stats())
	}
}

// TestStoreWriteFailure: if the session cannot be stored, the client still
// gets a ticket and a working connection.
func TestStoreWriteFailure(t *testing.T) {
	for name, v := range versions {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, CacheConfig{})
			f.store.set(func(f *fakeStore) { f.putErr = errors.New("disk full, somehow") })
			client := f.client(v)
			for i := range 2 {
				if resumed, err := connect(t, f.addr, client); err != nil || resumed {
					t.Fatalf("connection %d: resumed=%v err=%v", i, resumed, err)
				}
			}
			if st := f.cache.Stats(); st.IssueErrors != 2 || st.Missed(NotFound) != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestStoreWriteFailureLogsOnce: a store out of reach fails every
// handshake's session, so failures are written once a minute, the next line
// saying how many were left out, while Stats counts each.
func TestStoreWriteFailureLogsOnce(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	logger, logged := logTo(nil)
	f := newFixture(t, CacheConfig{Now: clock, Logger: logger})
	f.store.set(func(f *fakeStore) { f.putErr = store.ErrUnavailable })
	client := f.client(tls.VersionTLS13)
	for i := range 20 {
		if _, err := connect(t, f.addr, client); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	mu.Lock()
	now = now.Add(warnEvery)
	mu.Unlock()
	if _, err := connect(t, f.addr, client); err != nil {
		t.Fatal(err)
	}
	out := logged()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	errs := f.cache.Stats().IssueErrors
	if errs < 21 || len(lines) != 2 || !strings.Contains(lines[1], fmt.Sprintf("similar_lines_left_out=%d", errs-2)) {
		t.Fatalf("%d sessions not stored, %d lines written:\n%s", errs, len(lines), out)
	}
}

// TestLongServerNameNotStored: a server name longer than a DNS name can be
// (crypto/tls takes one of thousands of bytes) is the client's doing: its
// session is not stored, is counted, and writes no warning, so an outsider's
// handshakes cannot fill the log or drown out the server's own trouble.
func TestLongServerNameNotStored(t *testing.T) {
	logger, logged := logTo(&slog.HandlerOptions{Level: slog.LevelInfo})
	f := newFixture(t, CacheConfig{Logger: logger})
	client := f.client(tls.VersionTLS13)
	client.ServerName, client.InsecureSkipVerify = strings.Repeat("a", store.MaxServerName+1), true
	for i := range 5 {
		if _, err := connect(t, f.addr, client); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	f.store.mu.Lock()
	stored := len(f.store.records)
	f.store.mu.Unlock()
	if errs, out := f.cache.Stats().IssueErrors, logged(); stored != 0 || errs < 5 || out != "" {
		t.Fatalf("%d sessions stored, %d not; logged:\n%s", stored, errs, out)
	}
}

// logTo returns a text logger and a function that returns what it wrote so
// far; handshakes log from the server's goroutines.
func logTo(opts *slog.HandlerOptions) (*slog.Logger, func() string) {
	w := &lockedBuffer{}
	return slog.New(slog.NewTextHandler(w, opts)), w.String
}

// lockedBuffer is a strings.Builder safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func TestExpiryWithClock(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, CacheConfig{SessionTTL: time.Hour, Now: clock})
	client := f.client(tls.VersionTLS13)
	connect(t, f.addr, client)
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if resumed, err := connect(t, f.addr, client); err != nil || resumed {
		t.Fatalf("resumed=%v err=%v after the TTL", resumed, err)
	}
	if f.cache.Stats().Missed(Expired) != 1 {
		t.Errorf("stats %+v", f.cache.Stats())
	}
}

func TestConfigLimits(t *testing.T) {
	if _, err := NewCache(newFakeStore(), CacheConfig{SessionTTL: MaxSessionTTL + time.Second}); err == nil ||
		!strings.Contains(err.Error(), "SessionTTL") {
		t.Errorf("New with an 8-day TTL: %v", err)
	}
	if _, err := NewCache(newFakeStore(), CacheConfig{SessionTTL: MaxSessionTTL}); err != nil {
		t.Errorf("New with a 7-day TTL: %v", err)
	}
}

func TestTLSConfigKeepsBase(t *testing.T) {
	c, _ := NewCache(newFakeStore(), CacheConfig{})
	base := &tls.Config{ServerName: "x", MinVersion: tls.VersionTLS13}
	cfg := c.TLSConfig(base)
	if cfg == base || cfg.MinVersion != tls.VersionTLS13 || cfg.WrapSession == nil || cfg.UnwrapSession == nil {
		t.Errorf("TLSConfig = %+v", cfg)
	}
	if base.WrapSession != nil {
		t.Error("TLSConfig modified its argument")
	}
	if c.TLSConfig(nil).UnwrapSession == nil {
		t.Error("TLSConfig(nil) has no UnwrapSession")
	}
}

func TestReasonNames(t *testing.T) {
	seen := make(map[string]bool)
	for _, r := range Reasons() {
		s := r.String()
		if s == "" || strings.HasPrefix(s, "MissReason") || seen[s] {
			t.Errorf("reason %d is named %q", r, s)
		}
		seen[s] = true
	}
}
