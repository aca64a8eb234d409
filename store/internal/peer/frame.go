package peer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessionmesh/sessionmesh/internal/wire"
)

// Op is what a request asks for.
type Op uint8

// The operations. Each acts on the receiving node's local shard only: a
// request is never forwarded, so two nodes that disagree about the ring
// cannot bounce a request between them.
const (
	OpGet    Op = 1 // Value of the response is the stored value
	OpPut    Op = 2 // Value of the request is stored under Key
	OpDelete Op = 3

	// Web sessions: versioned records in a space of their own.
	OpWebGet    Op = 4 // Value of the response is the copy held (StatusNotFound if none)
	OpWebPut    Op = 5 // store the copy in Value unless a newer one is held (then StatusNewer, with it)
	OpWebCommit Op = 6 // coordinate a write: Value is the change; the receiver versions and replicates it (StatusNewer: the session was deleted, and the change does not recreate it)
)

func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpWebGet:
		return "web get"
	case OpWebPut:
		return "web put"
	case OpWebCommit:
		return "web commit"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Status is the outcome of a request.
type Status uint8

// The statuses.
const (
	StatusOK       Status = 0
	StatusNotFound Status = 1 // no valid entry under Key
	StatusInvalid  Status = 2 // the request was malformed or refused (bad op, key or value)
	StatusExpired  Status = 3 // the entry under Key has expired (a miss, with its reason)
	StatusLeaving  Status = 4 // the member is leaving the ring and takes no more records
	StatusNewer    Status = 5 // the member holds a newer copy (in Value) than the one offered
	StatusShort    Status = 6 // a write reached fewer members than it needs; Value says why
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusNotFound:
		return "not found"
	case StatusInvalid:
		return "invalid"
	case StatusExpired:
		return "expired"
	case StatusLeaving:
		return "leaving"
	case StatusNewer:
		return "newer copy held"
	case StatusShort:
		return "too few copies"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Request is one request frame. ID is chosen by the client and echoed in the
// response; many requests may be in flight on one connection.
type Request struct {
	ID    uint64
	Op    Op
	Key   string
	Value []byte
	// Ring identifies the ring by which the sender placed the record it
	// sends (OpPut, OpWebPut): a receiver whose ring differs looks again at
	// who else should hold it. Zero: not said (a sender before this field).
	Ring uint64
}

// Response is one response frame.
type Response struct {
	ID     uint64
	Status Status
	Value  []byte
}

// Limits on what a frame may carry.
const (
	// MaxFrame is the largest frame either side accepts. A session with a
	// client certificate chain is a few kilobytes; anything near this is an
	// attack or a bug, and the connection is closed.
	MaxFrame = 1 << 20
	// MaxKey is the longest key.
	MaxKey = 255
)

// Frame layout: a 4-byte big-endian length, then that many bytes holding one
// msgpack array: [id, op, key, value, ring] for a request (ring only if not
// zero), [id, status, value] for a response. Decoders accept longer arrays and skip what they do not know,
// so fields can be appended in later versions.

var (
	errFrameSize = errors.New("peer: frame too large")
	errMalformed = errors.New("peer: malformed frame")
)

// frameWriter encodes frames into a reusable buffer. Not safe for concurrent use.
type frameWriter struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

func newFrameWriter() *frameWriter {
	w := &frameWriter{}
	w.enc = msgpack.NewEncoder(&w.buf)
	return w
}

// request encodes r as a frame; the result is valid until the next call.
func (w *frameWriter) request(r *Request) ([]byte, error) {
	if len(r.Key) > MaxKey {
		return nil, fmt.Errorf("peer: key of %d bytes exceeds %d", len(r.Key), MaxKey)
	}
	w.start()
	fields := 4
	if r.Ring != 0 {
		fields = 5
	}
	_ = w.enc.EncodeArrayLen(fields) // writes to a bytes.Buffer cannot fail
	_ = w.enc.EncodeUint64(r.ID)
	_ = w.enc.EncodeUint8(uint8(r.Op))
	_ = w.enc.EncodeBytes([]byte(r.Key))
	_ = w.enc.EncodeBytes(r.Value)
	if r.Ring != 0 {
		_ = w.enc.EncodeUint64(r.Ring)
	}
	return w.finish()
}

// response encodes r as a frame; the result is valid until the next call.
func (w *frameWriter) response(r *Response) ([]byte, error) {
	w.start()
	_ = w.enc.EncodeArrayLen(3)
	_ = w.enc.EncodeUint64(r.ID)
	_ = w.enc.EncodeUint8(uint8(r.Status))
	_ = w.enc.EncodeBytes(r.Value)
	return w.finish()
}

func (w *frameWriter) start() {
	w.buf.Reset()
	w.buf.Write([]byte{0, 0, 0, 0}) // length, patched by finish
}

func (w *frameWriter) finish() ([]byte, error) {
	b := w.buf.Bytes()
	n := len(b) - 4
	if n > MaxFrame {
		return nil, errFrameSize
	}
	binary.BigEndian.PutUint32(b, uint32(n))
	return b, nil
}

// readFrame reads one frame's body into buf (grown as needed) and returns it.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return buf, errFrameSize
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return buf, nil
}

// frameReader decodes frame bodies. Not safe for concurrent use.
type frameReader struct{ r wire.Reader }

func newFrameReader() *frameReader { return &frameReader{} }

// DecodeRequest parses a request frame body (without the length prefix).
// Key and Value are fresh copies: they do not alias body.
func DecodeRequest(body []byte) (Request, error) { return newFrameReader().request(body) }

// DecodeResponse parses a response frame body (without the length prefix).
// Value is a fresh copy.
func DecodeResponse(body []byte) (Response, error) { return newFrameReader().response(body) }

func (fr *frameReader) request(body []byte) (Request, error) {
	var r Request
	fr.r.Open(body, 4)
	r.ID = fr.r.Uint64()
	r.Op = Op(fr.r.Uint8())
	r.Key = fr.r.String(MaxKey)
	r.Value = fr.r.Bytes(MaxFrame)
	if fr.r.Optional() {
		r.Ring = fr.r.Uint64()
	}
	if err := fr.r.Close(); err != nil {
		return Request{}, errMalformed
	}
	return r, nil
}

func (fr *frameReader) response(body []byte) (Response, error) {
	var r Response
	fr.r.Open(body, 3)
	r.ID = fr.r.Uint64()
	r.Status = Status(fr.r.Uint8())
	r.Value = fr.r.Bytes(MaxFrame)
	if err := fr.r.Close(); err != nil {
		return Response{}, errMalformed
	}
	return r, nil
}
