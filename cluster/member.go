package cluster

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessionmesh/sessionmesh/internal/wire"
)

// Member is one node as this node sees it. Members are values: a snapshot,
// not a live view.
type Member struct {
	// Name is the node's unique name.
	Name string
	// Addr is the node's gossip address, host:port.
	Addr string
	// DataAddr is the host:port of the node's peer data channel, or "" while
	// the node does not serve one (its store is not up yet, or is closing).
	DataAddr string
	// DataVersion is the version of the peer protocol spoken at DataAddr.
	DataVersion uint8
	// Started is when the node started, by its own clock.
	Started time.Time
	// Tags are the labels the node set on itself (Node.SetTag); read-only.
	Tags map[string]string
	// Local is true for the node itself.
	Local bool

	// RTT is the round trip of this node's last direct probe of the member
	// that was answered; 0 until one is.
	RTT time.Duration
	// Suspect is true when the member has answered none of this node's
	// direct probes for three probe rounds. It is this node's view, a hint
	// for status pages: memberlist, which decides who is dead, keeps its own
	// suspicion to itself.
	Suspect bool
}

func (m Member) equal(o Member) bool {
	return m.Name == o.Name && m.Addr == o.Addr && m.DataAddr == o.DataAddr &&
		m.DataVersion == o.DataVersion && m.Started.Equal(o.Started) &&
		maps.Equal(m.Tags, o.Tags) && m.Local == o.Local
}

// metaVersion is the layout version of the metadata a node gossips about itself.
const metaVersion = 1

// meta is what a node advertises about itself in memberlist's node metadata.
// It must fit memberlist.MetaMaxSize (512 bytes).
type meta struct {
	DataAddr    string
	DataVersion uint8
	Started     time.Time
	Tags        map[string]string
}

// encodeMeta returns m as a msgpack array:
// [version, dataAddr, dataVersion, started, tags].
func encodeMeta(m meta) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true) // the same tags encode the same way
	// Writes to a bytes.Buffer cannot fail.
	_ = enc.EncodeArrayLen(5)
	_ = enc.EncodeUint8(metaVersion)
	_ = enc.EncodeString(m.DataAddr)
	_ = enc.EncodeUint8(m.DataVersion)
	_ = enc.EncodeTime(m.Started)
	_ = enc.EncodeMapLen(len(m.Tags))
	for _, k := range slices.Sorted(maps.Keys(m.Tags)) {
		_ = enc.EncodeString(k)
		_ = enc.EncodeString(m.Tags[k])
	}
	return buf.Bytes()
}

// Limits on metadata from other nodes; all of it must fit in 512 bytes.
const (
	maxMetaAddr = 300 // a host name plus a port
	maxTags     = 32
	maxTag      = 128 // bytes in a tag's key or value
)

var errMeta = errors.New("cluster: malformed node metadata")

// decodeMeta parses metadata gossiped by another node. It reads newer layouts
// as long as they only append fields.
func decodeMeta(b []byte) (meta, error) {
	var m meta
	if len(b) == 0 {
		return m, nil // a node that has not advertised anything yet
	}
	var r wire.Reader
	r.Open(b, 4)
	if v := r.Uint8(); v < metaVersion {
		return meta{}, errMeta
	}
	m.DataAddr = r.String(maxMetaAddr)
	m.DataVersion = r.Uint8()
	m.Started = r.Time()
	if r.Optional() {
		if n := r.MapLen(maxTags); n > 0 {
			m.Tags = make(map[string]string, n)
			for range n {
				k := r.String(maxTag)
				m.Tags[k] = r.String(maxTag)
			}
		}
	}
	if err := r.Close(); err != nil {
		return meta{}, errMeta
	}
	return m, nil
}
