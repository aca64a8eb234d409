//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// The tests run the real binary, built once by TestMain, as separate
// processes, and the Node.js examples next to them.
var (
	bin     string
	nodeDir string // examples/node
)

const startTimeout = time.Minute // a busy 2-core machine

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionmesh-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "sessionmesh")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	nodeDir, _ = filepath.Abs("../../examples/node")
	defer os.RemoveAll(dir)
	leakcheck.Main(m)
}

// requireTool skips the test when a tool is missing, unless
// SESSIONMESH_REQUIRE_NODE is set (as .ci/run sets it): then it fails.
func requireTool(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("SESSIONMESH_REQUIRE_NODE") != "" {
				t.Fatalf("%s is not installed, and SESSIONMESH_REQUIRE_NODE is set", tool)
			}
			t.Skipf("%s is not installed (set SESSIONMESH_REQUIRE_NODE to fail instead)", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ioredis")); err != nil && contains(tools, "node") {
		if os.Getenv("SESSIONMESH_REQUIRE_NODE") != "" {
			t.Fatalf("examples/node has no node_modules: run npm ci there (.ci/run does)")
		}
		t.Skip("examples/node has no node_modules: run npm ci there")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// proc is a process whose standard output the test reads line by line.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	stderr *lockedBuffer
	done   chan struct{}
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

// start runs a process until the test ends (then SIGKILL, if still running).
func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(name, args...), lines: make(chan string, 100), stderr: new(lockedBuffer), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// line waits for the next line of standard output.
func (p *proc) line() string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.done
			p.t.Fatalf("%s exited (%v) before its line; stderr:\n%s", p.cmd.Path, p.cmd.ProcessState, p.stderr)
		}
		return l
	case <-time.After(startTimeout):
		p.t.Fatalf("%s printed nothing for %v; stderr:\n%s", p.cmd.Path, startTimeout, p.stderr)
	}
	return ""
}

// exit waits for the process to exit and returns its status.
func (p *proc) exit() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(startTimeout):
		p.t.Fatalf("%s did not exit; stderr:\n%s", p.cmd.Path, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

func env(extra ...string) []string {
	var e []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIONMESH_") {
			e = append(e, kv)
		}
	}
	return append(e, extra...)
}

// sidecar is a running sidecar process.
type sidecar struct {
	*proc
	name, resp, gossip, data string
	pid                      int
}

var sidecarLine = regexp.MustCompile(`^sidecar (\S+) pid=(\d+) resp=(\S+) gossip=(\S+) data=(\S+)$`)

// cluster starts n sidecars on loopback with free ports, each joining the first.
func startCluster(t *testing.T, n int, extraEnv ...string) []*sidecar {
	t.Helper()
	secret := sessionmesh.EncodeSecret(sessionmesh.NewSecret())
	var out []*sidecar
	for i := range n {
		args := []string{"sidecar", "-name", fmt.Sprint("sidecar-", i+1), "-gossip", "127.0.0.1:0", "-data", "127.0.0.1:0",
			"-resp", "127.0.0.1:0", "-timing", "local"}
		if i > 0 {
			args = append(args, "-join", out[0].gossip)
		}
		out = append(out, startSidecar(t, env(append(extraEnv, "SESSIONMESH_SECRET="+secret)...), args...))
	}
	return out
}

func startSidecar(t *testing.T, env []string, args ...string) *sidecar {
	t.Helper()
	p := start(t, env, bin, args...)
	l := p.line()
	m := sidecarLine.FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("the sidecar's line %q is not the contract's", l)
	}
	s := &sidecar{proc: p, name: m[1], resp: m[3], gossip: m[4], data: m[5]}
	fmt.Sscan(m[2], &s.pid)
	if s.pid != p.cmd.Process.Pid {
		t.Errorf("pid=%d, the process is %d", s.pid, p.cmd.Process.Pid)
	}
	return s
}

// certFiles writes a throwaway certificate and key for localhost.
func certFiles(t *testing.T) (cert, key string) {
	t.Helper()
	c, _, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	return cert, key
}

