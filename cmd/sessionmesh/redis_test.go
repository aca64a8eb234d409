//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// startRedis starts a real redis-server on a free port, for comparison.
func startRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	p := start(t, env(), "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	addr := "127.0.0.1:" + port
	waitFor(t, "redis-server answers", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	_ = p
	return addr
}

// TestRedisCLI: redis-cli gets the same answers from a sidecar as from
// redis-server, for every command the sidecar has, in one session of
// commands each; the differences package resp documents are left out (TTL
// of a key set without one; the HELLO reply's version and id).
func TestRedisCLI(t *testing.T) {
	t.Parallel()
	requireTool(t, "redis-cli", "redis-server")
	redisAddr := startRedis(t)
	sc := startCluster(t, 1)
	script := []string{
		"PING", "PING hello", "PING a b", "ECHO x", "SELECT 0", "SELECT abc", // SELECT 1: one database here
		"GET", "GET nokey", "SET k v", "GET k", "SET k w NX", "SET k w XX GET", "GET k", "SET k2 w XX", "SET k2 w NX GET",
		"SET k v EX 0", "SET k v EX abc", "SET k v NX XX", "SET k v EX 10 PX 100", "SET k v BOGUS", "SET k v EX",
		"SET k v EX 100", "TTL k", "SET k v2 KEEPTTL", "TTL k", "SETEX k 0 v", "SETEX k abc v", "SETEX k 10",
		"SETEX k 100 v3", "TTL k", "PSETEX k 0 v", "EXPIRE k abc", "EXPIRE nokey 10", "EXPIRE k 200", "TTL k",
		"EXPIRE k 50 GT", "EXPIRE k 50 LT", "TTL k", "TTL nokey", "PTTL nokey", "EXISTS k k nokey", "EXISTS",
		"DEL k nokey", "DEL", "GET k", "SET k v", "EXPIRE k 0", "GET k", "FOO bar baz", "FOO",
		"AUTH x", "AUTH a b", "CLIENT", "CLIENT FOO", "CLIENT GETNAME", "CLIENT SETNAME a b", "CLIENT SETNAME ab",
		"CLIENT GETNAME", "HELLO 4", "HELLO abc", "QUIT",
	}
	run := func(addr string) []string {
		var out []string
		for _, line := range script {
			host, port := splitAddr(addr)
			args := append([]string{"-h", host, "-p", port}, strings.Fields(line)...)
			o, _ := execOutput("redis-cli", args...)
			out = append(out, strings.TrimSpace(o))
		}
		return out
	}
	want, got := run(redisAddr), run(sc[0].resp)
	for i := range script {
		if got[i] != want[i] {
			t.Errorf("%s: sidecar %q, redis-server %q", script[i], got[i], want[i])
		}
	}
}

// TestBadInput: a huge bulk length, garbage, half a command and 10,000
// connections at once get Redis's errors, and the sidecar's memory stays
// bounded; it serves on afterwards.
func TestBadInput(t *testing.T) {
	t.Parallel()
	requireTool(t, "redis-cli")
	sc := startCluster(t, 1)
	s := sc[0]
	rss0 := rss(t, s.pid)
	exchange := func(send string) string {
		c, err := net.Dial("tcp", s.resp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, send)
		b, _ := io.ReadAll(c)
		return string(b)
	}
	for send, want := range map[string]string{
		"*1\r\n$2147483647\r\n":          "-ERR Protocol error: invalid bulk length\r\n",
		"*1\r\n$9223372036854775807\r\n": "-ERR Protocol error: invalid bulk length\r\n",
		"*2147483647\r\n":                "-ERR Protocol error: invalid multibulk length\r\n",
		"*1\r\n\x00\xff\xfe\r\n":         "-ERR Protocol error: expected '$', got '\x00'\r\n",
	} {
		if got := exchange(send); got != want {
			t.Errorf("%q: got %q, want %q", send, got, want)
		}
	}

	// 10,000 connections at once, each with half a command: the first
	// -maxclients (1024) wait for the rest of theirs; the others are told
	// there is no room, as Redis tells them.
	const n = 10000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", s.resp)
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
		io.WriteString(c, "*2\r\n$3\r\nGET\r\n$1")
	}
	var mu sync.Mutex
	full, waiting := 0, 0
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			l, err := bufio.NewReader(c).ReadString('\n')
			mu.Lock()
			defer mu.Unlock()
			switch {
			case l == "-ERR max number of clients reached\r\n":
				full++
			case err != nil && os.IsTimeout(err):
				waiting++
			default:
				t.Errorf("a connection got %q %v", l, err)
			}
		}()
	}
	wg.Wait()
	if waiting != 1024 || full != n-1024 {
		t.Errorf("%d connections served and waiting, %d told there is no room; want 1024 and %d", waiting, full, n-1024)
	}
	if grown := rss(t, s.pid) - rss0; grown > 150<<20 {
		t.Errorf("the sidecar grew by %d MiB for %d connections", grown>>20, n)
	} else {
		t.Logf("the sidecar grew by %d MiB for %d connections", grown>>20, n)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, "the sidecar serves again", func() bool {
		o, _ := execOutput("redis-cli", "-h", "127.0.0.1", "-p", strings.Split(s.resp, ":")[1], "PING")
		return strings.TrimSpace(o) == "PONG"
	})
}

// rss returns a process's resident memory in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
