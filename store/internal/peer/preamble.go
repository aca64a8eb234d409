package peer

import (
	"fmt"
	"io"
)

// Version is the protocol version. A member advertises it with its address,
// and a connection opens with it, so that nodes on incompatible versions never
// exchange frames.
const Version = 1

// preamble opens every connection, client to server: a magic string and the
// version byte.
const preamble = "SMSH\x01"

func readPreamble(r io.Reader) error {
	var got [len(preamble)]byte
	if _, err := io.ReadFull(r, got[:]); err != nil {
		return fmt.Errorf("peer: reading preamble: %w", err)
	}
	if string(got[:]) != preamble {
		if string(got[:4]) == preamble[:4] {
			return fmt.Errorf("peer: client speaks protocol version %d, this node %d", got[4], Version)
		}
		return fmt.Errorf("peer: not a sessionmesh peer (preamble %q)", got[:])
	}
	return nil
}
