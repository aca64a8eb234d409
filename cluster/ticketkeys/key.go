package ticketkeys

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessionmesh/sessionmesh/internal/wire"
)

// key is one ticket key. Every field but the secret is public; the secret is
// zeroed when the key is dropped.
type key struct {
	id       uint64
	secret   [32]byte
	created  time.Time // when it was generated, by its generator's clock
	activate time.Time // when it may start encrypting
	expire   time.Time // when it is dropped, unless it is still encrypting; zero: see seedKey
}

// Info describes a key without its secret: what status pages and tests see.
type Info struct {
	ID       uint64
	Created  time.Time
	Activate time.Time // when it may start encrypting (once every member holds it)
	Expire   time.Time // when it is dropped; zero for a seed key (see Config.Seed)
	State    State
}

// State is where a key is in its life.
type State uint8

// The states, in order.
const (
	Staged  State = iota // decrypt-only, not yet encrypting
	Active               // encrypting new tickets (one key at a time)
	Retired              // decrypt-only until it expires
)

func (s State) String() string {
	switch s {
	case Staged:
		return "staged"
	case Active:
		return "active"
	case Retired:
		return "retired"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

func (k *key) info(st State) Info {
	return Info{ID: k.id, Created: k.created, Activate: k.activate, Expire: k.expire, State: st}
}

// wipe overwrites the secret.
func (k *key) wipe() { clear(k.secret[:]) }

// seedKey turns a user-supplied seed into a key that every node given the
// same seed derives identically, active from the start. It has no fixed
// expiry: it is dropped a ticket lifetime after the first generated key
// replaces it (see set.dropTime).
func seedKey(seed []byte) (*key, error) {
	if err := checkEntropy(seed); err != nil {
		return nil, err
	}
	k := &key{}
	copy(k.secret[:], seed)
	h := sha256.Sum256(append([]byte("sessionmesh ticket seed id\x00"), seed...))
	k.id = binary.BigEndian.Uint64(h[:8])
	return k, nil
}

// checkEntropy refuses a seed that cannot be a random 32-byte key: the wrong
// length, all one byte, or so few distinct byte values that it is text or a
// pattern (32 random bytes have about 30 distinct values; fewer than 16 happens
// by chance with probability below 10⁻¹⁰).
func checkEntropy(seed []byte) error {
	if len(seed) != 32 {
		return fmt.Errorf("ticketkeys: seed key is %d bytes, want 32 random bytes", len(seed))
	}
	var seen [256]bool
	distinct := 0
	for _, b := range seed {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < 16 {
		return fmt.Errorf("ticketkeys: seed key has only %d distinct byte values; it is not random (use crypto/rand)", distinct)
	}
	return nil
}

// Wire format of a key set: a msgpack array [version, keys], each key an
// array [id, secret, created, activate, expire]. It travels only on
// encrypted gossip.
const setVersion = 1

// maxKeys bounds the keys in a received set. A set travels whole only in
// push/pull over TCP, so even this many (about 90 KiB) is no burden.
const maxKeys = 1024

var errSet = errors.New("ticketkeys: malformed key set")

func encodeKeys(keys []*key) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_ = enc.EncodeArrayLen(2)
	_ = enc.EncodeUint8(setVersion)
	_ = enc.EncodeArrayLen(len(keys))
	for _, k := range keys {
		_ = enc.EncodeArrayLen(5)
		_ = enc.EncodeUint64(k.id)
		_ = enc.EncodeBytes(k.secret[:])
		_ = enc.EncodeTime(k.created)
		_ = enc.EncodeTime(k.activate)
		_ = enc.EncodeTime(k.expire)
	}
	return buf.Bytes()
}

func decodeKeys(b []byte) ([]*key, error) {
	var r wire.Reader
	r.Open(b, 2)
	if r.Uint8() < setVersion {
		return nil, errSet
	}
	n := r.ArrayLen(maxKeys)
	keys := make([]*key, 0, n)
	for range n {
		fields := r.ArrayLen(16)
		if fields < 5 {
			return nil, errSet
		}
		k := &key{id: r.Uint64()}
		secret := r.Bytes(32)
		k.created, k.activate, k.expire = r.Time(), r.Time(), r.Time()
		for range fields - 5 { // added by a later version
			r.Skip()
		}
		if r.Err() != nil || len(secret) != 32 {
			return nil, errSet
		}
		copy(k.secret[:], secret)
		clear(secret)
		keys = append(keys, k)
	}
	if err := r.Close(); err != nil {
		return nil, errSet
	}
	return keys, nil
}
