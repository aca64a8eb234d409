package peer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// conn is one established client connection and the requests in flight on it.
//
// No goroutine sits reading it. A caller that has sent its request becomes the
// reader if nobody is reading, and reads until its own response arrives,
// handing any others' responses to their callers on the way; when it leaves,
// it passes the reading on to a caller still waiting. A lone request thus
// costs one write and one read on the caller's own goroutine, with no
// goroutine switch in between, which on a loopback or LAN round trip is most
// of the time; concurrent requests share reads.
type conn struct {
	nc net.Conn

	writers atomic.Int32 // goroutines writing or waiting to write
	wmu     sync.Mutex   // guards bw and fw
	bw      *bufio.Writer
	fw      *frameWriter

	rmu sync.Mutex // held by the caller reading responses; guards br and fr
	br  *bufio.Reader
	fr  *frameReader

	nextID atomic.Uint64

	mu      sync.Mutex // guards pending and err
	pending map[uint64]*waiter
	err     error         // why the connection broke; set once, before done is closed
	done    chan struct{} // closed when the connection breaks
}

// waiter is a caller waiting for its response.
type waiter struct {
	resp chan Response // receives the response; buffered, sent to at most once
	lead chan struct{} // receives a turn to read; buffered
}

// readBuffer holds any frame a response normally carries, so that a read
// that times out halfway through one can be resumed by the next reader (see
// readResponse).
const readBuffer = 80 << 10

// minWriteTime is the least time a write gets before the connection is
// declared stuck.
const minWriteTime = 20 * time.Millisecond

func newConn(nc net.Conn) *conn {
	return &conn{
		nc:      nc,
		bw:      bufio.NewWriterSize(nc, 16<<10),
		fw:      newFrameWriter(),
		br:      bufio.NewReaderSize(nc, readBuffer),
		fr:      newFrameReader(),
		pending: make(map[uint64]*waiter),
		done:    make(chan struct{}),
	}
}

func (cn *conn) roundTrip(ctx context.Context, req *Request) (Response, error) {
	r := *req
	r.ID = cn.nextID.Add(1)
	w := &waiter{resp: make(chan Response, 1), lead: make(chan struct{}, 1)}
	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		return Response{}, err
	}
	cn.pending[r.ID] = w
	cn.mu.Unlock()

	if err := ctx.Err(); err != nil { // never send what nobody waits for
		cn.abandon(r.ID, w)
		return Response{}, err
	}
	if err := cn.write(ctx, &r); err != nil {
		cn.fail(err)
		return Response{}, err
	}
	for {
		if cn.rmu.TryLock() {
			return cn.readUntil(ctx, r.ID, w)
		}
		select {
		case resp := <-w.resp:
			return resp, nil
		case <-w.lead:
			// The reader left; loop to take over.
		case <-cn.done:
			return Response{}, cn.err
		case <-ctx.Done():
			cn.abandon(r.ID, w)
			return Response{}, ctx.Err()
		}
	}
}

// readUntil reads responses until id's arrives, delivering the others to
// their waiters. It is called with rmu held, and releases it.
func (cn *conn) readUntil(ctx context.Context, id uint64, w *waiter) (Response, error) {
	defer cn.handOff()
	select {
	case resp := <-w.resp: // the previous reader delivered it
		return resp, nil
	default:
	}
	deadline, _ := ctx.Deadline()
	cn.nc.SetReadDeadline(deadline)
	defer cn.interruptOn(ctx)()
	for {
		resp, err := cn.readResponse()
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			cn.abandon(id, w)
			if err := ctx.Err(); err != nil {
				return Response{}, err // canceled, or past its deadline
			}
			return Response{}, context.DeadlineExceeded
		default:
			cn.fail(err)
			return Response{}, err
		}
		cn.mu.Lock()
		dst := cn.pending[resp.ID]
		delete(cn.pending, resp.ID)
		cn.mu.Unlock()
		if resp.ID == id {
			return resp, nil
		}
		if dst != nil { // nil: its caller gave up
			dst.resp <- resp
		}
		if ctx.Err() != nil {
			cn.abandon(id, w)
			return Response{}, ctx.Err()
		}
	}
}

