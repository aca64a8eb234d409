package peer

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/rejects"
)

// Handler answers requests. ServePeer is called from one goroutine per
// connection, so concurrently, and should not block: the connection's next
// request waits for it.
type Handler interface {
	ServePeer(*Request) Response
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(*Request) Response

// ServePeer calls f(r).
func (f HandlerFunc) ServePeer(r *Request) Response { return f(r) }

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("peer: server closed")

// HandshakeTimeout bounds a new connection's TLS handshake and preamble.
const HandshakeTimeout = 5 * time.Second

// helloTimeout is how soon a new connection must have sent its whole
// ClientHello. A member's client sends it as soon as it has connected; a
// connection that dribbles it only holds a place.
const helloTimeout = time.Second

// Refusal kinds, as counted in Rejected and the log.
const (
	rejectBusy      = "peer_connection_over_limit" // beyond the admission bounds (see admission)
	rejectAccept    = "peer_accept_failed"         // the listener failed for a while (no file descriptors left)
	rejectTLS       = "peer_tls_failed"            // no client certificate, one the cluster did not issue, or not TLS
	rejectPreamble  = "peer_bad_preamble"          // authenticated, but another protocol or version
	rejectNoCert    = "peer_no_certificate"        // a config that does not demand one (store refuses those)
	rejectFrameSize = "peer_frame_too_large"       // from an authenticated member
	rejectRequest   = "peer_bad_request"           // from an authenticated member
)

// Server serves the peer protocol on TLS connections.
type Server struct {
	handler      Handler
	tls          *tls.Config
	logger       *slog.Logger
	writeTimeout time.Duration // for each write to a connection; HandshakeTimeout but in tests
	admission    *admission
	rejected     *rejects.Log
	slow         func(*Request) bool // requests to answer on goroutines of their own

	mu        sync.Mutex // guards listeners, conns and closed
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup // connection goroutines
}

// NewServer returns a server that answers with h over TLS configured by
// tlsConfig, which should demand and verify client certificates.
func NewServer(h Handler, tlsConfig *tls.Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		writeTimeout: HandshakeTimeout,
		admission:    newAdmission(),
		rejected:     rejects.New("the data channel", logger, time.Minute),
		handler:      h,
		tls:          tlsConfig,
		logger:       logger,
		listeners:    make(map[net.Listener]struct{}),
		conns:        make(map[net.Conn]struct{}),
	}
}

// Serve accepts connections on ln (a plain TCP listener; Serve adds TLS)
// until Close, and returns ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()

	var delay time.Duration // backoff on temporary accept errors, as net/http does
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.rejected.Add(rejectAccept, "", err) // out of file descriptors, say, in a flood
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		release, ok := s.admission.admit(c.RemoteAddr())
		if !ok {
			s.rejected.Add(rejectBusy, c.RemoteAddr(), nil)
			c.Close()
			continue
		}
		if !s.track(c) {
			c.Close()
			release()
			return ErrServerClosed
		}
		go s.serveConn(c, release)
	}
}

// MembersAt tells the server which addresses are members', whose new
// connections are admitted apart from strangers'. Call it before Serve; isMember
// is called from Serve's goroutine.
func (s *Server) MembersAt(isMember func(ip string) bool) { s.admission.isMember = isMember }

// AnswerAside makes the server answer each request for which slow reports
// true on a goroutine of its own, so that the connection's next requests do
// not wait for it. Call it before Serve.
func (s *Server) AnswerAside(slow func(*Request) bool) { s.slow = slow }

// Rejected counts the connections and requests the server refused, by kind.
func (s *Server) Rejected() map[string]uint64 { return s.rejected.Counts() }

// track registers a connection, or reports false if the server is closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops every listener and connection and waits for their goroutines.
// It is safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.rejected.Close()
	return nil
}

