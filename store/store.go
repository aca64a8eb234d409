package store

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/groupcache/singleflight"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store/peer"
	"github.com/sessionmesh/sessionmesh/store/shard"
)

// Errors callers branch on.
var (
	// ErrNotFound means no valid record is stored under the ID.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("store: closed")
	// ErrCorrupt means a stored or received record could not be decoded.
	ErrCorrupt = errors.New("store: malformed record")
)

// IDLen is the length of the IDs NewID makes.
const IDLen = 32

// Membership is the view of the cluster the store needs. *cluster.Node
// implements it.
type Membership interface {
	// Members returns the live members, this node (Local) included.
	Members() []cluster.Member
	// Watch returns a channel that receives a value after Members changes
	// (and once at the start), and a function that stops it. The channel is
	// closed when the membership shuts down.
	Watch() (changes <-chan struct{}, stop func())
	// Advertise publishes this node's data channel address and protocol
	// version, or withdraws it when addr is "".
	Advertise(addr string, version uint8) error
}

// Config configures a Store. The zero value needs only TLS.
type Config struct {
	// Addr is the host:port the peer data channel listens on. Port 0 picks a
	// free port (see Store.Addr). Default ":7947", all interfaces.
	Addr string

	// TLS secures the peer data channel, for both ends of a connection:
	// cluster.Node.PeerTLS() gives mutual TLS derived from the cluster
	// secret. Required; there is no plaintext mode.
	TLS *tls.Config

	// MaxBytes bounds the memory the local shard may use, entries' overhead
	// included (shard.Cost: about 260 bytes for a TLS 1.3 session).
	// Default 256 MiB, about a million sessions.
	MaxBytes int64

	// ExpiryInterval is how often expired records are swept out of memory.
	// They are never served in between, and are the first to go when memory
	// is short. Default one minute.
	ExpiryInterval time.Duration

	// Logger receives the store's log records. Default: discard.
	Logger *slog.Logger

	// Now returns the current time; tests move it. Default time.Now.
	Now func() time.Time
}

// Store is the sharded session store: each record lives on the member the
// ring assigns its ID to, and any member can read it from there. It is safe
// for concurrent use.
type Store struct {
	cfg    Config
	self   string
	m      Membership
	logger *slog.Logger
	server *peer.Server
	ln     net.Listener
	group  singleflight.Group // coalesces fetches of one ID

	view atomic.Pointer[view] // the current ring and peer clients

	mu    sync.Mutex // guards local
	local *shard.Shard

	stats counters

	closeOnce sync.Once
	stop      chan struct{}  // closed by Close
	wg        sync.WaitGroup // the store's goroutines
}

