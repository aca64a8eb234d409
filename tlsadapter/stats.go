package tlsadapter

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// MissReason says why a ticket a client offered was not resumed.
type MissReason int

// The reasons.
const (
	NotFound           MissReason = iota // no session under the ID: never stored, evicted, or its node is gone
	Expired                              // the session outlived SessionTTL
	ServerNameMismatch                   // made for another server name (SNI)
	Timeout                              // the member holding it did not answer within LookupTimeout
	Unreachable                          // the member holding it is down or refused the connection
	Undecodable                          // the state does not parse: made by another Go version, or corrupt
	Malformed                            // the ticket is not one of ours (wrong length)
	UnknownKey                           // ticket mode: no current ticket key decrypts it
	numReasons
)

var reasonNames = [numReasons]string{
	NotFound:           "not_found",
	Expired:            "expired",
	ServerNameMismatch: "server_name_mismatch",
	Timeout:            "timeout",
	Unreachable:        "peer_unreachable",
	Undecodable:        "decode_error",
	Malformed:          "malformed",
	UnknownKey:         "unknown_ticket_key",
}

// String returns the reason's metric label, such as "not_found".
func (r MissReason) String() string {
	if r >= 0 && r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("MissReason(%d)", int(r))
}

// Reasons returns every MissReason, in order.
func Reasons() []MissReason {
	rs := make([]MissReason, numReasons)
	for i := range rs {
		rs[i] = MissReason(i)
	}
	return rs
}

// Stats counts what the adapter did since it was made. Its maps are never
// nil in a snapshot and may be indexed directly: st.Misses[tlsadapter.NotFound],
// st.Resumed[tls.VersionTLS13].
type Stats struct {
	Issued      uint64                // tickets handed out (WrapSession calls)
	IssueErrors uint64                // tickets whose session could not be stored or sealed
	Found       uint64                // offered tickets that yielded a session
	Misses      map[MissReason]uint64 // offered tickets that did not, by reason (every reason present)

	// Handshakes that reached connection verification on a config from
	// TLSConfig, by TLS version (tls.VersionTLS10 to tls.VersionTLS13, every
	// one present) and whether they resumed a session.
	Resumed, Full map[uint16]uint64
}

// numVersions counts TLS 1.0 to 1.3.
const numVersions = 4

// Versions returns the TLS versions Stats counts handshakes of, oldest first.
func Versions() []uint16 {
	return []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}
}

// Handshakes returns the number of handshakes of a TLS version that resumed
// a session (resumed) or were full ones.
func (s Stats) Handshakes(resumed bool, version uint16) uint64 {
	if resumed {
		return s.Resumed[version]
	}
	return s.Full[version]
}

// Missed returns the number of misses for reason r.
func (s Stats) Missed(r MissReason) uint64 { return s.Misses[r] }

type counters struct {
	wrapped, wrapErrors, found atomic.Uint64
	misses                     [numReasons]atomic.Uint64
	resumed, full              [numVersions]atomic.Uint64
}

// counting returns a tls.Config.VerifyConnection that runs verify (if any)
// and then counts the handshake: the one hook crypto/tls calls on every
// server handshake, full and resumed, after it knows which it is.
func (c *counters) counting(verify func(tls.ConnectionState) error) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if verify != nil {
			if err := verify(cs); err != nil {
				return err
			}
		}
		if i := int(cs.Version) - tls.VersionTLS10; i >= 0 && i < numVersions {
			if cs.DidResume {
				c.resumed[i].Add(1)
			} else {
				c.full[i].Add(1)
			}
		}
		return nil
	}
}

func (c *counters) miss(r MissReason) { c.misses[r].Add(1) }

func (c *counters) snapshot() Stats {
	s := Stats{
		Issued:      c.wrapped.Load(),
		IssueErrors: c.wrapErrors.Load(),
		Found:       c.found.Load(),
		Misses:      make(map[MissReason]uint64, numReasons),
		Resumed:     make(map[uint16]uint64, numVersions),
		Full:        make(map[uint16]uint64, numVersions),
	}
	for i := range c.misses {
		s.Misses[MissReason(i)] = c.misses[i].Load()
	}
	for i, v := range Versions() {
		s.Resumed[v], s.Full[v] = c.resumed[i].Load(), c.full[i].Load()
	}
	return s
}

// Stats returns a snapshot of the adapter's counters.
func (c *Cache) Stats() Stats { return c.stats.snapshot() }
