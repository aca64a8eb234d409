//go:build unix

package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// TestProbePlainServers: against two plain Go HTTPS servers, each with its
// own automatic ticket keys, as servers without sessionmesh are, the probe
// reports each server resuming its own sessions and neither resuming the
// other's, and exits 1, in both TLS versions.
func TestProbePlainServers(t *testing.T) {
	cert, _, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for range 2 {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "plain\n")
		}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		addrs = append(addrs, strings.TrimPrefix(srv.URL, "https://"))
	}
	for _, flag := range []string{"-tls1.2", "-tls1.3"} {
		t.Run(flag, func(t *testing.T) {
			lines, code := runProbeCmd(t, "-k", flag, addrs[0], addrs[1])
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			checkProbe(t, lines, addrs, func(a, b string) string {
				if a == b {
					return "Reused"
				}
				return "New"
			})
			for _, l := range lines {
				if !strings.HasSuffix(l, versionName(map[string]uint16{"-tls1.2": tls.VersionTLS12, "-tls1.3": tls.VersionTLS13}[flag])) {
					t.Errorf("%q: not in %s", l, flag)
				}
			}
		})
	}
}

// TestProbeUnreachable: a pair whose server is not there fails, with the
// reason on standard error, and the probe exits 1.
func TestProbeUnreachable(t *testing.T) {
	gone := closedAddr(t)
	p := startProc(t, testEnv(), "probe", "-k", "-tls1.3", gone)
	if code := p.wait(startTimeout); code != 1 {
		t.Errorf("exit status %d, want 1\n%s", code, p.dump())
	}
	if out := p.output(); len(out) != 1 || out[0] != "probe "+gone+" -> "+gone+": Failed TLSv1.3" {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(p.stderr.String(), "connection refused") {
		t.Errorf("standard error %q does not say why", p.stderr.String())
	}
}