// handshake runs the TLS handshake and reads the preamble, within
// HandshakeTimeout, and returns the connection ready for requests, or the
// kind of refusal.
func (s *Server) handshake(raw net.Conn) (*tls.Conn, *bufio.Reader, string, error) {
	// The ClientHello's record whole within helloTimeout: a 5-byte header
	// (type 22, version, length), then as many bytes as it says.
	first := bufio.NewReaderSize(raw, 5+maxHello)
	raw.SetDeadline(time.Now().Add(helloTimeout))
	hdr, err := first.Peek(5)
	if err != nil {
		return nil, nil, rejectTLS, err
	}
	n := int(binary.BigEndian.Uint16(hdr[3:5]))
	if hdr[0] != 22 || n > maxHello {
		return nil, nil, rejectTLS, errors.New("not a TLS handshake")
	}
	if _, err := first.Peek(5 + n); err != nil {
		return nil, nil, rejectTLS, err
	}
	raw.SetDeadline(time.Now().Add(HandshakeTimeout))
	c := tls.Server(readerConn{raw, first}, s.tls)
	if err := c.Handshake(); err != nil {
		return nil, nil, rejectTLS, err
	}
	br := bufio.NewReaderSize(c, 16<<10)
	if err := readPreamble(br); err != nil {
		return nil, nil, rejectPreamble, err
	}
	raw.SetDeadline(time.Time{})
	if len(c.ConnectionState().PeerCertificates) == 0 {
		// The store refuses a config that does not demand client
		// certificates; a server built around that check must not panic.
		return nil, nil, rejectNoCert, nil
	}
	return c, br, "", nil
}

func (s *Server) serveConn(raw net.Conn, admitted func()) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
		raw.Close()
	}()
	remote := raw.RemoteAddr().String()

	c, br, kind, err := s.handshake(raw)
	admitted()
	if kind != "" {
		s.rejected.Add(kind, remote, err)
		return
	}
	certs := c.ConnectionState().PeerCertificates
	peerName := certs[0].Subject.CommonName
	s.logger.Debug("peer connected", "remote", remote, "peer", peerName)

	out := &responder{bw: bufio.NewWriterSize(deadlineWriter{c, raw, s.writeTimeout}, 16<<10), fw: newFrameWriter()}
	fr := newFrameReader()
	var body []byte
	var async sync.WaitGroup // requests answered on goroutines of their own
	defer async.Wait()
	for {
		var err error
		if body, err = readFrame(br, body); err != nil {
			switch {
			case errors.Is(err, errFrameSize):
				s.rejected.Add(rejectFrameSize, peerName, nil)
			case !s.isClosed():
				s.logger.Debug("peer connection closed", "peer", peerName, "err", err)
			}
			return
		}
		req, err := fr.request(body)
		if err != nil {
			s.rejected.Add(rejectRequest, peerName, err)
			return
		}
		if s.slow != nil && s.slow(&req) {
			// A request that waits on other members (a web session write
			// this member coordinates) is answered on a goroutine of its
			// own: inline, it would hold up the connection's next requests,
			// and two members coordinating for each other would each wait
			// for the other's connection.
			async.Go(func() {
				if err := out.send(s.answer(&req), true); err != nil {
					raw.Close() // the reader then stops too
				}
			})
			continue
		}
		// Flush only when no further request is already waiting: pipelined
		// requests get their responses in one write.
		if err := out.send(s.answer(&req), br.Buffered() == 0); err != nil {
			s.logger.Debug("peer connection closed: write failed", "peer", peerName, "err", err)
			return
		}
	}
}

// answer returns the encoded response to req.
func (s *Server) answer(req *Request) Response {
	resp := s.handler.ServePeer(req)
	resp.ID = req.ID
	return resp
}

// responder writes a connection's responses, from the reading goroutine and
// from those answering slow requests, one at a time.
type responder struct {
	mu sync.Mutex // guards bw and fw
	bw *bufio.Writer
	fw *frameWriter
}

func (r *responder) send(resp Response, flush bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	out, err := r.fw.response(&resp)
	if err != nil { // only a response too large to frame
		out, _ = r.fw.response(&Response{ID: resp.ID, Status: StatusInvalid})
	}
	if _, err := r.bw.Write(out); err != nil {
		return err
	}
	if flush {
		return r.bw.Flush()
	}
	return nil
}

// deadlineWriter gives every write to a connection a fresh deadline. A
// response reaches the connection not only when the server flushes: a
// bufio.Writer writes through when its buffer overflows (a large record, a
// burst of pipelined responses), and a deadline left over from the last
// flush, long past on a connection that was idle, would fail that write.
type deadlineWriter struct {
	w       io.Writer // the TLS connection
	raw     net.Conn  // under it, whose deadline applies
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.raw.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.w.Write(p)
}

// maxHello is the longest first handshake record a member's client sends
// (a TLS record carries at most 16 KiB).
const maxHello = 16 << 10

// readerConn is a connection whose first bytes were read into r.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }
