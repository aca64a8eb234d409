package peer

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
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

// Server serves the peer protocol on TLS connections.
type Server struct {
	handler      Handler
	tls          *tls.Config
	logger       *slog.Logger
	writeTimeout time.Duration // for each write to a connection; HandshakeTimeout but in tests

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
				s.logger.Warn("peer accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			return ErrServerClosed
		}
		go s.serveConn(c)
	}
}

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
	return nil
}

func (s *Server) serveConn(raw net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
		raw.Close()
	}()
	remote := raw.RemoteAddr().String()

	raw.SetDeadline(time.Now().Add(HandshakeTimeout))
	c := tls.Server(raw, s.tls)
	if err := c.Handshake(); err != nil {
		s.logger.Warn("peer connection refused: TLS handshake failed", "remote", remote, "err", err)
		return
	}
	br := bufio.NewReaderSize(c, 16<<10)
	if err := readPreamble(br); err != nil {
		s.logger.Warn("peer connection refused", "remote", remote, "err", err)
		return
	}
	raw.SetDeadline(time.Time{})
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		// The store refuses a config that does not demand client
		// certificates; a server built around that check must not panic.
		s.logger.Warn("peer connection refused: no client certificate", "remote", remote)
		return
	}
	peerName := certs[0].Subject.CommonName
	s.logger.Debug("peer connected", "remote", remote, "peer", peerName)

	bw := bufio.NewWriterSize(deadlineWriter{c, raw, s.writeTimeout}, 16<<10)
	fr, fw := newFrameReader(), newFrameWriter()
	var body []byte
	for {
		var err error
		if body, err = readFrame(br, body); err != nil {
			switch {
			case errors.Is(err, errFrameSize):
				s.logger.Warn("peer connection closed: frame too large", "peer", peerName)
			case !s.isClosed():
				s.logger.Debug("peer connection closed", "peer", peerName, "err", err)
			}
			return
		}
		req, err := fr.request(body)
		if err != nil {
			s.logger.Warn("peer connection closed: bad request", "peer", peerName, "err", err)
			return
		}
		resp := s.handler.ServePeer(&req)
		resp.ID = req.ID
		out, err := fw.response(&resp)
		if err != nil {
			s.logger.Error("peer response not sent", "peer", peerName, "op", req.Op, "err", err)
			out, _ = fw.response(&Response{ID: req.ID, Status: StatusInvalid})
		}
		if _, err := bw.Write(out); err != nil {
			return
		}
		// Flush only when no further request is already waiting: pipelined
		// requests get their responses in one write.
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				s.logger.Debug("peer connection closed: write failed", "peer", peerName, "err", err)
				return
			}
		}
	}
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
