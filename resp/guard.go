package resp

import (
	"errors"
	"net"
	"strconv"
)

// The RESP parser is redcon's. It buffers a command until the whole of it
// has arrived, however long the client says it is, and trusts the lengths it
// reads: a bulk length near the largest int wraps around and panics the
// process, and a huge argument count spins it in a loop. So every byte a
// client sends passes through a framer first, which follows only the framing
// (argument counts, bulk lengths, line lengths) and refuses a command before
// redcon would buffer more than the limits allow. It answers as Redis does,
// "-ERR Protocol error: ...", and the connection is closed.

// limits bound what one command may make the server buffer.
type limits struct {
	maxArgs    int // arguments in one command
	maxBulk    int // bytes in one argument
	maxCommand int // bytes in one command, framing included
}

// Redis's limits for a client that has not authenticated yet, when a
// password is required: a stranger cannot make the server buffer much.
var unauthenticated = limits{maxArgs: 10, maxBulk: 16384, maxCommand: 16384 + 1024}

const (
	maxInline = 64 << 10 // an inline command's line, as Redis's PROTO_INLINE_MAX_SIZE
	maxHeader = 32       // a "*N" or "$N" line: 20 digits and change
)

// errFraming is what a framer refuses; its text follows "Protocol error: ".
type errFraming struct{ msg string }

func (e *errFraming) Error() string { return "Protocol error: " + e.msg }

var (
	errMultibulk    = &errFraming{"invalid multibulk length"}
	errBulk         = &errFraming{"invalid bulk length"}
	errInline       = &errFraming{"too big inline request"}
	errTooBig       = &errFraming{"too big request"}
	errUnauthMulti  = &errFraming{"unauthenticated multibulk length"}
	errUnauthBulk   = &errFraming{"unauthenticated bulk length"}
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

// framer follows RESP framing byte by byte, with no buffering of its own,
// so that a command split across reads anywhere is judged the same. It
// checks lengths only: redcon checks the rest (CRLFs, digits it accepted).
type framer struct {
	lim    func() limits // the limits now: they grow once a client authenticates
	state  int
	line   []byte // the header line so far (at most maxHeader bytes)
	n      int    // inInline: bytes so far; inBulk: bytes left
	args   int    // arguments left in this command
	cmd    int    // bytes of this command so far
	curLim limits // the limits this command started under
}

// scan judges p, the next bytes from the client. It returns how many of
// them are fine to hand on and, if the rest break a limit, why.
func (f *framer) scan(p []byte) (int, error) {
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
				} else {
					f.state = atBulk
				}
			}
			continue
		}
		c := p[i]
		f.cmd++
		if f.cmd > f.curLim.maxCommand && f.state != inInline {
			return i, errTooBig
		}
		switch f.state {
		case atCommand:
			if c == '*' {
				f.state, f.line = inCount, f.line[:0]
			} else {
				f.state, f.n = inInline, 1
				if c == '\n' {
					f.state = atCommand
				}
			}
		case inInline:
			if c == '\n' {
				f.state = atCommand
				break
			}
			f.n++
			if f.n > maxInline {
				return i, errInline
			}
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
				// redcon says so itself, in Redis's words ("expected '$', got ...").
				f.state = inInline
				f.n = 0
				break
			}
			f.state, f.line = inBulkLen, f.line[:0]
		}
		i++
	}
	return len(p), nil
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// guardConn passes what a client sends through a framer. When the framer
// refuses, the bytes before the refusal are still handed on (their commands
// run and are answered), then the client gets the error and the connection
// ends.
type guardConn struct {
	net.Conn
	f        framer
	refused  error // set once the framer refused; the next Read answers it
	onRefuse func(error)
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.refused != nil {
		g.Conn.Write([]byte("-ERR " + g.refused.Error() + "\r\n"))
		return 0, errFramerClosed
	}
	n, err := g.Conn.Read(p)
	ok, ferr := g.f.scan(p[:n])
	if ferr != nil {
		g.refused = ferr
		if g.onRefuse != nil {
			g.onRefuse(ferr)
		}
		if ok == 0 {
			return g.Read(p)
		}
		return ok, nil
	}
	return n, err
}
