package cluster

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessionmesh/sessionmesh/internal/rejects"
)

// The gate sits between the network and memberlist and lets through only
// gossip that authenticates: packets and streams that carry this cluster's
// label and decrypt with one of its keys. memberlist checks the same, but
// only after it has buffered a whole stream, up to 20 MiB each and with no
// limit on how many at once (60 strangers' streams took a node from 58 MB to
// 934 MB), and it logs an error line for every bad packet. At the gate:
//
//   - a stream must announce an encrypted message no longer than a limit
//     that grows with the cluster (maxStream); a longer one is refused
//     before any of it is read;
//   - at most maxStreams streams are read at once; more are closed at once;
//   - a stream must arrive whole within the TCP timeout and decrypt, or it
//     is closed; only then does memberlist see it (and decrypt it again);
//   - a packet must decrypt, or it is dropped;
//   - refusals are counted by kind and summed up in the log (package
//     rejects), not logged one by one.
//
// So what a stranger can make a member buffer is at most maxStreams ×
// maxStream bytes at the gate, plus memberlist's working copies of streams
// that did authenticate.

// Wire values of memberlist's protocol (unexported there, stable on the wire).
const (
	labelMsg   = 244 // hasLabelMsg: a label header, [244, size, label...]
	encryptMsg = 10  // encryptMsg: [10, length uint32, encrypted payload]

	encryptVersionMax = 1  // memberlist encrypts with version 0 (padded) or 1
	nonceSize         = 12 // AES-GCM
	tagSize           = 16
)

// maxStreams bounds the streams the gate reads at once. Members push and
// pull state with a random member every PushPullInterval, so a member
// receives about one stream per interval, and a few more while others join.
const maxStreams = 8

// Refusal kinds, as counted in Stats.Rejected and the log.
const (
	rejectPacket         = "gossip_packet_unauthenticated" // does not decrypt with the cluster's keys
	rejectPacketLabel    = "gossip_packet_wrong_label"     // another cluster's label, or none
	rejectStream         = "gossip_stream_unauthenticated" // does not decrypt with the cluster's keys
	rejectStreamLabel    = "gossip_stream_wrong_label"
	rejectStreamPlain    = "gossip_stream_unencrypted"
	rejectStreamSize     = "gossip_stream_oversized"
	rejectStreamBusy     = "gossip_stream_too_many"
	rejectStreamTimedOut = "gossip_stream_incomplete" // not whole within the TCP timeout
)

