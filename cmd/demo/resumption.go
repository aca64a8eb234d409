package main

import (
	"fmt"

	"github.com/sessionmesh/sessionmesh"
)

// resumption is how the nodes share TLS sessions: the -resumption flag.
type resumption string

const (
	// cacheMode keeps session states in the cluster's memory; the client's
	// ticket is only a random handle (sessionmesh.Cache).
	cacheMode resumption = "cache"
	// ticketMode encrypts the state into the ticket with keys every node
	// shares and rotates every -ticket-rotation (sessionmesh.Tickets).
	ticketMode resumption = "tickets"
	// offMode turns session tickets off: every handshake is a full one, as
	// with SSL_OP_NO_TICKET. For comparison.
	offMode resumption = "off"
)

// parseResumption returns the mode named s.
func parseResumption(s string) (resumption, error) {
	switch r := resumption(s); r {
	case cacheMode, ticketMode, offMode:
		return r, nil
	}
	return "", fmt.Errorf("-resumption %q: want cache, tickets or off", s)
}

// mode is the member's mode: off mode runs a cache-mode member whose
// server has tickets turned off, so that its status counts the handshakes.
func (r resumption) mode() sessionmesh.Mode {
	if r == ticketMode {
		return sessionmesh.Tickets
	}
	return sessionmesh.Cache
}
