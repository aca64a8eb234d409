package store

import (
	"errors"
	"time"

	"github.com/sessionmesh/sessionmesh/store/internal/peer"
)

var errTooLarge = errors.New("store: record larger than the memory budget")

// A space is one namespace of the store, with its own memory and budget:
// TLS sessions, written once, any copy as good as another; or web
// sessions, rewritten, versioned, deleted with tombstones, where a copy
// replaces another only if it is newer. Placement, replication, rebalancing,
// hand-over and retries work alike for both; what differs is here.
type space struct {
	name  string
	mem   *local
	putOp peer.Op // the request that stores a copy on another member
	// newer reports whether the encoded record val is to replace old (the
	// copy held). Nil: every copy replaces (TLS sessions never change).
	newer func(val, old []byte) bool
	// keep reports whether the encoded record val is one to keep when memory
	// is short (a returning client's TLS session; a web session's tombstone).
	keep func(val []byte) bool
	// expires returns when the encoded record val expires, or false if it
	// does not decode.
	expires func(val []byte) (time.Time, bool)
}

// store keeps val under id in sp's memory, unless sp merges and what it holds
// is newer. It reports whether val is (now) what it holds, and if not, the
// newer copy it holds. It fails if val does not decode or does not fit.
func (s *Store) store(sp *space, id string, val []byte) (stored bool, held []byte, err error) {
	exp, ok := sp.expires(val)
	if !ok {
		return false, nil, ErrCorrupt
	}
	stored, held, fit := sp.mem.putIf(id, val, exp, s.cfg.Now(), sp.keep(val), sp.newer)
	if !fit {
		return false, nil, errTooLarge
	}
	if stored {
		s.stats.localPuts.Add(1)
	}
	return stored, held, nil
}
