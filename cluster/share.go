package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/memberlist"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessionmesh/sessionmesh/internal/wire"
)

// Shared is a piece of cluster-wide state that every node keeps a copy of and
// that the copies converge on: small (a few kilobytes), changed rarely, and
// mergeable. Ticket keys are one (package ticketkeys).
//
// Convergence comes from memberlist's anti-entropy: a joining node receives
// every other node's State during Join, and every push/pull interval each node
// exchanges its State with a random member. Updates spread faster through the
// broadcast function Share returns. Both travel on encrypted gossip only.
type Shared interface {
	// State returns this node's full state. It is called from memberlist's
	// goroutines, concurrently with Merge, and must not block.
	State() []byte
	// Merge folds a State or an update from another node into this node's
	// state. It must be idempotent, commutative and associative, so that
	// nodes converge whatever order messages arrive in, and must not block.
	// The bytes come from the network, authenticated but possibly from a
	// node on another version: reject what does not decode.
	Merge(b []byte)
}

// maxShareName bounds the name a Shared is registered under.
const maxShareName = 64

// Share registers s under name, so that its state travels with gossip, and
// returns a function that gossips an update to every node quickly. Register
// before Join, so that the join brings the cluster's state. Updates must fit
// a gossip packet (about 1 KB); larger changes spread by push/pull.
func (n *Node) Share(name string, s Shared) (broadcast func(update []byte), err error) {
	if name == "" || len(name) > maxShareName {
		return nil, fmt.Errorf("cluster: share name %q: want 1 to %d bytes", name, maxShareName)
	}
	n.sharesMu.Lock()
	defer n.sharesMu.Unlock()
	if _, dup := n.shares[name]; dup {
		return nil, fmt.Errorf("cluster: %q is already shared", name)
	}
	n.shares[name] = s
	return func(update []byte) {
		n.broadcasts.QueueBroadcast(shareBroadcast(encodeShares(map[string][]byte{name: update})))
	}, nil
}

// SetTag sets a label on this node that every member sees (Member.Tags); an
// empty value removes it. Tags travel in memberlist's node metadata, which is
// at most 512 bytes in all.
func (n *Node) SetTag(key, value string) error {
	if key == "" || len(key) > maxTag || len(value) > maxTag {
		return fmt.Errorf("cluster: tag %q: key and value must be at most %d bytes", key, maxTag)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.left {
		return ErrClosed
	}
	n.metaMu.Lock()
	tags := maps.Clone(n.meta.Tags)
	if tags == nil {
		tags = make(map[string]string)
	}
	if value == "" {
		delete(tags, key)
	} else {
		tags[key] = value
	}
	next := n.meta
	next.Tags = tags
	if size := len(encodeMeta(next)); size > memberlist.MetaMaxSize {
		n.metaMu.Unlock()
		return fmt.Errorf("cluster: tag %q would make node metadata %d bytes, over memberlist's %d", key, size, memberlist.MetaMaxSize)
	}
	n.meta = next
	n.metaMu.Unlock()
	n.updateMeta()
	return nil
}

// encodeShares encodes named states as a msgpack array of [name, state] pairs.
func encodeShares(states map[string][]byte) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	_ = enc.EncodeArrayLen(len(states)) // writes to a bytes.Buffer cannot fail
	for _, name := range slices.Sorted(maps.Keys(states)) {
		_ = enc.EncodeArrayLen(2)
		_ = enc.EncodeString(name)
		_ = enc.EncodeBytes(states[name])
	}
	return buf.Bytes()
}

var errShares = errors.New("cluster: malformed shared state")

// maxShares bounds the states in one message.
const maxShares = 64

// decodeShares decodes what encodeShares made. Each name's state is at most
// the message's size.
func decodeShares(b []byte) (map[string][]byte, error) {
	var r wire.Reader
	r.Open(append([]byte{0x91}, b...), 1) // wrap it, so Close checks nothing trails
	n := r.ArrayLen(maxShares)
	states := make(map[string][]byte, n)
	for range n {
		if r.ArrayLen(2) != 2 {
			return nil, errShares
		}
		name := r.String(maxShareName)
		states[name] = r.Bytes(len(b))
	}
	if err := r.Close(); err != nil {
		return nil, errShares
	}
	return states, nil
}

// mergeShares hands each received state to the Shared registered under its
// name; states no one here shares (another version's) are ignored.
func (n *Node) mergeShares(b []byte) {
	if len(b) == 0 {
		return
	}
	states, err := decodeShares(b)
	if err != nil {
		n.logger.Warn("ignoring shared state from another node", "err", err)
		return
	}
	n.sharesMu.Lock()
	targets := maps.Clone(n.shares)
	n.sharesMu.Unlock()
	for name, state := range states {
		if s, ok := targets[name]; ok {
			s.Merge(state)
		}
	}
}

// localShares encodes every registered Shared's state.
func (n *Node) localShares() []byte {
	n.sharesMu.Lock()
	shares := maps.Clone(n.shares)
	n.sharesMu.Unlock()
	if len(shares) == 0 {
		return nil
	}
	states := make(map[string][]byte, len(shares))
	for name, s := range shares {
		states[name] = s.State()
	}
	return encodeShares(states)
}

// shareBroadcast is one queued update; memberlist retransmits it a few times.
type shareBroadcast []byte

func (b shareBroadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b shareBroadcast) Message() []byte                       { return b }
func (b shareBroadcast) Finished()                             {}
