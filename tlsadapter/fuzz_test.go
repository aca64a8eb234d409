package tlsadapter

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeClientSession feeds arbitrary record values, as a peer could
// return, to the client session decoder: no panic, and what it accepts
// re-encodes to the same.
func FuzzDecodeClientSession(f *testing.F) {
	f.Add(encodeClientSession([]byte("ticket"), []byte("state")))
	f.Add([]byte{0x92, 0xc6, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ticket, state, err := decodeClientSession(b)
		if err != nil {
			return
		}
		t2, s2, err := decodeClientSession(encodeClientSession(ticket, state))
		if err != nil || !bytes.Equal(t2, ticket) || !bytes.Equal(s2, state) {
			t.Fatalf("re-encoding changed the session: %v", err)
		}
	})
}

// FuzzScope feeds arbitrary Extra elements to the ticket-mode scope parser,
// as a session sealed by another version could carry.
func FuzzScope(f *testing.F) {
	f.Add(scope(time.Unix(1700000000, 0), "a.example"))
	f.Add([]byte("sessionmesh/1\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isScope(b) {
			return
		}
		issued, name := parseScope(b)
		if got := scope(issued, name); !bytes.Equal(got, b) {
			t.Fatalf("scope round trip: %q, want %q", got, b)
		}
	})
}
