package store

import (
	"bytes"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessionmesh/sessionmesh/internal/wire"
	"github.com/sessionmesh/sessionmesh/store/internal/shard"
)

// Record is what the store keeps under a session ID.
type Record struct {
	// Value is the opaque session state (tls.SessionState.Bytes).
	Value []byte
	// ServerName is the TLS server name (SNI) the session was made for.
	ServerName string
	// Created is when the session was first established.
	Created time.Time
	// Expires is when the store drops the record.
	Expires time.Time
	// Returning marks the session of a client that came back (it resumed a
	// session to get this one). When memory runs short, the records of
	// clients that never came back go first: they are the cheapest to lose,
	// and what a flood of handshakes from strangers is made of.
	Returning bool
}

// Limits on a record.
const (
	// MaxValue is the largest Value. A TLS session is 57–75 bytes, or a few
	// kilobytes with a client certificate chain.
	MaxValue = 64 << 10
	// MaxServerName is the longest ServerName (a DNS name is at most 253).
	MaxServerName = 255
)

// recordVersion is the layout version. A record is a msgpack array:
// [version, value, serverName, created, expires, flags]. Later versions may
// append fields; older readers skip them (a reader of version 1 records,
// which had no flags, skips the flags: a returning session is an ordinary
// one to it).
const recordVersion = 1

// Record flags.
const flagReturning = 1

// MarshalBinary encodes r as msgpack.
func (r *Record) MarshalBinary() ([]byte, error) {
	if len(r.Value) > MaxValue {
		return nil, fmt.Errorf("store: record value of %d bytes exceeds %d", len(r.Value), MaxValue)
	}
	if len(r.ServerName) > MaxServerName {
		return nil, fmt.Errorf("store: server name of %d bytes exceeds %d", len(r.ServerName), MaxServerName)
	}
	var buf bytes.Buffer
	buf.Grow(len(r.Value) + len(r.ServerName) + 40)
	enc := msgpack.NewEncoder(&buf)
	var flags uint8
	if r.Returning {
		flags |= flagReturning
	}
	_ = enc.EncodeArrayLen(6) // writes to a bytes.Buffer cannot fail
	_ = enc.EncodeUint8(recordVersion)
	_ = enc.EncodeBytes(r.Value)
	_ = enc.EncodeString(r.ServerName)
	_ = enc.EncodeTime(r.Created)
	_ = enc.EncodeTime(r.Expires)
	_ = enc.EncodeUint8(flags)
	return buf.Bytes(), nil
}

// UnmarshalBinary decodes a record encoded by MarshalBinary, from this
// version or a later one. Value does not alias b.
func (r *Record) UnmarshalBinary(b []byte) error {
	var rd wire.Reader
	rd.Open(b, 5)
	v := rd.Uint8()
	rec := Record{
		Value:      rd.Bytes(MaxValue),
		ServerName: rd.String(MaxServerName),
		Created:    rd.Time(),
		Expires:    rd.Time(),
	}
	if rd.Optional() {
		rec.Returning = rd.Uint8()&flagReturning != 0
	}
	if err := rd.Close(); err != nil || v < recordVersion {
		return ErrCorrupt
	}
	*r = rec
	return nil
}

// Cost is what a record charges against Config.MaxBytes: its key and encoded
// value (MarshalBinary) as the Go heap really holds them, plus the entry,
// map slot and eviction-order slot that keep it. A TLS 1.3 session under a
// 32-byte ID costs about 260 bytes. Use it to size MaxBytes.
func Cost(keyLen, valueLen int) int64 { return shard.Cost(keyLen, valueLen) }