// gate wraps a transport; see above.
type gate struct {
	memberlist.NodeAwareTransport
	label     string
	aeads     []cipher.AEAD // one per key of the keyring
	timeout   time.Duration // for a stream to arrive whole
	maxStream func() int    // bytes an encrypted stream message may announce
	rejected  *rejects.Log

	packets chan *memberlist.Packet
	streams chan net.Conn
	slots   chan struct{} // one per stream being read or handled

	stop chan struct{}
	wg   sync.WaitGroup // the gate's goroutines

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

func newGate(inner memberlist.NodeAwareTransport, label string, keys [][]byte, timeout time.Duration, maxStream func() int, rejected *rejects.Log) (*gate, error) {
	g := &gate{
		NodeAwareTransport: inner,
		label:              label,
		timeout:            timeout,
		maxStream:          maxStream,
		rejected:           rejected,
		packets:            make(chan *memberlist.Packet),
		streams:            make(chan net.Conn),
		slots:              make(chan struct{}, maxStreams),
		stop:               make(chan struct{}),
		conns:              make(map[net.Conn]struct{}),
	}
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
	g.wg.Add(2)
	go g.forwardPackets()
	go g.acceptStreams()
	return g, nil
}

func (g *gate) PacketCh() <-chan *memberlist.Packet { return g.packets }
func (g *gate) StreamCh() <-chan net.Conn           { return g.streams }

// Shutdown stops the transport under the gate, then the gate, and waits for
// the gate's goroutines.
func (g *gate) Shutdown() error {
	// The transport first: its listeners may be waiting to hand over a
	// packet or a stream, which the gate's goroutines take until it is done.
	// (memberlist reads from the gate until the transport has shut down.)
	err := g.NodeAwareTransport.Shutdown()
	close(g.stop)
	g.mu.Lock()
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
	return err
}

// forwardPackets passes on the packets that authenticate.
func (g *gate) forwardPackets() {
	defer g.wg.Done()
	for {
		var p *memberlist.Packet
		select {
		case p = <-g.NodeAwareTransport.PacketCh():
		case <-g.stop:
			return
		}
		if kind, err := g.checkPacket(p.Buf); kind != "" {
			g.rejected.Add(kind, p.From.String(), err)
			continue
		}
		select {
		case g.packets <- p:
		case <-g.stop:
			return
		}
	}
}

// checkPacket returns the refusal kind of a packet, or "".
func (g *gate) checkPacket(buf []byte) (kind string, err error) {
	body, label, err := memberlist.RemoveLabelHeaderFromPacket(buf)
	if err != nil || label != g.label {
		return rejectPacketLabel, err
	}
	if !g.authentic(body, []byte(label)) {
		return rejectPacket, nil
	}
	return "", nil
}

// authentic reports whether msg, memberlist's [version, nonce, ciphertext,
// tag], decrypts with one of the keys and additional data ad.
func (g *gate) authentic(msg, ad []byte) bool {
	if len(msg) < 1+nonceSize+tagSize || msg[0] > encryptVersionMax {
		return false
	}
	nonce, sealed := msg[1:1+nonceSize], msg[1+nonceSize:]
	var scratch []byte
	for _, aead := range g.aeads {
		var err error
		if scratch, err = aead.Open(scratch[:0], nonce, sealed, ad); err == nil {
			return true
		}
	}
	return false
}

// acceptStreams hands each incoming stream to a goroutine that checks it,
// while a slot is free; with none free, the stream is refused at once.
func (g *gate) acceptStreams() {
	defer g.wg.Done()
	for {
		var c net.Conn
		select {
		case c = <-g.NodeAwareTransport.StreamCh():
		case <-g.stop:
			return
		}
		select {
		case g.slots <- struct{}{}:
		default:
			g.rejected.Add(rejectStreamBusy, c.RemoteAddr().String(), nil)
			c.Close()
			continue
		}
		g.track(c, true)
		g.wg.Add(1)
		go g.checkStream(c)
	}
}

// checkStream reads a stream's first message and passes the stream on to
// memberlist if it authenticates. The stream keeps its slot until memberlist
// closes it.
func (g *gate) checkStream(c net.Conn) {
	defer g.wg.Done()
	passed := false
	defer func() {
		if !passed {
			g.track(c, false)
			c.Close()
			<-g.slots
		}
	}()
	c.SetReadDeadline(time.Now().Add(g.timeout))
	head, kind, err := g.readMessage(c)
	if kind != "" {
		g.rejected.Add(kind, c.RemoteAddr().String(), err)
		return
	}
	c.SetReadDeadline(time.Time{})
	select {
	case g.streams <- &passedConn{Conn: c, r: io.MultiReader(bytes.NewReader(head), c), release: func() {
		g.track(c, false)
		<-g.slots
	}}:
		passed = true
	case <-g.stop:
	}
}

// readMessage reads a stream's label header and first message, and returns
// the bytes read if the message authenticates, or why not. It reads the
// header piece by piece, so that nothing past the message is taken from the
// connection, and the message into one buffer of the size it announced, once
// that size is known to be within the limit.
func (g *gate) readMessage(c net.Conn) (head []byte, kind string, err error) {
	fail := func(err error) ([]byte, string, error) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, rejectStreamTimedOut, err
		}
		return nil, rejectStreamLabel, err // closed or cut short within the header
	}
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
	head = make([]byte, len(hdr)+int(n))
	copy(head, hdr)
	if _, err := io.ReadFull(c, head[len(hdr):]); err != nil {
		return fail(err)
	}
	// memberlist authenticates [type, length] and the label with the payload.
	ad := append(append([]byte(nil), head[start:len(hdr)]...), label...)
	if !g.authentic(head[len(hdr):], ad) {
		return nil, rejectStream, nil
	}
	return head, "", nil
}

// track adds c to (or removes it from) the streams Shutdown closes.
func (g *gate) track(c net.Conn, add bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if add {
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
}

// passedConn is a stream that authenticated: it replays what the gate read,
// and gives its slot back when memberlist closes it.
type passedConn struct {
	net.Conn
	r       io.Reader
	release func()
	once    sync.Once
}

func (c *passedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *passedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