// New starts a store: it listens on cfg.Addr, serves the peer protocol there,
// advertises the address through m, and follows m's membership. Close it to stop.
func New(m Membership, cfg Config) (*Store, error) {
	if cfg.TLS == nil {
		return nil, errors.New("store: Config.TLS is nil; use the cluster node's PeerTLS() or your own mutual TLS config")
	}
	if cfg.Addr == "" {
		cfg.Addr = ":7947"
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.ExpiryInterval <= 0 {
		cfg.ExpiryInterval = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.TLS = cfg.TLS.Clone()

	var self string
	for _, mb := range m.Members() {
		if mb.Local {
			self = mb.Name
		}
	}
	if self == "" {
		return nil, errors.New("store: the membership does not list this node")
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("store: listen for peers: %w", err)
	}
	s := &Store{
		cfg:    cfg,
		self:   self,
		m:      m,
		logger: cfg.Logger,
		ln:     ln,
		local:  shard.New(cfg.MaxBytes),
		stop:   make(chan struct{}),
	}
	s.view.Store(&view{})
	s.server = peer.NewServer(peer.HandlerFunc(s.servePeer), cfg.TLS, s.logger)

	changes, stopWatch := m.Watch()
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		if err := s.server.Serve(ln); err != peer.ErrServerClosed {
			s.logger.Error("peer server stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		defer stopWatch()
		s.follow(changes)
	}()
	go func() {
		defer s.wg.Done()
		s.sweep()
	}()

	if err := m.Advertise(ln.Addr().String(), peer.Version); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: advertise: %w", err)
	}
	s.logger.Info("session store serving peers", "addr", ln.Addr().String())
	return s, nil
}

// Addr returns the address the peer data channel listens on.
func (s *Store) Addr() string { return s.ln.Addr().String() }

// NewID returns a fresh random ID of IDLen bytes that this node owns, so that
// a Put of it stays local and the TLS handshake that stores a session never
// waits on the network. Until this node is on the ring, any random ID.
func (s *Store) NewID() string {
	var b [IDLen]byte
	rand.Read(b[:]) // never fails
	r := s.view.Load().ring
	if r == nil || !r.Has(s.self) {
		return string(b[:])
	}
	// Vary the last 8 bytes: the first 24 stay random, so the ID keeps 192
	// bits no one can predict. A node owns 1/n of the ring, so this takes n
	// tries on average; the bound only matters if the ring is inconsistent.
	base := binary.LittleEndian.Uint64(b[24:])
	for i := range uint64(64 * r.Len()) {
		binary.LittleEndian.PutUint64(b[24:], base+i)
		if id := string(b[:]); r.Owner(id) == s.self {
			return id
		}
	}
	return string(b[:])
}

// Put stores r under id until r.Expires. A record this node owns is stored
// locally at once; one owned by another member is sent to it, within ctx,
// and kept locally too if that fails.
func (s *Store) Put(ctx context.Context, id string, r Record) error {
	if err := checkID(id); err != nil {
		return err
	}
	if !r.Expires.After(s.cfg.Now()) {
		return fmt.Errorf("store: record expires at %v, in the past", r.Expires)
	}
	val, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	v := s.view.Load()
	owner := v.owner(id)
	if owner == nil {
		return s.putLocal(id, val, r.Expires)
	}
	resp, err := owner.Do(ctx, &peer.Request{Op: peer.OpPut, Key: id, Value: val})
	if err == nil && resp.Status == peer.StatusOK {
		s.stats.remotePuts.Add(1)
		return nil
	}
	if err == nil {
		err = fmt.Errorf("peer %s refused the record: %v", owner.Addr(), resp.Status)
	}
	s.logger.Debug("remote put failed; keeping the record locally", "owner", owner.Addr(), "err", err)
	return s.putLocal(id, val, r.Expires)
}

func (s *Store) putLocal(id string, val []byte, expires time.Time) error {
	s.mu.Lock()
	ok := s.local.Put(id, val, expires, s.cfg.Now())
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("store: record of %d bytes does not fit in %d", len(val), s.cfg.MaxBytes)
	}
	s.stats.localPuts.Add(1)
	return nil
}

// Get returns the record stored under id: from this node's memory if it is
// there, otherwise from the member that owns id, within ctx. It returns
// ErrNotFound if no valid record is found, or the error that prevented the
// lookup (a context error, an unreachable owner).
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	if err := checkID(id); err != nil {
		return Record{}, err
	}
	if s.isClosed() {
		return Record{}, ErrClosed
	}
	if val, ok := s.getLocal(id); ok {
		s.stats.localHits.Add(1)
		return s.decode(val)
	}
	owner := s.view.Load().owner(id)
	if owner == nil {
		s.stats.misses.Add(1)
		return Record{}, ErrNotFound
	}
	// Concurrent lookups of one ID (a client offering the same ticket on
	// several connections at once) share one request.
	v, err := s.group.Do(id, func() (any, error) {
		resp, err := owner.Do(ctx, &peer.Request{Op: peer.OpGet, Key: id})
		switch {
		case err != nil:
			return nil, err
		case resp.Status == peer.StatusNotFound:
			return nil, ErrNotFound
		case resp.Status != peer.StatusOK:
			return nil, fmt.Errorf("store: peer %s answered %v", owner.Addr(), resp.Status)
		}
		return resp.Value, nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.stats.misses.Add(1)
		} else {
			s.stats.remoteErrors.Add(1)
		}
		return Record{}, err
	}
	s.stats.remoteHits.Add(1)
	return s.decode(v.([]byte))
}

func (s *Store) getLocal(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.local.Get(id, s.cfg.Now())
}

// decode parses a stored record and checks that it is still valid.
func (s *Store) decode(val []byte) (Record, error) {
	var r Record
	if err := r.UnmarshalBinary(val); err != nil {
		return Record{}, err
	}
	if !r.Expires.After(s.cfg.Now()) {
		return Record{}, ErrNotFound
	}
	return r, nil
}

// Delete removes the record under id here and at its owner, within ctx.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	s.mu.Lock()
	s.local.Delete(id)
	s.mu.Unlock()
	if owner := s.view.Load().owner(id); owner != nil {
		if _, err := owner.Do(ctx, &peer.Request{Op: peer.OpDelete, Key: id}); err != nil {
			return fmt.Errorf("store: delete at %s: %w", owner.Addr(), err)
		}
	}
	return nil
}

// Close withdraws this node from the ring, stops serving peers, and stops
// and waits for every goroutine of the store. Records held here are lost
// (unless replicated elsewhere). Close is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.m.Advertise("", peer.Version); err != nil && !errors.Is(err, cluster.ErrClosed) {
			s.logger.Warn("could not withdraw from the ring", "err", err)
		}
		close(s.stop)
		s.server.Close()
		s.wg.Wait()
		s.view.Load().close()
	})
	return nil
}

func (s *Store) isClosed() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// sweep drops expired records every ExpiryInterval.
func (s *Store) sweep() {
	t := time.NewTicker(s.cfg.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			n := s.local.Expire(s.cfg.Now())
			s.mu.Unlock()
			if n > 0 {
				s.logger.Debug("expired records dropped", "count", n)
			}
		}
	}
}

func checkID(id string) error {
	if id == "" || len(id) > peer.MaxKey {
		return fmt.Errorf("store: ID of %d bytes; want 1 to %d", len(id), peer.MaxKey)
	}
	return nil
}
