// Package peer is the protocol sessionmesh members use to read and write each
// other's session records: length-prefixed msgpack frames over one persistent
// TLS connection per pair of members, carrying any number of concurrent
// requests matched to their responses by ID.
//
// A Client dials its peer on first use, in the background, so a caller with
// a short deadline stops waiting without cutting the attempt short for
// others; when the connection breaks, a request times out or a dial fails,
// the peer is marked down for an exponential backoff (100 ms to 2 s), and
// requests fail at once with ErrUnavailable instead of paying for another
// attempt. Concurrent writers take turns and only the last flushes, so a
// burst of requests leaves in one TLS record; the server likewise flushes
// only when no further request is waiting.
//
// A Server answers each request with a Handler, inline on the connection's
// goroutine, and never forwards one. A connection opens with a preamble that
// names the protocol version; a frame larger than MaxFrame, an unknown
// preamble or a malformed frame closes the connection.
package peer
