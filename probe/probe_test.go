package probe_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/probe"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var versions = []uint16{tls.VersionTLS12, tls.VersionTLS13}

// checkAll checks results of All over addrs: in order, connected in
// version, and resumed as want says for each pair.
func checkAll(t *testing.T, results []probe.Result, addrs []string, version uint16, want func(from, to string) bool) {
	t.Helper()
	if len(results) != len(addrs)*len(addrs) {
		t.Fatalf("%d results for %d addresses", len(results), len(addrs))
	}
	i := 0
	for _, from := range addrs {
		for _, to := range addrs {
			r := results[i]
			i++
			if r.From != from || r.To != to {
				t.Errorf("result %d is %s -> %s, want %s -> %s", i, r.From, r.To, from, to)
			}
			if r.Err != nil || r.Version != version || r.Resumed != want(from, to) {
				t.Errorf("%s -> %s: %s (err %v, note %q), want resumed=%v in %s", from, to, r, r.Err, r.Note, want(from, to), tls.VersionName(version))
			}
		}
	}
}

// TestPlainServers: two plain Go servers, each with its own automatic
// ticket keys, as servers without sessionmesh are, each resume their own
// sessions and neither the other's, with no note: nothing on the client's
// side stood in the way.
func TestPlainServers(t *testing.T) {
	cert, pool := testCert(t)
	addrs := []string{httpsServer(t, serverTLS(cert, nil)), httpsServer(t, serverTLS(cert, nil))}
	for _, v := range versions {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			results := probe.All(t.Context(), addrs, probe.Config{RootCAs: pool, Version: v})
			checkAll(t, results, addrs, v, func(from, to string) bool { return from == to })
			for _, r := range results {
				if r.Note != "" {
					t.Errorf("%s -> %s: note %q", r.From, r.To, r.Note)
				}
			}
			if probe.OK(results) {
				t.Error("OK, want not")
			}
		})
	}
}

// TestSharedTicketKey: servers that encrypt tickets with the same key
// resume each other's sessions, in either version, and by default in the
// newest.
func TestSharedTicketKey(t *testing.T) {
	cert, pool := testCert(t)
	key := ticketKey(t)
	addrs := []string{httpsServer(t, serverTLS(cert, &key)), httpsServer(t, serverTLS(cert, &key))}
	for _, v := range []uint16{0, tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			results := probe.All(t.Context(), addrs, probe.Config{RootCAs: pool, Version: v})
			want := v
			if v == 0 {
				want = tls.VersionTLS13
			}
			checkAll(t, results, addrs, want, func(string, string) bool { return true })
			if !probe.OK(results) {
				t.Error("not OK")
			}
		})
	}
}

// TestServerName: the server name is what is asked of every address, and
// what certificates are verified for. Without it, a session made on a
// server whose certificate is not valid for the other address's host is
// never offered there, and the note says so.
func TestServerName(t *testing.T) {
	cert, pool := testCert(t)
	key := ticketKey(t)
	a := httpsServer(t, serverTLS(ipOnlyCert(t, pool), &key)) // valid for 127.0.0.1 only
	_, port, _ := net.SplitHostPort(httpsServer(t, serverTLS(cert, &key)))
	b := net.JoinHostPort("localhost", port)
	for _, v := range versions {
		for _, tc := range []struct {
			name    string
			cfg     probe.Config
			resumed bool
		}{
			{"per-address names", probe.Config{RootCAs: pool}, false},
			{"one server name", probe.Config{RootCAs: pool, ServerName: "127.0.0.1"}, true},
			{"not verified", probe.Config{InsecureSkipVerify: true}, true},
		} {
			t.Run(tls.VersionName(v)+"/"+tc.name, func(t *testing.T) {
				tc.cfg.Version = v
				r := probe.Pair(t.Context(), a, b, tc.cfg)
				if r.Err != nil || r.Resumed != tc.resumed {
					t.Fatalf("%s (err %v), want resumed=%v", r, r.Err, tc.resumed)
				}
				if !r.Resumed && r.Note == "" {
					t.Error("no note")
				}
			})
		}
	}
}

// TestTicketsDisabled: a server that gives no session cannot resume one;
// the note says so.
func TestTicketsDisabled(t *testing.T) {
	cert, pool := testCert(t)
	cfg := serverTLS(cert, nil)
	cfg.SessionTicketsDisabled = true
	a := httpsServer(t, cfg)
	for _, v := range versions {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			r := probe.Pair(t.Context(), a, a, probe.Config{RootCAs: pool, Version: v})
			if r.Err != nil || r.Resumed || r.Version != v {
				t.Fatalf("%s (err %v), want New %s", r, r.Err, tls.VersionName(v))
			}
			if r.Note == "" {
				t.Error("no note")
			}
			if probe.OK([]probe.Result{r}) {
				t.Error("OK, want not")
			}
		})
	}
}

