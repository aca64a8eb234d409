package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/testclock"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type fixture struct {
	t     *testing.T
	clock *testclock.Clock
	store *fakeStore
	srv   *Server
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: testclock.New(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))}
	f.store = newFakeStore(f.clock.Now)
	cfg.Store, cfg.Now = f.store, f.clock.Now
	if cfg.TicketKeys == nil {
		cfg.TicketKeys = fakeKeys{id: 7}
	}
	srv, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

// conn is a raw client: it sends commands as RESP arrays and reads replies
// as the bytes they are.
type conn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func (f *fixture) dial() *conn {
	f.t.Helper()
	c, err := net.Dial("tcp", f.srv.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &conn{t: f.t, c: c, rd: bufio.NewReader(c)}
}

func encode(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func (c *conn) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, raw); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads one whole reply, nested ones included, as raw bytes.
func (c *conn) reply() string {
	c.t.Helper()
	line, err := c.rd.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading a reply: %v (so far %q)", err, line)
	}
	switch line[0] {
	case '$':
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		if n < 0 {
			return line
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(c.rd, body); err != nil {
			c.t.Fatal(err)
		}
		return line + string(body)
	case '*', '%':
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		if line[0] == '%' {
			n *= 2
		}
		for range n {
			line += c.reply()
		}
	}
	return line
}

func (c *conn) do(args ...string) string {
	c.t.Helper()
	c.send(encode(args...))
	return c.reply()
}

func (c *conn) closed() bool {
	c.t.Helper()
	_, err := c.rd.ReadByte()
	return err != nil
}

// TestCommands: each command's answers, byte for byte, as Redis 7 gives them
// (checked against redis-server; the differences the package documentation
// lists are marked).
func TestCommands(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.dial()
	steps := []struct{ args, want string }{
		{"PING", "+PONG\r\n"},
		{"PING hi", "$2\r\nhi\r\n"},
		{"PING a b", "-ERR wrong number of arguments for 'ping' command\r\n"},
		{"ECHO x", "$1\r\nx\r\n"},
		{"GET", "-ERR wrong number of arguments for 'get' command\r\n"},
		{"GET a b", "-ERR wrong number of arguments for 'get' command\r\n"},
		{"GET nokey", "$-1\r\n"},
		{"SET k v", "+OK\r\n"},
		{"GET k", "$1\r\nv\r\n"},
		{"TTL k", ":86400\r\n"}, // Redis: -1; here the default TTL
		{"SET k w NX", "$-1\r\n"},
		{"SET k w XX GET", "$1\r\nv\r\n"},
		{"SET k2 w XX", "$-1\r\n"},
		{"SET k2 w NX GET", "$-1\r\n"},
		{"GET k2", "$1\r\nw\r\n"},
		{"SET k v EX 0", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v EX -1", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v EX abc", "-ERR value is not an integer or out of range\r\n"},
		{"SET k v NX XX", "-ERR syntax error\r\n"},
		{"SET k v EX 10 PX 100", "-ERR syntax error\r\n"},
		{"SET k v EX", "-ERR syntax error\r\n"},
		{"SET k v BOGUS", "-ERR syntax error\r\n"},
		{"SET k v PX 9223372036854775807", "-ERR invalid expire time in 'set' command\r\n"},
		// Past April 2262 (UnixNano's end), refused, and the old value stays.
		{"SET k v EXAT 32503680000", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v PXAT 9223372036855", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v EX 9000000000", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v PXAT 9223372036854", "+OK\r\n"},
		{"SET k v EX 100", "+OK\r\n"},
		{"TTL k", ":100\r\n"},
		{"PTTL k", ":100000\r\n"},
		{"SET k v2 KEEPTTL", "+OK\r\n"},
		{"PTTL k", ":100000\r\n"},
		{"SETEX k 0 v", "-ERR invalid expire time in 'setex' command\r\n"},
		{"SETEX k abc v", "-ERR value is not an integer or out of range\r\n"},
		{"SETEX k 10", "-ERR wrong number of arguments for 'setex' command\r\n"},
		{"SETEX k 10 v3", "+OK\r\n"},
		{"PSETEX k 0 v", "-ERR invalid expire time in 'psetex' command\r\n"},
		{"PSETEX k 1500 v3", "+OK\r\n"},
		{"TTL k", ":2\r\n"}, // rounded, as Redis does
		{"EXPIRE k abc", "-ERR value is not an integer or out of range\r\n"},
		{"EXPIRE nokey 10", ":0\r\n"},
		{"EXPIRE k 100", ":1\r\n"},
		{"EXPIRE k 50 GT", ":0\r\n"},
		{"EXPIRE k 50 LT", ":1\r\n"},
		{"EXPIRE k 50 NX", ":0\r\n"}, // every value has an expiry here
		{"EXPIRE k 50 NX XX", "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"},
		{"EXPIRE k 50 FOO", "-ERR Unsupported option FOO\r\n"},
		{"TTL k", ":50\r\n"},
		{"TTL nokey", ":-2\r\n"},
		{"PTTL nokey", ":-2\r\n"},
		{"EXISTS k k nokey", ":2\r\n"},
		{"EXISTS", "-ERR wrong number of arguments for 'exists' command\r\n"},
		{"DEL k nokey", ":1\r\n"},
		{"DEL", "-ERR wrong number of arguments for 'del' command\r\n"},
		{"GET k", "$-1\r\n"},
		{"SET k v", "+OK\r\n"},
		{"EXPIRE k 0", ":1\r\n"},
		{"GET k", "$-1\r\n"},
		{"SELECT 0", "+OK\r\n"},
		{"SELECT 1", "-ERR DB index is out of range\r\n"},
		{"SELECT abc", "-ERR value is not an integer or out of range\r\n"},
		{"FOO bar baz", "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n"},
		{"FOO", "-ERR unknown command 'FOO', with args beginning with: \r\n"},
		{"AUTH x", "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"},
		{"AUTH a b", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"CLIENT", "-ERR wrong number of arguments for 'client' command\r\n"},
		{"CLIENT FOO", "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"},
		{"CLIENT GETNAME", "$-1\r\n"},
		{"CLIENT SETNAME a b", "-ERR wrong number of arguments for 'client|setname' command\r\n"},
		{"CLIENT SETNAME ab", "+OK\r\n"},
		{"CLIENT GETNAME", "$2\r\nab\r\n"},
		{"CLIENT SETINFO lib-name ioredis", "+OK\r\n"},
		{"CLIENT SETINFO foo 1", "-ERR Unrecognized option 'foo'\r\n"},
		{"COMMAND DOCS", "*0\r\n"},
		{"COMMAND", "*0\r\n"},
		{"COMMAND COUNT", ":21\r\n"}, // as doc.go says: the commands it lists
		{"INFO keyspace", "$12\r\n# Keyspace\r\n\r\n"},
		{"HELLO 4", "-NOPROTO unsupported protocol version\r\n"},
		{"HELLO abc", "-ERR Protocol version is not an integer or out of range\r\n"},
		{"HELLO 2 FOO", "-ERR Syntax error in HELLO option 'FOO'\r\n"},
		{"SESSIONMESH.TICKETKEY", "$48\r\n" + TicketKeyLabel[:48] + "\r\n"},
		{"QUIT", "+OK\r\n"},
	}
	for _, s := range steps {
		if got := c.do(strings.Fields(s.args)...); got != s.want {
			t.Errorf("%s: got %q, want %q", s.args, got, s.want)
		}
		f.clock.Advance(0)
	}
	if !c.closed() {
		t.Error("the connection is open after QUIT")
	}
}

// TestLimits: a value over the store's limit and a key over its limit are
// refused in Redis's way, never cut short.
func TestLimits(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.dial()
	big := strings.Repeat("x", maxValue+1)
	if got := c.do("SET", "k", big); !strings.HasPrefix(got, "-ERR value is too large") {
		t.Errorf("SET of %d bytes: %q", len(big), got)
	}
	if got := c.do("SET", "k", big[:maxValue]); got != "+OK\r\n" {
		t.Errorf("SET of %d bytes: %q", maxValue, got)
	}
	if got := c.do("SET", strings.Repeat("k", 251), "v"); !strings.HasPrefix(got, "-ERR key is too long") {
		t.Errorf("a 251-byte key: %q", got)
	}
	if got := c.do("GET", strings.Repeat("k", 250)); got != "$-1\r\n" {
		t.Errorf("a 250-byte key: %q", got)
	}
}

// TestClusterUnavailable: when the store cannot answer, every command that
// needs it says so; none answers a nil that would read as "no such key".
func TestClusterUnavailable(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.dial()
	c.do("SET", "k", "v")
	f.store.setFail(true)
	for _, cmd := range []string{"GET k", "SET k v", "SET k v NX", "DEL k", "EXISTS k", "TTL k", "EXPIRE k 5", "SETEX k 5 v"} {
		if got := c.do(strings.Fields(cmd)...); !strings.HasPrefix(got, "-ERR cluster unavailable: store: unavailable") {
			t.Errorf("%s: %q", cmd, got)
		}
	}
	f.store.setFail(false)
	if got := c.do("GET", "k"); got != "$1\r\nv\r\n" {
		t.Errorf("after: %q", got)
	}
	if st := f.srv.Stats(); st.Errors != 8 {
		t.Errorf("Stats.Errors = %d, want 8", st.Errors)
	}
}

// TestPassword: with a password, only AUTH, HELLO and QUIT work before the
// client authenticates, as in Redis; the ticket key only after.
func TestPassword(t *testing.T) {
	f := newFixture(t, Config{Password: "sekret"})
	c := f.dial()
	steps := []struct{ args, want string }{
		{"PING", "-NOAUTH Authentication required.\r\n"},
		{"GET k", "-NOAUTH Authentication required.\r\n"},
		{"SESSIONMESH.TICKETKEY", "-NOAUTH Authentication required.\r\n"},
		{"FOO", "-ERR unknown command 'FOO', with args beginning with: \r\n"},
		{"GET", "-ERR wrong number of arguments for 'get' command\r\n"},
		{"HELLO", "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"},
		{"AUTH wrong", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"AUTH default wrong", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"PING", "-NOAUTH Authentication required.\r\n"},
		{"AUTH sekret", "+OK\r\n"},
		{"PING", "+PONG\r\n"},
	}
	for _, s := range steps {
		if got := c.do(strings.Fields(s.args)...); got != s.want {
			t.Errorf("%s: got %q, want %q", s.args, got, s.want)
		}
	}
	// The third wrong password closes the connection, and each is counted.
	refused := f.srv.Stats().Refused
	cg := f.dial()
	for _, args := range []string{"AUTH a", "HELLO 3 AUTH default b", "AUTH default c"} {
		if got := cg.do(strings.Fields(args)...); got != "-WRONGPASS invalid username-password pair or user is disabled.\r\n" {
			t.Errorf("%s: %q", args, got)
		}
	}
	if !cg.closed() {
		t.Error("the connection stayed open after three wrong passwords")
	}
	if got := f.srv.Stats().Refused - refused; got != 3 {
		t.Errorf("Stats.Refused grew by %d after three wrong passwords, want 3", got)
	}
	c2 := f.dial()
	got := c2.do("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "node-1")
	if !strings.HasPrefix(got, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n$5\r\nproto\r\n:3\r\n") {
		t.Errorf("HELLO 3 AUTH: %q", got)
	}
	if got := c2.do("GET", "nokey"); got != "_\r\n" {
		t.Errorf("RESP3 null: %q", got)
	}
	if got := c2.do("CLIENT", "GETNAME"); got != "$6\r\nnode-1\r\n" {
		t.Errorf("CLIENT GETNAME after HELLO SETNAME: %q", got)
	}
	// A stranger's commands are bounded tightly, as Redis bounds them.
	c3 := f.dial()
	c3.send(encode("SET", "k", strings.Repeat("x", 20000)))
	if got := c3.reply(); got != "-ERR Protocol error: unauthenticated bulk length\r\n" || !c3.closed() {
		t.Errorf("a stranger's 20000-byte argument: %q", got)
	}
}

// TestNotLoopback: without a password, Listen refuses an address others reach.
func TestNotLoopback(t *testing.T) {
	_, err := Listen("0.0.0.0:0", Config{Store: newFakeStore(time.Now)})
	if err == nil || !strings.Contains(err.Error(), "SESSIONMESH_REQUIREPASS") {
		t.Fatalf("Listen on 0.0.0.0 without a password: %v", err)
	}
	_, err = Listen("0.0.0.0:0", Config{Store: newFakeStore(time.Now), Password: "fifteen-bytes-x"})
	if err == nil || !strings.Contains(err.Error(), "fewer than 16") {
		t.Fatalf("Listen on 0.0.0.0 with a 15-byte password: %v", err)
	}
	s, err := Listen("0.0.0.0:0", Config{Store: newFakeStore(time.Now), Password: "sixteen-bytes-xx"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// NewServer, on a listener the caller opened, refuses it alike and
	// leaves it to the caller.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := NewServer(ln, Config{Store: newFakeStore(time.Now)}); err == nil || !strings.Contains(err.Error(), "SESSIONMESH_REQUIREPASS") {
		t.Fatalf("NewServer on 0.0.0.0 without a password: %v", err)
	}
	if s, err = NewServer(ln, Config{Store: newFakeStore(time.Now), Password: "sixteen-bytes-xx"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the listener is open after Close: %v", err)
	}
}

// TestGarbage: hostile and broken input gets Redis's errors, the connection
// closes where Redis closes it, and the server goes on serving.
func TestGarbage(t *testing.T) {
	f := newFixture(t, Config{})
	cases := []struct{ name, send, want string }{
		{"huge bulk", "*1\r\n$2147483647\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"wrapping bulk", "*1\r\n$9223372036854775807\r\nabc", "-ERR Protocol error: invalid bulk length\r\n"},
		{"huge count", "*2147483647\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"wrapping count", "*9223372036854775807\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"count not a number", "*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"bulk not a number", "*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"no bulk", "*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"},
		{"quotes", "\"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"long inline", strings.Repeat("x", 70000), "-ERR Protocol error: too big inline request\r\n"},
		{"long header", "*1\r\n$" + strings.Repeat("1", 40), "-ERR Protocol error: invalid bulk length\r\n"},
		{"over MaxRequest", encode("SET", "k", strings.Repeat("x", 2<<20)), "-ERR Protocol error: invalid bulk length\r\n"},
		{"many args", "*2000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.dial()
			// The server may refuse, and close, before the client has
			// written everything: the write may fail, the answer is there.
			if _, err := io.WriteString(c.c, tc.send); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				t.Fatal(err)
			}
			if got := c.reply(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !c.closed() {
				t.Error("the connection stayed open")
			}
		})
	}
	// Commands before the bad one run and are answered first.
	c := f.dial()
	c.send(encode("SET", "a", "1") + encode("GET", "a") + "*1\r\n$99999999\r\n")
	for _, want := range []string{"+OK\r\n", "$1\r\n1\r\n", "-ERR Protocol error: invalid bulk length\r\n"} {
		if got := c.reply(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// Control bytes in an unknown command stay on one line.
	c = f.dial()
	if got := c.do("F\r\nOO"); got != "-ERR unknown command 'F  OO', with args beginning with: \r\n" {
		t.Errorf("got %q", got)
	}
	// Half a command waits for the rest; the connection stays usable.
	c = f.dial()
	full := encode("SET", "half", "value")
	c.send(full[:9])
	c.send(full[9:])
	if got := c.reply(); got != "+OK\r\n" {
		t.Errorf("a command in two halves: %q", got)
	}
	if got := f.dial().do("GET", "half"); got != "$5\r\nvalue\r\n" {
		t.Errorf("the server after the garbage: %q", got)
	}
}

// TestMaxClients: one connection over MaxClients is told so and closed; the
// others go on, and a slot frees when one leaves.
func TestMaxClients(t *testing.T) {
	f := newFixture(t, Config{MaxClients: 3})
	var cs []*conn
	for range 3 {
		c := f.dial()
		if got := c.do("PING"); got != "+PONG\r\n" {
			t.Fatal(got)
		}
		cs = append(cs, c)
	}
	extra := f.dial()
	if got := extra.reply(); got != "-ERR max number of clients reached\r\n" || !extra.closed() {
		t.Errorf("the fourth client: %q", got)
	}
	cs[0].do("QUIT")
	for deadline := time.Now().Add(10 * time.Second); f.srv.Stats().Clients != 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server still counts the client that quit")
		}
	}
	if got := f.dial().do("PING"); got != "+PONG\r\n" {
		t.Errorf("after a client left: %q", got)
	}
}

// TestPipelineFlushes: a client that pipelines many large GETs and reads
// their answers only at the end gets all of them; the server sends as it goes
// instead of piling them up.
func TestPipelineFlushes(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.dial()
	v := strings.Repeat("v", 100<<10)
	c.do("SET", "big", v)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var b strings.Builder
		for range 100 {
			b.WriteString(encode("GET", "big"))
		}
		io.WriteString(c.c, b.String())
	}()
	for i := range 100 {
		if got := c.reply(); len(got) != len(v)+len("$102400\r\n\r\n") {
			t.Fatalf("reply %d: %d bytes", i, len(got))
		}
	}
	wg.Wait()
}

// TestGoRedis: a real client, in RESP2 and RESP3.
func TestGoRedis(t *testing.T) {
	f := newFixture(t, Config{Password: "pw"})
	for _, proto := range []int{2, 3} {
		rdb := redis.NewClient(&redis.Options{Addr: f.srv.Addr().String(), Password: "pw", Protocol: proto})
		ctx := context.Background()
		key := fmt.Sprint("k", proto)
		if err := rdb.Set(ctx, key, "v", time.Minute).Err(); err != nil {
			t.Fatalf("RESP%d: SET: %v", proto, err)
		}
		if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "v" {
			t.Errorf("RESP%d: GET: %q %v", proto, v, err)
		}
		if _, err := rdb.Get(ctx, "nokey").Result(); err != redis.Nil {
			t.Errorf("RESP%d: GET of nothing: %v", proto, err)
		}
		if d, err := rdb.TTL(ctx, key).Result(); err != nil || d != time.Minute {
			t.Errorf("RESP%d: TTL: %v %v", proto, d, err)
		}
		if info, err := rdb.Info(ctx, "server").Result(); err != nil || !strings.Contains(info, "redis_version:"+Version) {
			t.Errorf("RESP%d: INFO: %q %v", proto, info, err)
		}
		rdb.Close()
	}
}
