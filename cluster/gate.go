package cluster

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/rejects"
)

// The gate sits between the network and memberlist and lets through only
// gossip that authenticates: packets and streams that carry this cluster's
// label and decrypt with one of its keys. memberlist checks the same, but
// only after it has buffered a whole stream, up to 20 MiB each and with no
// limit on how many at once (60 strangers' streams took a node from 58 MB to
// 934 MB), and it logs an error line for every bad packet. At the gate:
//
//   - a packet must decrypt, or it is dropped, before anything is allocated
//     for it (netTransport reads packets into one reused buffer);
//   - a stream gets a slot before anything is read from it: members (by
//     address) have slots of their own, strangers share the rest, at most a
//     couple each, so that a stranger holding streams open can neither keep
//     members from pushing and pulling state or pinging over TCP, nor take
//     every slot alone; with no slot free it is closed at once;
//   - a stream must send its header (label, type, announced length) within
//     a second and its message within the TCP timeout;
//   - the message must be encrypted and announce no more than a cluster of
//     this size needs (maxStream), or it is refused before it is read;
//   - only a stream whose message decrypts reaches memberlist, which decrypts
//     it again; it keeps its slot until memberlist closes it;
//   - refusals are counted by kind and summed up in the log (package
//     rejects), not logged one by one.
//
// So what strangers can make a member buffer is at most strangerStreams ×
// maxStream bytes, and members always have memberStreams slots of their own.

// Wire values of memberlist's protocol (unexported there, stable on the wire).
const (
	labelMsg   = 244 // hasLabelMsg: a label header, [244, size, label...]
	encryptMsg = 10  // encryptMsg: [10, length uint32, encrypted payload]

	encryptVersionMax = 1  // memberlist encrypts with version 0 (padded) or 1
	nonceSize         = 12 // AES-GCM
	tagSize           = 16
)

// Stream slots. Members push and pull state with a random member every
// PushPullInterval, so a member receives about one stream per interval, and
// a few more while others join or while UDP probes fail (TCP pings).
const (
	memberStreams   = 8 // slots for streams from members' addresses
	strangerStreams = 8 // slots for everyone else (a node that joins is a stranger until then)
	perStranger     = 2 // slots one stranger's address may hold at once
	headerTimeout   = time.Second
)

// Refusal kinds, as counted in Stats.Rejected and the log.
const (
	rejectPacket         = "gossip_packet_unauthenticated" // does not decrypt with the cluster's keys
	rejectPacketLabel    = "gossip_packet_wrong_label"     // another cluster's label, or none
	rejectStream         = "gossip_stream_unauthenticated" // does not decrypt with the cluster's keys
	rejectStreamLabel    = "gossip_stream_wrong_label"
	rejectStreamPlain    = "gossip_stream_unencrypted"
	rejectStreamSize     = "gossip_stream_oversized"
	rejectStreamBusy     = "gossip_stream_too_many"
	rejectStreamTimedOut = "gossip_stream_incomplete" // closed, or not whole within its deadlines
)

// gate holds the checks; netTransport and gatedTransport apply them.
type gate struct {
	label     string
	aeads     []cipher.AEAD // one per key of the keyring
	timeout   time.Duration // for a stream's message to arrive whole
	maxStream func() int    // bytes an encrypted stream message may announce
	isMember  func(ip string) bool
	rejected  *rejects.Log

	mu        sync.Mutex // guards the slot counts
	members   int
	strangers int
	bySource  map[string]int // strangers' streams by address
}

func newGate(label string, keys [][]byte, timeout time.Duration, maxStream func() int, isMember func(string) bool, rejected *rejects.Log) (*gate, error) {
	g := &gate{label: label, timeout: timeout, maxStream: maxStream, isMember: isMember, rejected: rejected, bySource: make(map[string]int)}
	for _, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		g.aeads = append(g.aeads, aead)
	}
	return g, nil
}

// packetOK reports whether a packet authenticates, counting it if not.
// scratch is a buffer the caller reuses, returned grown if need be. A
// refused packet costs no allocation.
func (g *gate) packetOK(buf []byte, from net.Addr, scratch []byte) (bool, []byte) {
	body, label, err := splitLabel(buf)
	if err != nil || string(label) != g.label { // compared without a copy
		g.rejected.Add(rejectPacketLabel, from, err)
		return false, scratch
	}
	ok, scratch := g.authentic(body, label, scratch)
	if !ok {
		g.rejected.Add(rejectPacket, from, nil)
	}
	return ok, scratch
}

// errLabel is a label header cut short.
var errLabel = errors.New("truncated label")

// splitLabel splits a packet into memberlist's label header and the rest
// (memberlist.RemoveLabelHeaderFromPacket copies the label).
func splitLabel(buf []byte) (body, label []byte, err error) {
	if len(buf) == 0 || buf[0] != labelMsg {
		return buf, nil, nil
	}
	if len(buf) < 2 || len(buf) < 2+int(buf[1]) || buf[1] == 0 {
		return nil, nil, errLabel
	}
	return buf[2+int(buf[1]):], buf[2 : 2+int(buf[1])], nil
}

