package store

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessionmesh/sessionmesh/internal/wire"
	"github.com/sessionmesh/sessionmesh/store/internal/peer"
)

// A web session as the store keeps it: an entry, rewritten by every write,
// and ordered by its version. The member that coordinates a write (the
// first of the key's owners it can reach, usually the owner) gives it a
// version greater than every copy it and the members it writes to hold;
// every copy, whether it arrives by replication, read repair, rebalancing or
// hand-over, replaces another only if its version is greater. So copies
// converge on one whole value, the latest a coordinator accepted; and a
// deletion, a tombstone with the greatest version, can never be undone by an
// older copy coming back.
type entry struct {
	version version
	deleted bool      // a tombstone: the session was deleted
	expires time.Time // when the session, or the tombstone, may go
	value   []byte
	// recreated: written by Set, which may write over a tombstone (a
	// Redis SET after DEL). Other writes never replace a tombstone.
	recreated bool
}

// supersedes reports whether e is to replace o, the copy held. A tombstone
// is final: it replaces any copy of the session it deleted, whatever their
// versions, and only a write that recreates the key (Set) replaces it, if
// newer. So a request that read a session before its logout and writes it
// back after, with a version above the tombstone's, does not bring it
// back. Otherwise the newer version wins.
func (e entry) supersedes(o entry) bool {
	switch {
	case e.deleted && !o.deleted && !o.recreated:
		return true
	case o.deleted && !e.deleted && !e.recreated:
		return false
	}
	return e.version.compare(o.version) > 0
}

// version orders an entry's writes: a counter, which a coordinator sets to
// one more than the newest copy it knows of and at least the time in
// milliseconds (a hybrid logical clock), then, to order two writes two
// coordinators made at once, which one made it.
type version struct {
	counter uint64
	writer  uint64 // a hash of the coordinator's name
}

func (v version) compare(o version) int {
	return cmp.Or(cmp.Compare(v.counter, o.counter), cmp.Compare(v.writer, o.writer))
}

// entryLayout is the layout version of an encoded entry: a msgpack array
// [layout, counter, writer, deleted, expires, value, recreated]. Later
// layouts may append fields; readers skip them. (recreated was appended:
// an entry without it was not recreated.)
const entryLayout = 1

// MaxWebValue is the largest web session value the store keeps. Sessions are
// kilobytes; a value over this is refused with an error, never cut short.
const MaxWebValue = 256 << 10

// ErrTooLarge is returned for a web session value over MaxWebValue bytes.
var ErrTooLarge = fmt.Errorf("store: web session value over %d KiB", MaxWebValue>>10)

func (e *entry) encode() []byte {
	var buf bytes.Buffer
	buf.Grow(len(e.value) + 48)
	enc := msgpack.NewEncoder(&buf)
	_ = enc.EncodeArrayLen(7) // writes to a bytes.Buffer cannot fail
	_ = enc.EncodeUint8(entryLayout)
	_ = enc.EncodeUint64(e.version.counter)
	_ = enc.EncodeUint64(e.version.writer)
	var deleted uint8
	if e.deleted {
		deleted = 1
	}
	_ = enc.EncodeUint8(deleted)
	_ = enc.EncodeTime(e.expires)
	_ = enc.EncodeBytes(e.value)
	_ = enc.EncodeBool(e.recreated)
	return buf.Bytes()
}

var errEntry = errors.New("store: malformed web session entry")

// decodeEntry parses an entry encoded by this layout or a later one. The
// value does not alias b.
func decodeEntry(b []byte) (entry, error) { return decode(b, true) }

// decodeHeader is decodeEntry without the value (nil in the entry), for
// the callers that only compare versions or read the expiry: it accepts
// and refuses exactly what decodeEntry does, without copying the value.
func decodeHeader(b []byte) (entry, error) { return decode(b, false) }

func decode(b []byte, value bool) (entry, error) {
	var r wire.Reader
	r.Open(b, 6)
	layout := r.Uint8()
	e := entry{version: version{counter: r.Uint64(), writer: r.Uint64()}}
	e.deleted = r.Uint8() != 0
	e.expires = r.Time()
	if value {
		e.value = r.Bytes(MaxWebValue)
	} else {
		r.SkipBytes(MaxWebValue)
	}
	if r.Optional() {
		e.recreated = r.Bool()
	}
	if err := r.Close(); err != nil || layout < entryLayout {
		return entry{}, errEntry
	}
	return e, nil
}

// newTLSSpace returns the space of TLS sessions: records written once.
func newTLSSpace(budget int64) *space {
	return &space{
		name: "tls", mem: newLocal(budget), putOp: peer.OpPut,
		keep: func(val []byte) bool {
			var r Record
			return r.UnmarshalBinary(val) == nil && r.Returning
		},
		expires: func(val []byte) (time.Time, bool) {
			var r Record
			if r.UnmarshalBinary(val) != nil {
				return time.Time{}, false
			}
			return r.Expires, true
		},
	}
}

// newWebSpace returns the space of web sessions: versioned entries.
func newWebSpace(budget int64) *space {
	return &space{
		name: "web", mem: newLocal(budget), putOp: peer.OpWebPut,
		newer: func(val, old []byte) bool {
			e, err := decodeHeader(val)
			if err != nil {
				return false
			}
			o, err := decodeHeader(old)
			return err != nil || e.supersedes(o)
		},
		// Tombstones are kept longest: one pushed out while a copy of what
		// it deleted survives somewhere out of reach would let that copy
		// back. Live sessions go first, least recently used first.
		keep: func(val []byte) bool {
			e, err := decodeHeader(val)
			return err == nil && e.deleted
		},
		expires: func(val []byte) (time.Time, bool) {
			e, err := decodeHeader(val)
			return e.expires, err == nil
		},
	}
}
