package resp

import (
	"errors"
	"net"
	"os"
	"strconv"
	"time"
)

// The RESP parser is redcon's. It buffers a command until the whole of it
// has arrived, however long the client says it is, and trusts the lengths it
// reads: a bulk length near the largest int wraps around and panics the
// process, and a huge argument count spins it in a loop. Worse, its reader
// calls itself once per read that does not complete a command, and doubles
// its buffer (for good) whenever a read ends inside one: a client that sends
// blank lines, or a command, a byte at a time grows the goroutine's stack
// until Go dies of a stack overflow, and one that pipelines grows the
// buffer without bound.
//
// So every byte a client sends passes through a guard first (guardConn).
// Its framer follows only the framing (argument counts, bulk lengths, line
// lengths) and refuses a command before it breaks the limits, in Redis's
// words ("-ERR Protocol error: ..."), and the connection is closed. The
// guard buffers what the framer accepts until a command is whole, and hands
// redcon whole commands only, never a blank line: redcon then never waits
// inside a command, never calls itself more than a few times in a row, and
// its buffer stays within twice the largest command.

// limits bound what one command may make the server buffer.
type limits struct {
	maxArgs    int  // arguments in one command
	maxBulk    int  // bytes in one argument
	maxCommand int  // bytes in one command, framing included
	noInline   bool // inline commands are refused
}

// Redis's limits for a client that has not authenticated yet, when a
// password is required: a stranger cannot make the server buffer much. It
// may not send inline commands either: redcon's inline parser costs time
// and memory quadratic in a line's spaces, and real clients send arrays.
var unauthenticated = limits{maxArgs: 10, maxBulk: 16384, maxCommand: 16384 + 1024, noInline: true}

const (
	// maxInline bounds an inline command's line (telnet, nc): redcon
	// allocates the rest of the line at each space in it, so a line costs
	// up to len²/4 bytes of garbage (256 KiB for 1 KiB). Redis allows
	// 64 KiB; a human typing needs far less.
	maxInline = 1024
	maxHeader = 32 // a "*N" or "$N" line: 20 digits and change
)

// errFraming is what a framer refuses; its text follows "Protocol error: ".
// It is a value, so that two refusals for the same reason compare equal.
type errFraming struct{ msg string }

func (e errFraming) Error() string { return "Protocol error: " + e.msg }

var (
	errMultibulk    = errFraming{"invalid multibulk length"}
	errBulk         = errFraming{"invalid bulk length"}
	errInline       = errFraming{"too big inline request"}
	errInlineArgs   = errFraming{"too many arguments in inline request"}
	errUnauthInline = errFraming{"unauthenticated inline request: send commands as RESP arrays"}
	errTooBig       = errFraming{"too big request"}
	errUnauthMulti  = errFraming{"unauthenticated multibulk length"}
	errUnauthBulk   = errFraming{"unauthenticated bulk length"}
	errFramerClosed = errors.New("resp: connection refused by the framer")
)

// framer states.
const (
	atCommand = iota // the first byte of a command
	inInline         // an inline command, up to its '\n'
	inCount          // a "*N" line
	atBulk           // the '$' of a bulk header
	inBulkLen        // a "$N" line
	inBulk           // a bulk's bytes and its CRLF
)

// mark is where a command or a blank line ends, in the bytes scan was given.
type mark struct {
	end   int  // the index after its last byte
	blank bool // a line of spaces: redcon would parse it as no command at all
}

// framer follows RESP framing byte by byte, with no buffering of its own,
// so that a command split across reads anywhere is judged the same. It
// checks lengths only: redcon checks the rest (CRLFs, digits it accepted).
type framer struct {
	lim      func() limits // the limits now: they grow once a client authenticates
	state    int
	line     []byte // the header line so far (at most maxHeader bytes)
	n        int    // inInline: bytes so far; inBulk: bytes left
	args     int    // arguments left in this command; inInline: spaces so far
	cmd      int    // bytes of this command so far
	nonSpace int    // inInline: bytes that are not spaces
	lastCR   bool   // inInline: the last byte was '\r'
	curLim   limits // the limits this command started under
	marks    []mark // where commands ended in the last scan
}