// authentic reports whether msg, memberlist's [version, nonce, ciphertext,
// tag], decrypts with one of the keys and additional data ad.
func (g *gate) authentic(msg, ad, scratch []byte) (bool, []byte) {
	if len(msg) < 1+nonceSize+tagSize || msg[0] > encryptVersionMax {
		return false, scratch
	}
	nonce, sealed := msg[1:1+nonceSize], msg[1+nonceSize:]
	for _, aead := range g.aeads {
		out, err := aead.Open(scratch[:0], nonce, sealed, ad)
		if err == nil {
			return true, out
		}
		// Open returns nil when it fails: keep the buffer for the next try.
	}
	return false, scratch
}

// acquire takes a stream slot for a connection from c's address, or
// reports false (and counts the refusal) if none is free.
func (g *gate) acquire(c net.Conn) (release func(), ok bool) {
	ip := hostOf(c.RemoteAddr())
	member := g.isMember(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case member && g.members < memberStreams:
		g.members++
		return g.releaser(func() { g.members-- }), true
	case g.strangers < strangerStreams && g.bySource[ip] < perStranger:
		g.strangers++
		g.bySource[ip]++
		return g.releaser(func() {
			g.strangers--
			if g.bySource[ip]--; g.bySource[ip] == 0 {
				delete(g.bySource, ip)
			}
		}), true
	}
	g.rejected.Add(rejectStreamBusy, c.RemoteAddr(), nil)
	return nil, false
}

// releaser returns a function that gives a slot back, once.
func (g *gate) releaser(give func()) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			give()
		})
	}
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// checkStream reads a stream's first message and returns a connection that
// replays it for memberlist if it authenticates, or nil, having counted the
// refusal, if not. release gives the stream's slot back; the returned
// connection does it when closed.
func (g *gate) checkStream(c net.Conn, release func()) net.Conn {
	head, kind, err := g.readMessage(c)
	if kind != "" {
		g.rejected.Add(kind, c.RemoteAddr(), err)
		return nil
	}
	c.SetReadDeadline(time.Time{})
	return &passedConn{Conn: c, r: io.MultiReader(&byteReader{b: head}, c), release: release}
}

// readMessage reads a stream's label header and first message, and returns
// the bytes read if the message authenticates, or why not. It reads the
// header piece by piece, so that nothing past the message is taken from the
// connection, and the message into one buffer of the size it announced, once
// that size is known to be within the limit.
func (g *gate) readMessage(c net.Conn) (head []byte, kind string, err error) {
	fail := func(err error) ([]byte, string, error) { // timed out, or closed before its message was whole
		return nil, rejectStreamTimedOut, err
	}
	c.SetReadDeadline(time.Now().Add(min(headerTimeout, g.timeout)))
	// [244, size, label...] (the label header), then [10, length uint32, payload...]
	hdr := make([]byte, 1, 2+255+5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return fail(err)
	}
	var label []byte
	if hdr[0] == labelMsg {
		hdr = hdr[:2]
		if _, err := io.ReadFull(c, hdr[1:]); err != nil {
			return fail(err)
		}
		hdr = hdr[:2+int(hdr[1])+1] // the label, then the message type
		if _, err := io.ReadFull(c, hdr[2:]); err != nil {
			return fail(err)
		}
		label = hdr[2 : len(hdr)-1]
	}
	if string(label) != g.label {
		return nil, rejectStreamLabel, nil
	}
	if hdr[len(hdr)-1] != encryptMsg {
		return nil, rejectStreamPlain, nil
	}
	start := len(hdr) - 1 // where the encrypted message, type byte first, begins
	hdr = hdr[:len(hdr)+4]
	if _, err := io.ReadFull(c, hdr[len(hdr)-4:]); err != nil {
		return fail(err)
	}
	n := binary.BigEndian.Uint32(hdr[len(hdr)-4:])
	if limit := g.maxStream(); n > uint32(limit) {
		return nil, rejectStreamSize, fmt.Errorf("a message of %d bytes, over the %d this cluster needs", n, limit)
	}
	c.SetReadDeadline(time.Now().Add(g.timeout))
	head = make([]byte, len(hdr)+int(n))
	copy(head, hdr)
	if _, err := io.ReadFull(c, head[len(hdr):]); err != nil {
		return fail(err)
	}
	// memberlist authenticates [type, length] and the label with the payload.
	ad := append(append([]byte(nil), head[start:len(hdr)]...), label...)
	if ok, _ := g.authentic(head[len(hdr):], ad, nil); !ok {
		return nil, rejectStream, nil
	}
	return head, "", nil
}

// passedConn is a stream that authenticated: it replays what the gate read,
// and gives its slot back when memberlist closes it.
type passedConn struct {
	net.Conn
	r       io.Reader
	release func()
}

func (c *passedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *passedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// byteReader reads b, then lets it go.
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		r.b = nil
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
