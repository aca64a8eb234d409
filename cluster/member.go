package cluster

import (
	"bytes"
	"errors"
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
	// Local is true for the node itself.
	Local bool
}

// metaVersion is the layout version of the metadata a node gossips about itself.
const metaVersion = 1

// meta is what a node advertises about itself in memberlist's node metadata.
// It must fit memberlist.MetaMaxSize (512 bytes).
type meta struct {
	DataAddr    string
	DataVersion uint8
	Started     time.Time
}

// encodeMeta returns m as a msgpack array: [version, dataAddr, dataVersion, started].
func encodeMeta(m meta) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_ = enc.EncodeArrayLen(4)
	_ = enc.EncodeUint8(metaVersion)
	_ = enc.EncodeString(m.DataAddr)
	_ = enc.EncodeUint8(m.DataVersion)
	_ = enc.EncodeTime(m.Started)
	return buf.Bytes()
}

// maxMetaAddr bounds the address in metadata: a host name plus a port.
const maxMetaAddr = 300

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
	if err := r.Close(); err != nil {
		return meta{}, errMeta
	}
	return m, nil
}