// scan judges p, the next bytes from the client. It returns how many of
// them are fine to hand on and, if the rest break a limit, why. f.marks
// then says where, in p, commands and blank lines ended.
func (f *framer) scan(p []byte) (int, error) {
	f.marks = f.marks[:0]
	for i := 0; i < len(p); {
		if f.state == atCommand {
			f.curLim, f.cmd = f.lim(), 0
		}
		if f.state == inBulk {
			// Skip the payload in one step: no per-byte work on values.
			k := min(f.n, len(p)-i)
			f.n -= k
			f.cmd += k
			i += k
			if f.n == 0 {
				f.args--
				if f.args == 0 {
					f.state = atCommand
					f.marks = append(f.marks, mark{end: i})
				} else {
					f.state = atBulk
				}
			}
			continue
		}
		c := p[i]
		f.cmd++
		if f.cmd > f.curLim.maxCommand {
			return i, errTooBig
		}
		switch f.state {
		case atCommand:
			switch c {
			case '*':
				f.state, f.line = inCount, f.line[:0]
			case '\n':
				f.marks = append(f.marks, mark{end: i + 1, blank: true})
			default:
				f.state, f.n, f.args, f.nonSpace, f.lastCR = inInline, 0, 0, 0, false
				if err := f.inline(c); err != nil {
					return i, err
				}
			}
		case inInline:
			if c != '\n' {
				if err := f.inline(c); err != nil {
					return i, err
				}
				break
			}
			// As redcon reads it: one '\r' before the '\n' is dropped, and
			// a line of spaces is no command.
			blank := f.nonSpace == 0 || f.nonSpace == 1 && f.lastCR
			if !blank && f.curLim.noInline {
				return i, errUnauthInline
			}
			f.state = atCommand
			f.marks = append(f.marks, mark{end: i + 1, blank: blank})
		case inCount, inBulkLen:
			if c != '\n' {
				if len(f.line) >= maxHeader {
					if f.state == inCount {
						return i, errMultibulk
					}
					return i, errBulk
				}
				f.line = append(f.line, c)
				break
			}
			v, err := strconv.Atoi(string(trimCR(f.line)))
			if f.state == inCount {
				switch {
				case err != nil || v <= 0 || v > 1024*1024:
					return i, errMultibulk
				case v > f.curLim.maxArgs && f.curLim == unauthenticated:
					return i, errUnauthMulti
				case v > f.curLim.maxArgs:
					return i, errMultibulk
				}
				f.args, f.state = v, atBulk
				break
			}
			switch {
			case err != nil || v < 0:
				return i, errBulk
			case v > f.curLim.maxBulk && f.curLim == unauthenticated:
				return i, errUnauthBulk
			case v > f.curLim.maxBulk:
				return i, errBulk
			}
			f.n, f.state = v+2, inBulk
		case atBulk:
			if c != '$' {
				return i, errFraming{"expected '$', got '" + quote([]byte{c}) + "'"}
			}
			f.state, f.line = inBulkLen, f.line[:0]
		}
		i++
	}
	return len(p), nil
}

