package cluster

import (
	"maps"
	"testing"
	"time"
)

// FuzzDecodeMeta feeds arbitrary metadata to the decoder, as a node on
// another version (or a bug) could gossip. It must never panic, and metadata
// it accepts must survive re-encoding.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(meta{DataAddr: "10.0.0.1:7947", DataVersion: 1, Started: time.Unix(1700000000, 5)}))
	f.Add(encodeMeta(meta{Tags: map[string]string{"ticketkeys": "1", "zone": "b"}}))
	f.Add([]byte{})
	f.Add([]byte{0x95, 0x02, 0xa0, 0x01, 0xd6, 0xff, 0, 0, 0, 1, 0xc0}) // version 2 with an extra field
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		m2, err := decodeMeta(encodeMeta(m))
		if err != nil || m2.DataAddr != m.DataAddr || m2.DataVersion != m.DataVersion || !m2.Started.Equal(m.Started) ||
			!maps.Equal(m2.Tags, m.Tags) {
			t.Fatalf("re-encoded metadata differs: %+v vs %+v (%v)", m2, m, err)
		}
	})
}
