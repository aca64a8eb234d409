package main

import (
	"crypto/tls"
	"sync/atomic"

	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// handshakeCounter counts the handshakes of a config that no adapter counts
// for (off mode), in the adapters' Stats form, so that /status and /metrics
// read the same in every mode: off mode shows its 0% resumption instead of
// nothing.
type handshakeCounter struct {
	resumed, full [len(tlsadapter.Stats{}.Full)]atomic.Uint64 // by version − TLS 1.0
}

// counting returns a tls.Config.VerifyConnection that runs verify (if any),
// then counts the handshake, as the adapters' TLSConfig does.
func (h *handshakeCounter) counting(verify func(tls.ConnectionState) error) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if verify != nil {
			if err := verify(cs); err != nil {
				return err
			}
		}
		if i := int(cs.Version) - tls.VersionTLS10; i >= 0 && i < len(h.full) {
			if cs.DidResume {
				h.resumed[i].Add(1)
			} else {
				h.full[i].Add(1)
			}
		}
		return nil
	}
}

// Stats returns the counts; every other field is zero.
func (h *handshakeCounter) Stats() tlsadapter.Stats {
	var s tlsadapter.Stats
	for i := range h.full {
		s.Resumed[i], s.Full[i] = h.resumed[i].Load(), h.full[i].Load()
	}
	return s
}
