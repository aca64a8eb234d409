package resp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

var testLimits = limits{maxArgs: 1024, maxBulk: 4096, maxCommand: 8192}

// FuzzFramer: the framer judges a stream the same however it is split into
// reads, and whatever it lets through, redcon parses without panicking and
// without buffering more than the limits allow.
func FuzzFramer(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n", "PING\r\n", "*1\r\n$9223372036854775807\r\nabc", "*2147483647\r\n",
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$99999999\r\n", "\"x\r\n", "*1\r\nfoo\r\n", "*0\r\n", "*-1\r\n",
		"*1\r\n$-1\r\n", "*1\r\n$3\r\nabcd\r\n", "\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		whole := framer{lim: func() limits { return testLimits }}
		okWhole, errWhole := whole.scan(in)
		pieces := framer{lim: func() limits { return testLimits }}
		step := int(split%16) + 1
		okPieces, n := 0, 0
		var errPieces error
		for i := 0; i < len(in) && errPieces == nil; i += step {
			end := min(i+step, len(in))
			n, errPieces = pieces.scan(in[i:end])
			okPieces = i + n
		}
		if len(in) == 0 {
			okPieces = 0
		}
		if okWhole != okPieces || !errors.Is(errWhole, errPieces) {
			t.Fatalf("whole: %d %v; in pieces of %d: %d %v", okWhole, errWhole, step, okPieces, errPieces)
		}
		// redcon on what passed: it may refuse it (it checks more), never panic.
		rd := redcon.NewReader(bytes.NewReader(in[:okWhole]))
		for {
			cmds, err := rd.ReadCommands()
			if err != nil {
				break
			}
			for _, c := range cmds {
				if len(c.Raw) > testLimits.maxCommand+maxInline {
					t.Fatalf("redcon parsed a command of %d bytes", len(c.Raw))
				}
			}
		}
	})
}

// FuzzParseSet: SET's options never panic the parser; it answers options or
// one of Redis's errors.
func FuzzParseSet(f *testing.F) {
	for _, s := range []string{"EX 10", "PX 5 NX", "XX GET KEEPTTL", "EXAT 1", "PXAT 99999999999999", "EX -1", "EX 9223372036854775807", "NX XX", "EX"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		var args [][]byte
		for _, a := range strings.Fields(s) {
			args = append(args, []byte(a))
		}
		o, msg := parseSet(args, now)
		switch {
		case msg == "":
			if o.nx && o.xx || o.keepTTL && !o.expires.IsZero() {
				t.Fatalf("%q: contradictory options %+v", s, o)
			}
		case msg == errSyntax, msg == errNotInteger, msg == "ERR invalid expire time in 'set' command":
		default:
			t.Fatalf("%q: unexpected error %q", s, msg)
		}
	})
}
