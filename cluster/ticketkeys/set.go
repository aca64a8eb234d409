package ticketkeys

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strconv"
	"time"
)

// set is one node's copy of the cluster's ticket keys: a pure value with no
// clock, no lock and no I/O (Rotator wraps it).
//
// Nodes converge by merging sets: the union of their keys, minus those whose
// time is up. Keys are never changed once made, only added and, at a time
// fixed when they were made, dropped; so merging is idempotent, commutative
// and associative, and every node that has seen the same keys holds the same
// set, whatever order they arrived in. After a partition heals, each side
// keeps the keys it made (its tickets still decrypt until they expire) and
// gains the other side's.
type set struct {
	keys []*key // ordered by activation time, then ID

	// retention is how long a key stays after it stops encrypting when its
	// expiry is not fixed (a seed key): ticket lifetime plus staging.
	retention time.Duration
}

func byActivation(a, b *key) int {
	if c := a.activate.Compare(b.activate); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// get returns the key with the given ID, or nil.
func (s *set) get(id uint64) *key {
	for _, k := range s.keys {
		if k.id == id {
			return k
		}
	}
	return nil
}

// add inserts k unless a key with its ID is present or its time is up, and
// reports whether it did.
func (s *set) add(k *key, now time.Time) bool {
	if old := s.get(k.id); old != nil {
		// Two different keys under one random 64-bit ID would need about 2³²
		// keys; keep the first and let the other's tickets miss.
		return false
	}
	if !k.expire.IsZero() && !now.Before(k.expire) {
		return false
	}
	i, _ := slices.BinarySearchFunc(s.keys, k, byActivation)
	s.keys = slices.Insert(s.keys, i, k)
	return true
}

// merge adds keys received from another node and reports whether any was new.
func (s *set) merge(keys []*key, now time.Time) bool {
	changed := false
	for _, k := range keys {
		if s.add(k, now) {
			changed = true
		} else {
			k.wipe() // a duplicate or an expired key: this copy is not kept
		}
	}
	return changed
}

// newest returns the most recently generated key (seed keys count as
// generated at the zero time), or nil.
func (s *set) newest() *key {
	var n *key
	for _, k := range s.keys {
		if n == nil || k.created.After(n.created) {
			n = k
		}
	}
	return n
}

// current returns the key to encrypt with at now, given the one in use until
// now (prev, nil at first) and whether every member is known to hold the
// same keys as this node (agreed): then, the last key whose activation time
// has passed; otherwise prev, as long as this node still holds it. nil if no
// key has activated.
//
// Holding back until all agree means a key never encrypts a ticket a live
// member cannot decrypt, however slowly gossip reaches it; the activation
// time adds a margin on top, as nginx and HAProxy stage keys.
func (s *set) current(now time.Time, agreed bool, prev *key) *key {
	if !agreed && prev != nil && slices.Contains(s.keys, prev) {
		return prev
	}
	for i := len(s.keys) - 1; i >= 0; i-- {
		if !now.Before(s.keys[i].activate) {
			return s.keys[i]
		}
	}
	return nil
}

// digest identifies the set's keys: nodes with equal digests hold the same
// keys. "-" for an empty set.
func (s *set) digest() string {
	if len(s.keys) == 0 {
		return "-"
	}
	h := fnv.New64a()
	var b [8]byte
	for _, k := range s.keys {
		binary.BigEndian.PutUint64(b[:], k.id)
		h.Write(b[:])
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

// dropTime returns when k is dropped: its fixed expiry, or for a seed key a
// retention after the next key activates (zero: not yet known).
func (s *set) dropTime(k *key) time.Time {
	if !k.expire.IsZero() {
		return k.expire
	}
	i := slices.Index(s.keys, k)
	if i < 0 || i+1 >= len(s.keys) {
		return time.Time{}
	}
	return s.keys[i+1].activate.Add(s.retention)
}

// prune drops and wipes every key whose time is up, except cur, the key in
// use: if rotation stalls (no member can generate keys), the cluster keeps
// encrypting with the last key rather than none. It returns the IDs dropped.
func (s *set) prune(now time.Time, cur *key) []uint64 {
	var dropped []uint64
	s.keys = slices.DeleteFunc(s.keys, func(k *key) bool {
		t := s.dropTime(k)
		if k == cur || t.IsZero() || now.Before(t) {
			return false
		}
		dropped = append(dropped, k.id)
		k.wipe()
		return true
	})
	return dropped
}

// infos describes the keys, in activation order.
func (s *set) infos(now time.Time, cur *key) []Info {
	out := make([]Info, 0, len(s.keys))
	past := false // past the current key in activation order
	for _, k := range s.keys {
		st := Retired
		switch {
		case k == cur:
			st, past = Active, true
		case past || now.Before(k.activate):
			st = Staged
		}
		out = append(out, k.info(st))
	}
	return out
}