// TestUsage: the command line's errors are one line, with exit status 2 for
// usage and 1 for the rest.
func TestUsage(t *testing.T) {
	secret := "SESSIONMESH_SECRET=" + sessionmesh.EncodeSecret(sessionmesh.NewSecret())
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared-pass")
	if err := os.WriteFile(shared, []byte("pw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o644) // whatever the umask
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no command", env(), nil, 2, "usage: sessionmesh sidecar"},
		{"no secret", env(), []string{"sidecar"}, 2, "SESSIONMESH_SECRET is not set"},
		{"bad flag", env(secret), []string{"sidecar", "-nope"}, 2, "-h lists the flags"},
		{"bad address", env(secret), []string{"sidecar", "-resp", "6380"}, 2, `-resp "6380": want host:port`},
		{"password flag", env(secret), []string{"sidecar", "-requirepass", "pw"}, 2,
			"the password comes from SESSIONMESH_REQUIREPASS or -requirepass-file, never a flag"},
		{"secret flag", env(secret), []string{"sidecar", "--secret=x"}, 2, "the cluster secret comes from SESSIONMESH_SECRET, never a flag"},
		{"secret not base64", env("SESSIONMESH_SECRET=AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), []string{"sidecar"}, 2,
			"make one with `head -c 32 /dev/urandom | base64`"},
		{"password file others read", env(secret), []string{"sidecar", "-requirepass-file", shared}, 2, "(mode 0644): chmod 600 " + shared},
		{"not loopback", env(secret), []string{"sidecar", "-gossip", "127.0.0.1:0", "-data", "127.0.0.1:0", "-resp", "0.0.0.0:0", "-timing", "local"},
			1, "not a loopback address, and no password is set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.env, bin, tc.args...)
			if code := p.exit(); code != tc.code {
				t.Errorf("exit status %d, want %d", code, tc.code)
			}
			if s := p.stderr.String(); !strings.Contains(s, tc.want) || strings.Count(strings.TrimSpace(s), "\n") > 5 {
				t.Errorf("stderr %q, want one line with %q", s, tc.want)
			}
		})
	}
}

// TestSignalHandsOver: SIGTERM stops a sidecar with exit status 0, and the
// values it held are still there on the others.
func TestSignalHandsOver(t *testing.T) {
	t.Parallel()
	requireTool(t, "redis-cli")
	sc := startCluster(t, 3)
	for i := range 30 {
		cli(t, sc[2].resp, "SET", fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	sc[2].cmd.Process.Signal(syscall.SIGTERM)
	if code := sc[2].exit(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, sc[2].stderr)
	}
	// Each of the others has its copies plus what it was handed: every value
	// is still readable with one member of three gone.
	for i := range 30 {
		if got := cli(t, sc[i%2].resp, "GET", fmt.Sprint("k", i)); got != fmt.Sprint("v", i) {
			t.Errorf("k%d after the sidecar left: %q", i, got)
		}
	}
}

// cli runs redis-cli against addr and returns its output, trimmed.
func cli(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port := splitAddr(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func splitAddr(addr string) (host, port string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

// execOutput runs a command for at most 30 seconds and returns its output.
func execOutput(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// TestRespTaken: a sidecar whose Redis port is taken fails before it joins:
// exit status 1 with the -resp error, and the member it was told to join
// never counts it (a join and a crash would show as two members until the
// crash is noticed, seconds later).
func TestRespTaken(t *testing.T) {
	t.Parallel()
	requireTool(t, "redis-cli")
	secret := "SESSIONMESH_SECRET=" + sessionmesh.EncodeSecret(sessionmesh.NewSecret())
	first := startSidecar(t, env(secret), "sidecar", "-name", "first", "-gossip", "127.0.0.1:0", "-data", ":0",
		"-resp", "127.0.0.1:0", "-timing", "local")
	// With -data on every interface, the line gives the address other
	// members reach: the gossip host and the data port.
	if gh, _ := splitAddr(first.gossip); !strings.HasPrefix(first.data, gh+":") {
		t.Errorf("data=%s, want the advertised host of gossip=%s", first.data, first.gossip)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	second := start(t, env(secret), bin, "sidecar", "-name", "second", "-gossip", "127.0.0.1:0", "-data", "127.0.0.1:0",
		"-resp", taken.Addr().String(), "-join", first.gossip, "-timing", "local")
	if code := second.exit(); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if e := second.stderr.String(); !strings.Contains(e, "sessionmesh sidecar: -resp: ") || !strings.Contains(e, "address already in use") {
		t.Errorf("stderr %q, want the -resp error", e)
	}
	if info := cli(t, first.resp, "INFO", "cluster"); !regexp.MustCompile(`(?m)^cluster_members:1\r?$`).MatchString(info) || strings.Contains(info, "second") {
		t.Errorf("the first member's INFO after the second failed:\n%s", info)
	}
}
