// Package wire decodes the msgpack arrays that sessionmesh nodes send each
// other: peer frames, session records, node metadata and ticket keys.
//
// Everything it reads arrived from the network, so it never trusts a length:
// a byte string may not claim more bytes than the input has left
// (msgpack.Decoder.DecodeBytes allocates whatever length the input declares,
// up to 4 GiB), arrays must have at least the fields this version knows, and
// fields appended by a newer version are skipped, so that formats can grow.
package wire

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// ErrMalformed is returned for input that is not the expected array.
var ErrMalformed = errors.New("malformed msgpack")

// Reader reads one msgpack array from a byte slice. The zero value is ready;
// a Reader is not safe for concurrent use.
type Reader struct {
	r     bytes.Reader
	dec   *msgpack.Decoder
	extra int // fields past the ones the caller knows
	err   error
}

// Open starts reading b, which must hold one array of at least fields elements.
func (r *Reader) Open(b []byte, fields int) {
	r.r.Reset(b)
	if r.dec == nil {
		r.dec = msgpack.NewDecoder(&r.r)
	} else {
		r.dec.Reset(&r.r)
	}
	r.err = nil
	n, err := r.dec.DecodeArrayLen()
	if err != nil || n < fields {
		r.err = ErrMalformed
	}
	r.extra = n - fields
}

// Uint64 reads an unsigned integer.
func (r *Reader) Uint64() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := r.dec.DecodeUint64()
	r.fail(err)
	return v
}

// Uint8 reads an unsigned integer that must fit a byte.
func (r *Reader) Uint8() uint8 {
	v := r.Uint64()
	if v > 0xff {
		r.fail(ErrMalformed)
		return 0
	}
	return uint8(v)
}

// Bool reads a boolean.
func (r *Reader) Bool() bool {
	if r.err != nil {
		return false
	}
	v, err := r.dec.DecodeBool()
	r.fail(err)
	return v
}

// Bytes reads a byte string (bin or str) of at most max bytes into a fresh slice.
func (r *Reader) Bytes(max int) []byte {
	if r.err != nil {
		return nil
	}
	n, err := r.dec.DecodeBytesLen()
	if err != nil || n > max || n > r.r.Len() {
		r.fail(ErrMalformed)
		return nil
	}
	if n <= 0 {
		return nil
	}
	// The decoder reads straight from r.r (a bytes.Reader is a
	// io.ByteScanner, so msgpack does not buffer ahead of it).
	b := make([]byte, n)
	if _, err := r.r.Read(b); err != nil {
		r.fail(err)
		return nil
	}
	return b
}

// SkipBytes skips a byte string (bin or str) of at most max bytes, which
// Bytes would have read, without copying it.
func (r *Reader) SkipBytes(max int) {
	if r.err != nil {
		return
	}
	n, err := r.dec.DecodeBytesLen()
	if err != nil || n > max || n > r.r.Len() {
		r.fail(ErrMalformed)
		return
	}
	if n > 0 {
		r.r.Seek(int64(n), io.SeekCurrent) // within r.r: cannot fail
	}
}

// String reads a string (str or bin) of at most max bytes.
func (r *Reader) String(max int) string { return string(r.Bytes(max)) }

// Time reads a msgpack timestamp.
func (r *Reader) Time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	t, err := r.dec.DecodeTime()
	r.fail(err)
	return t
}

// Optional reports whether the array has one more field, past those Open
// required, and claims it: a field added in a later version of a format.
func (r *Reader) Optional() bool {
	if r.err != nil || r.extra <= 0 {
		return false
	}
	r.extra--
	return true
}

// ArrayLen reads the length of a nested array of at most max elements.
func (r *Reader) ArrayLen(max int) int {
	if r.err != nil {
		return 0
	}
	n, err := r.dec.DecodeArrayLen()
	if err != nil || n < 0 || n > max || n > r.r.Len() {
		r.fail(ErrMalformed)
		return 0
	}
	return n
}

// MapLen reads the length of a map of at most max entries.
func (r *Reader) MapLen(max int) int {
	if r.err != nil {
		return 0
	}
	n, err := r.dec.DecodeMapLen()
	if err != nil || n < 0 || n > max || 2*n > r.r.Len() {
		r.fail(ErrMalformed)
		return 0
	}
	return n
}

// Int64 reads a signed integer.
func (r *Reader) Int64() int64 {
	if r.err != nil {
		return 0
	}
	v, err := r.dec.DecodeInt64()
	r.fail(err)
	return v
}

// Skip skips one value of any type.
func (r *Reader) Skip() {
	if r.err == nil {
		r.fail(r.dec.Skip())
	}
}

// Err returns the first error met so far.
func (r *Reader) Err() error { return r.err }

// Close skips the fields a newer version appended, checks that nothing
// trails the array, and returns the first error met.
func (r *Reader) Close() error {
	for ; r.err == nil && r.extra > 0; r.extra-- {
		r.fail(r.dec.Skip())
	}
	if r.err == nil && r.r.Len() != 0 {
		r.err = ErrMalformed
	}
	return r.err
}

func (r *Reader) fail(err error) {
	if err != nil && r.err == nil {
		r.err = ErrMalformed
	}
}