// readResponse reads one response frame. A frame that fits the read buffer is
// only consumed once it has arrived whole, so a read that times out midway
// leaves the stream intact for the next reader; a larger frame is read
// directly, and a timeout inside it breaks the connection.
func (cn *conn) readResponse() (Response, error) {
	hdr, err := cn.br.Peek(4)
	if err != nil {
		return Response{}, err
	}
	n := int(binary.BigEndian.Uint32(hdr))
	if n > MaxFrame {
		return Response{}, errFrameSize
	}
	if 4+n <= cn.br.Size() {
		frame, err := cn.br.Peek(4 + n)
		if err != nil {
			return Response{}, err
		}
		resp, err := cn.fr.response(frame[4:])
		cn.br.Discard(4 + n)
		return resp, err
	}
	cn.br.Discard(4)
	body := make([]byte, n)
	if _, err := io.ReadFull(cn.br, body); err != nil {
		return Response{}, errors.Join(errTornFrame, err)
	}
	return cn.fr.response(body)
}

var errTornFrame = errors.New("peer: connection broke inside a frame")

// interruptOn makes a cancellation of ctx interrupt the read in progress,
// as its deadline does, so that a reader whose caller gives up without a
// deadline does not wait for the next response. The function it returns
// disarms the interruption; the reader calls it before passing the reading
// on, so that a late cancellation cannot cut the next reader's read short.
// (A read interrupted once leaves a deadline in the past, which the next
// reader replaces with its own before reading.)
func (cn *conn) interruptOn(ctx context.Context) (disarm func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	var mu sync.Mutex // guards armed
	armed := true
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if armed {
			cn.nc.SetReadDeadline(time.Unix(1, 0))
		}
	})
	return func() {
		if !stop() {
			mu.Lock()
			armed = false
			mu.Unlock()
		}
	}
}

// handOff releases the reading and gives a waiting caller its turn.
func (cn *conn) handOff() {
	cn.rmu.Unlock()
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.wakeLocked()
}

// wakeLocked gives one waiting caller a turn to read. The send happens under
// mu, so a waiter that abandons (under mu too) cannot miss a turn it was given.
func (cn *conn) wakeLocked() {
	for _, w := range cn.pending {
		select {
		case w.lead <- struct{}{}:
		default: // it already has a turn
		}
		return
	}
}

// abandon forgets a request whose caller gives up; if the caller had been
// given a turn to read, the turn passes on.
func (cn *conn) abandon(id uint64, w *waiter) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	delete(cn.pending, id)
	select {
	case <-w.lead:
		cn.wakeLocked()
	default:
	}
}

// write sends one request. Concurrent writers take turns; only the last one
// waiting flushes, so a burst of requests leaves in one TLS record.
func (cn *conn) write(ctx context.Context, r *Request) error {
	cn.writers.Add(1)
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	last := cn.writers.Add(-1) == 0
	frame, err := cn.fw.request(r) // Do checked the sizes
	if err != nil {
		return err
	}
	// A write to a healthy peer takes microseconds; one that blocks means the
	// peer stopped reading, and a write that times out leaves a torn frame,
	// so the connection goes. The caller's deadline bounds the wait, but never
	// below minWriteTime, so that a caller about to give up cannot break a
	// healthy connection that others share.
	deadline := time.Now().Add(minWriteTime)
	if d, ok := ctx.Deadline(); ok && d.After(deadline) {
		deadline = d
	} else if !ok {
		deadline = time.Now().Add(HandshakeTimeout)
	}
	cn.nc.SetWriteDeadline(deadline)
	if _, err := cn.bw.Write(frame); err != nil {
		return err
	}
	if last {
		return cn.bw.Flush()
	}
	return nil
}

// fail breaks the connection: every request in flight gets err.
func (cn *conn) fail(err error) {
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = err
		clear(cn.pending)
		close(cn.done)
	}
	cn.mu.Unlock()
	cn.nc.Close()
}
