package resp

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// trickleConn is a net.Conn whose reads return one byte at a time.
type trickleConn struct {
	net.Conn
	in []byte
}

func (c *trickleConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:1], c.in)
	c.in = c.in[n:]
	return n, nil
}
func (c *trickleConn) SetReadDeadline(time.Time) error  { return nil }
func (c *trickleConn) SetWriteDeadline(time.Time) error { return nil }

// TestGuardWholeCommands: whatever the network's pieces, the guard hands on
// whole commands only, never a blank line, so that redcon never waits (and
// recurses) inside one; a command larger than the reader's buffer is the
// one exception, handed on in pieces back to back from what is buffered.
func TestGuardWholeCommands(t *testing.T) {
	var in, want strings.Builder
	var ends []int
	for i := range 300 {
		in.WriteString("\r\n  \r\n\n")
		cmd := encode("SET", "k", strings.Repeat("v", i*7))
		if i%3 == 0 {
			cmd = "PING " + strings.Repeat("x", i) + "\r\n"
		}
		in.WriteString(cmd)
		want.WriteString(cmd)
		ends = append(ends, want.Len())
	}
	g := &guardConn{Conn: &trickleConn{in: []byte(in.String())}, authed: func() bool { return true }}
	g.f.lim = func() limits { return testLimits }
	isEnd := map[int]bool{}
	for _, e := range ends {
		isEnd[e] = true
	}
	var got bytes.Buffer
	p := make([]byte, 1024)
	for {
		n, err := g.Read(p)
		got.Write(p[:n])
		if err != nil {
			break
		}
		if n < len(p) && !isEnd[got.Len()] {
			t.Fatalf("a read of %d bytes ended inside a command, at %d", n, got.Len())
		}
	}
	if got.String() != want.String() {
		t.Fatalf("the guard handed on %d bytes, want the %d of the commands", got.Len(), want.Len())
	}
}

// TestTrickle: a client that sends blank lines, or a large command, a byte
// per write (which once grew redcon's stack until the process died) is
// served, and its connection still answers.
func TestTrickle(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.dial()
	for range 3000 {
		c.send("\r")
		c.send("\n")
	}
	set := encode("SET", "k", strings.Repeat("v", 10000))
	for i := range len(set) {
		c.send(set[i : i+1])
	}
	if got := c.reply(); got != "+OK\r\n" {
		t.Fatalf("SET sent a byte at a time: %q", got)
	}
	if got := c.do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING after: %q", got)
	}
}

// TestStrangers: with a password, a stranger may not send inline commands,
// is closed if it has not authenticated within AuthTimeout (blank lines do
// not keep it), and any client idle for IdleTimeout is closed.
func TestStrangers(t *testing.T) {
	f := newFixture(t, Config{Password: "pw", AuthTimeout: 300 * time.Millisecond, IdleTimeout: 3 * time.Second}) // far apart: a busy machine stalls
	c := f.dial()
	c.send("AUTH pw\r\n")
	if got := c.reply(); got != "-ERR Protocol error: unauthenticated inline request: send commands as RESP arrays\r\n" || !c.closed() {
		t.Errorf("an inline AUTH: %q", got)
	}
	c = f.dial()
	start := time.Now()
	for range 10 {
		io.WriteString(c.c, "\r\n") // fails once the server has closed
		time.Sleep(50 * time.Millisecond)
	}
	if !c.closed() {
		t.Error("a stranger stayed past AuthTimeout")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v", d)
	}
	c = f.dial()
	if got := c.do("AUTH", "pw"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	time.Sleep(400 * time.Millisecond) // past AuthTimeout: no longer applies
	if got := c.do("PING"); got != "+PONG\r\n" {
		t.Fatalf("an authenticated client after AuthTimeout: %q", got)
	}
	if !c.closed() {
		t.Error("an idle client stayed past IdleTimeout")
	}
	if got := f.srv.Stats().Refused; got < 2 {
		t.Errorf("Stats.Refused = %d: the inline command and the timeout are not counted", got)
	}
}

// TestInlineLimits: inline commands are short (1 KiB, at most 512 spaces then).
func TestInlineLimits(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.dial()
	if got := c.do("ECHO", "x"); got != "$1\r\nx\r\n" {
		t.Fatal(got)
	}
	c.send("PING\r\n" + strings.Repeat("x", 2000))
	if got := c.reply(); got != "+PONG\r\n" {
		t.Errorf("the PING before: %q", got)
	}
	if got := c.reply(); got != "-ERR Protocol error: too big inline request\r\n" || !c.closed() {
		t.Errorf("a 2000-byte inline command: %q", got)
	}
}
