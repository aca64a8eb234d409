package tlsadapter

import (
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

// Stats counts what the adapter did since it was made.
type Stats struct {
	Issued      uint64             // tickets handed out (WrapSession calls)
	IssueErrors uint64             // tickets whose session could not be stored
	Found       uint64             // offered tickets that yielded a session
	Misses      [numReasons]uint64 // offered tickets that did not, by reason
}

// Missed returns the number of misses for reason r.
func (s Stats) Missed(r MissReason) uint64 {
	if r < 0 || r >= numReasons {
		return 0
	}
	return s.Misses[r]
}

type counters struct {
	wrapped, wrapErrors, found atomic.Uint64
	misses                     [numReasons]atomic.Uint64
}

func (c *counters) miss(r MissReason) { c.misses[r].Add(1) }

func (c *counters) snapshot() Stats {
	s := Stats{
		Issued:      c.wrapped.Load(),
		IssueErrors: c.wrapErrors.Load(),
		Found:       c.found.Load(),
	}
	for i := range s.Misses {
		s.Misses[i] = c.misses[i].Load()
	}
	return s
}

// Stats returns a snapshot of the adapter's counters.
func (c *Cache) Stats() Stats { return c.stats.snapshot() }