// inline counts c, a byte of an inline command's line (not its '\n').
func (f *framer) inline(c byte) error {
	f.n++
	if f.n > maxInline {
		return errInline
	}
	f.lastCR = c == '\r'
	if c != ' ' {
		f.nonSpace++
		return nil
	}
	// Each space costs redcon an allocation of the rest of the line.
	f.args++
	if f.args >= f.curLim.maxArgs {
		return errInlineArgs
	}
	return nil
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// span is a whole command in guardConn.buf.
type span struct{ start, end int }

const (
	minRead    = 1024     // the smallest read from the network
	keepBuffer = 16 << 10 // a larger buffer is dropped once it is empty
	// refuseWrite bounds the write of a refusal to a client that does not read.
	refuseWrite = time.Second
	// lingerRead bounds how long, and how much, a refused client is read and
	// ignored after its refusal, so that its last writes do not reset the
	// connection before it has read why (a close with unread bytes sends RST).
	lingerRead  = time.Second
	lingerBytes = 4 << 20
)

// guardConn passes what a client sends through a framer and hands redcon
// whole commands only (see the top of this file). When the framer refuses,
// the whole commands before the refusal are still handed on (they run and
// are answered), then the client gets the error and the connection ends.
//
// It also holds the connection's deadlines: a client that must authenticate
// and has not done so by authBy, or has not completed a command for idle, is
// closed; and every write to a client must complete within writeTimeout.
type guardConn struct {
	net.Conn
	f        framer
	buf      []byte // bytes read: whole commands, then the start of the next
	pend     int    // where the command not yet whole starts in buf
	ready    []span // whole commands not yet handed on
	partial  int    // bytes of ready[0] already handed on
	refused  error  // set once the framer refused; answered once ready is empty
	readErr  error  // the network's error, once ready is empty
	onRefuse func(error)

	authed       func() bool       // whether the client has authenticated (or needs not)
	authBy       time.Time         // when an unauthenticated client is closed; zero: never
	idle         time.Duration     // how long without a whole command; 0: for ever
	lastCommand  time.Time         // when the last whole command arrived
	onTimeout    func(kind string) // "auth timeout", "idle timeout" or "write timeout"
	writeTimeout time.Duration     // after authentication; before, authBy bounds writes too
}

func (g *guardConn) Read(p []byte) (int, error) {
	for len(g.ready) == 0 {
		if g.refused != nil {
			return 0, g.refuse()
		}
		if g.readErr != nil {
			return 0, g.readErr
		}
		g.fill()
	}
	return g.deliver(p), nil
}

// fill reads from the network once, and queues the commands it completed.
func (g *guardConn) fill() {
	// Nothing is ready: keep only the command in progress.
	if g.pend > 0 {
		g.buf = g.buf[:copy(g.buf, g.buf[g.pend:])]
		g.pend = 0
	}
	if len(g.buf) == 0 && cap(g.buf) > keepBuffer {
		g.buf = nil
	}
	if cap(g.buf)-len(g.buf) < minRead {
		// Doubling: a command of n bytes takes log(n) reads to grow into.
		nb := make([]byte, len(g.buf), max(2*cap(g.buf), len(g.buf)+minRead))
		copy(nb, g.buf)
		g.buf = nb
	}
	if g.lastCommand.IsZero() {
		g.lastCommand = time.Now()
	}
	deadline, auth := g.deadline()
	g.Conn.SetReadDeadline(deadline)
	n, err := g.Conn.Read(g.buf[len(g.buf):cap(g.buf)])
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && g.onTimeout != nil {
			if auth {
				g.onTimeout("auth timeout")
			} else {
				g.onTimeout("idle timeout")
			}
		}
		g.readErr = err
	}
	base := len(g.buf)
	g.buf = g.buf[:base+n]
	ok, ferr := g.f.scan(g.buf[base:])
	for _, m := range g.f.marks {
		if !m.blank {
			g.ready = append(g.ready, span{g.pend, base + m.end})
		}
		g.pend = base + m.end
	}
	if len(g.f.marks) > 0 {
		g.lastCommand = time.Now()
	}
	if ferr != nil {
		_ = ok // the bytes after the last whole command are dropped
		g.refused = ferr
		if g.onRefuse != nil {
			g.onRefuse(ferr)
		}
	}
}

// deadline is when the next read must have completed, and whether that is
// the authentication deadline.
func (g *guardConn) deadline() (time.Time, bool) {
	var d time.Time
	if g.idle > 0 {
		d = g.lastCommand.Add(g.idle)
	}
	if !g.authBy.IsZero() && !g.authed() && (d.IsZero() || g.authBy.Before(d)) {
		return g.authBy, true
	}
	return d, false
}

// deliver copies as many whole commands as fit into p; if the first does not
// fit at all, as much of it as does (redcon then grows its buffer and reads
// the rest at once, from what is buffered here).
func (g *guardConn) deliver(p []byte) int {
	n := 0
	for len(g.ready) > 0 {
		s := g.ready[0]
		rest := g.buf[s.start+g.partial : s.end]
		if len(rest) > len(p)-n {
			if n == 0 {
				g.partial += copy(p, rest)
				return len(p)
			}
			break
		}
		n += copy(p[n:], rest)
		g.partial = 0
		g.ready = g.ready[1:]
	}
	if len(g.ready) == 0 {
		g.ready = nil
	}
	return n
}

// refuse answers the framer's refusal, lingers, and ends the connection.
func (g *guardConn) refuse() error {
	g.Conn.SetWriteDeadline(time.Now().Add(refuseWrite))
	g.Conn.Write([]byte("-ERR " + g.refused.Error() + "\r\n"))
	if tc, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		g.Conn.SetReadDeadline(time.Now().Add(lingerRead))
		buf := make([]byte, 4096)
		for n := 0; n < lingerBytes; {
			k, err := g.Conn.Read(buf)
			n += k
			if err != nil {
				break
			}
		}
	}
	return errFramerClosed
}

// Write sends replies, each write within writeTimeout: a client that does
// not read its replies is closed instead of holding the server's memory.
func (g *guardConn) Write(b []byte) (int, error) {
	now := time.Now()
	switch {
	case !g.authBy.IsZero() && !g.authed():
		d := g.authBy
		if d.Before(now.Add(refuseWrite)) {
			d = now.Add(refuseWrite) // a last answer gets its chance
		}
		g.Conn.SetWriteDeadline(d)
	case g.writeTimeout > 0:
		g.Conn.SetWriteDeadline(now.Add(g.writeTimeout))
	}
	n, err := g.Conn.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) && g.onTimeout != nil {
		g.onTimeout("write timeout")
	}
	return n, err
}
