//go:build unix

package main

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFriendlyFailures: each mistake ends the demo with a non-zero status and
// one line on standard error that says what is wrong: no usage dump, no stack
// trace, nothing on standard output. (A node that retries a join logs why,
// every 10 s, before it gives up: those log lines may come first.)
func TestFriendlyFailures(t *testing.T) {
	secret := "SESSIONMESH_SECRET=" + "q6nrJ5cQrgED1hq7iijCpgwP2UClyegb-JAyBCoAAJg"

	// A port nobody listens on: taken, then released.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	// A port in use for as long as the test runs.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyAddr := busy.Addr().String()

	tests := []struct {
		name   string
		env    []string
		args   []string
		status int
		stderr string // a regexp the one line must match
	}{
		{"bad flag", nil, []string{"-bogus"}, 2, `^demo: flag provided but not defined: -bogus \(-h lists the flags\)$`},
		{"bad flag value", nil, []string{"-nodes", "many"}, 2, `^demo: invalid value "many" for flag -nodes: `},
		{"too few nodes", nil, []string{"-nodes", "1"}, 2, `^demo: -nodes 1: want 2 to 100`},
		{"unknown resumption", nil, []string{"-resumption", "redis"}, 2, `^demo: -resumption "redis": want cache, tickets or off$`},
		{"bad ticket rotation", nil, []string{"-ticket-rotation", "0s"}, 2, `^demo: -ticket-rotation 0s: must be at least 1s$`},
		{"stray argument", nil, []string{"nodes"}, 2, `^demo: unexpected argument "nodes"`},
		{"node: bad flag", []string{secret}, []string{"node", "-bogus"}, 2, `^demo node: flag provided but not defined: -bogus`},
		{"node: no secret", nil, []string{"node"}, 2, `^demo node: SESSIONMESH_SECRET is not set`},
		{"node: bad secret", []string{"SESSIONMESH_SECRET=c2hvcnQ"}, []string{"node"}, 2, `^demo node: SESSIONMESH_SECRET: cluster: weak secret: it is 5 bytes, want at least 16 random bytes`},
		{"node: port in use", []string{secret}, []string{"node", "-addr", busyAddr}, 1, `^demo node: -addr ` + regexp.QuoteMeta(busyAddr) + `: cannot listen: address already in use$`},
		{"node: gossip port in use", []string{secret}, []string{"node", "-gossip", busyAddr}, 1, `^demo node: .*gossip.*` + regexp.QuoteMeta(busyAddr) + `.*address already in use$`},
		{"node: join address not a host:port", []string{secret}, []string{"node", "-join", "localhost"}, 2, `^demo node: -join "localhost": want host:port$`},
		{"probe: no address", nil, []string{"probe"}, 2, `^demo probe: no address to probe \(-h for usage\)$`},
		{"probe: two versions", nil, []string{"probe", "-tls1.2", "-tls1.3", "127.0.0.1:1"}, 2, `^demo probe: -tls1.2 and -tls1.3: choose one$`},
		{"probe: bad flag", nil, []string{"probe", "-bogus", "127.0.0.1:1"}, 2, `^demo probe: flag provided but not defined: -bogus \(-h lists the flags\)$`},
		{"node: join a closed port", []string{secret}, []string{"node", "-join", closedAddr}, 1, `^demo node: -join ` + regexp.QuoteMeta(closedAddr) + `: no cluster answered within 10s: .*connection refused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, testEnv(tt.env...), tt.args...)
			// The join attempts go on for 10s; the rest end at once.
			if got := p.wait(exitTimeout + 10*time.Second); got != tt.status {
				t.Errorf("exit status %d, want %d\n%s", got, tt.status, p.dump())
			}
			stderr := p.stderr.String()
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			line := lines[len(lines)-1]
			for _, l := range lines[:len(lines)-1] {
				if !strings.Contains(l, "level=WARN msg=\"cannot join the cluster yet; retrying\"") {
					t.Errorf("standard error is more than one line:\n%s", stderr)
					break
				}
			}
			if !strings.HasSuffix(stderr, "\n") {
				t.Errorf("standard error does not end with a newline: %q", stderr)
			}
			if !regexp.MustCompile(tt.stderr).MatchString(line) {
				t.Errorf("standard error %q does not match %s", line, tt.stderr)
			}
			if out := p.output(); len(out) > 0 {
				t.Errorf("standard output: %q, want nothing", out)
			}
		})
	}
}