// TestVersionsDiffer: a session made in one version cannot resume in the
// other; with no Version asked for, each server speaks its newest, and the
// note says why the sessions did not resume.
func TestVersionsDiffer(t *testing.T) {
	cert, pool := testCert(t)
	key := ticketKey(t)
	a := httpsServer(t, serverTLS(cert, &key))
	old := serverTLS(cert, &key)
	old.MaxVersion = tls.VersionTLS12
	b := httpsServer(t, old)
	for _, tc := range []struct {
		from, to string
		version  uint16
	}{
		{a, b, tls.VersionTLS12},
		{b, a, tls.VersionTLS13},
	} {
		r := probe.Pair(t.Context(), tc.from, tc.to, probe.Config{RootCAs: pool})
		if r.Err != nil || r.Resumed || r.Version != tc.version {
			t.Errorf("%s -> %s: %s (err %v), want New %s", tc.from, tc.to, r, r.Err, tls.VersionName(tc.version))
		}
		if r.Note == "" {
			t.Errorf("%s -> %s: no note", tc.from, tc.to)
		}
	}
	// Asked for TLS 1.2, they share.
	if r := probe.Pair(t.Context(), a, b, probe.Config{RootCAs: pool, Version: tls.VersionTLS12}); !r.Resumed {
		t.Errorf("in TLS 1.2: %s (err %v, note %q)", r, r.Err, r.Note)
	}
}

// TestVersion: Version limits the connections to that version: a server
// that does not speak it fails, and a version the probe does not know fails
// every pair without connecting.
func TestVersion(t *testing.T) {
	cert, pool := testCert(t)
	old := serverTLS(cert, nil)
	old.MaxVersion = tls.VersionTLS12
	a := httpsServer(t, old)
	r := probe.Pair(t.Context(), a, a, probe.Config{RootCAs: pool, Version: tls.VersionTLS13})
	if r.Err == nil || r.String() != "Failed TLSv1.3" {
		t.Errorf("TLS 1.3 from a TLS 1.2 server: %s (err %v)", r, r.Err)
	}
	if r := probe.Pair(t.Context(), a, a, probe.Config{RootCAs: pool}); r.String() != "Reused TLSv1.2" {
		t.Errorf("any version from a TLS 1.2 server: %s (err %v)", r, r.Err)
	}

	hold, handshakes := holdServer(t, serverTLS(cert, nil))
	r = probe.Pair(t.Context(), hold, hold, probe.Config{RootCAs: pool, Version: tls.VersionTLS11})
	if r.Err == nil || r.Resumed {
		t.Errorf("TLS 1.1: %s (err %v)", r, r.Err)
	}
	select {
	case <-handshakes:
		t.Error("TLS 1.1: connected")
	default:
	}
}

// TestRefused: a pair with an address where nothing listens fails, with the
// dial error, whichever side it is on.
func TestRefused(t *testing.T) {
	cert, pool := testCert(t)
	live, gone := httpsServer(t, serverTLS(cert, nil)), closedAddr(t)
	for _, tc := range []struct {
		from, to string
		version  uint16
		want     string
	}{
		{gone, gone, 0, "Failed"},
		{gone, gone, tls.VersionTLS13, "Failed TLSv1.3"},
		{live, gone, tls.VersionTLS12, "Failed TLSv1.2"},
		{gone, live, tls.VersionTLS12, "Failed TLSv1.2"},
	} {
		r := probe.Pair(t.Context(), tc.from, tc.to, probe.Config{RootCAs: pool, Version: tc.version})
		var op *net.OpError
		if r.String() != tc.want || r.Resumed || !errors.As(r.Err, &op) || op.Op != "dial" {
			t.Errorf("%s -> %s: %s (err %v), want %s with a dial error", tc.from, tc.to, r, r.Err, tc.want)
		}
	}
	if results := probe.All(t.Context(), []string{gone}, probe.Config{}); probe.OK(results) {
		t.Error("OK with nothing listening")
	}
}

// TestNotHTTP: a TLS server that does not speak HTTP never closes the
// connection; each connection costs the timeout, and the ticket a TLS 1.3
// server sends after the handshake still arrives.
func TestNotHTTP(t *testing.T) {
	cert, pool := testCert(t)
	hold, _ := holdServer(t, serverTLS(cert, nil))
	timeout := 150 * time.Millisecond
	start := time.Now()
	r := probe.Pair(t.Context(), hold, hold, probe.Config{RootCAs: pool, Version: tls.VersionTLS13, Timeout: timeout})
	if r.String() != "Reused TLSv1.3" {
		t.Errorf("%s (err %v, note %q)", r, r.Err, r.Note)
	}
	if took := time.Since(start); took < 2*timeout {
		t.Errorf("took %v, want two timeouts", took)
	}
}

// TestCancel: a cancelled context ends the probe at once, even while it
// waits on a server that keeps the connection open, on either side of the
// pair, and fails the pair with the context's error.
func TestCancel(t *testing.T) {
	cert, pool := testCert(t)
	hold, handshakes := holdServer(t, serverTLS(cert, nil))
	live := httpsServer(t, serverTLS(cert, nil))
	cfg := probe.Config{RootCAs: pool, Timeout: time.Minute}
	for _, tc := range []struct{ name, from, to string }{
		{"from holds", hold, hold}, // cancelled as the first connection reads
		{"to holds", live, hold},   // cancelled as the second one reads
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan probe.Result)
			go func() { done <- probe.Pair(ctx, tc.from, tc.to, cfg) }()
			<-handshakes
			cancel()
			select {
			case r := <-done:
				if !errors.Is(r.Err, context.Canceled) || r.String() != "Failed" {
					t.Errorf("%s (err %v), want Failed with context.Canceled", r, r.Err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Pair ignored the cancellation")
			}
		})
	}

	// All with a context already done: every pair failed, none waited.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	results := probe.All(ctx, []string{hold, live, closedAddr(t)}, cfg)
	if len(results) != 9 {
		t.Fatalf("%d results, want 9", len(results))
	}
	for _, r := range results {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%s -> %s: %s (err %v), want context.Canceled", r.From, r.To, r, r.Err)
		}
	}
}
