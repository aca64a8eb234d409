package store

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store/internal/peer"
)

// Errors callers branch on.
var (
	// ErrNotFound means no valid record is stored under the ID.
	ErrNotFound = errors.New("store: not found")
	// ErrExpired means the record under the ID has expired. A record is
	// reported so only while it is still held: within ExpiryInterval of
	// expiring (sooner if its memory is needed) it is swept, and the ID is
	// then ErrNotFound.
	ErrExpired = errors.New("store: expired")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("store: closed")
	// ErrCorrupt means a stored or received record could not be decoded.
	ErrCorrupt = errors.New("store: malformed record")
	// ErrUnavailable means a member that may hold the record failed
	// recently (a dial error, a broken connection, a timeout) and was not
	// asked: the store fails fast instead of paying for a connection attempt
	// to a dead member on every lookup.
	ErrUnavailable = peer.ErrUnavailable
)

// DialFunc opens a raw connection to a peer; net.Dialer's DialContext is one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

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

	// MaxBytes bounds the memory this node's records may use, their overhead
	// included (shard.Cost: about 260 bytes for a TLS 1.3 session).
	// Default 256 MiB, about a million records. Each session is a record on
	// Replicas members, so with the default 2 a cluster of N nodes holds
	// about N/2 million sessions.
	MaxBytes int64

	// WebMaxBytes bounds the memory this node's web sessions may use, apart
	// from MaxBytes, so that a flood of TLS handshakes never pushes a web
	// session out (see WebSessions). Default 64 MiB.
	WebMaxBytes int64

	// Replicas is how many members hold each record: its owner and the next
	// Replicas−1 distinct members of the ring. With 2, a node can die
	// without its sessions going with it. Default 2.
	Replicas int

	// RebalanceRate bounds how many records per second this node looks at
	// after the membership changes, sending those whose owners changed to
	// the new ones, so that a rebalance never starves the handshake path.
	// Default 10 000: a node holding a million records takes under two
	// minutes. Leave is not limited: a leaving node hands over at once.
	RebalanceRate int

	// Dial opens connections to peers: for unusual networks, and for tests
	// that cut the network. Default: a net.Dialer with TCP keepalives.
	Dial DialFunc

	// ExpiryInterval is how often expired records are swept out of memory.
	// They are never served in between, and are the first to go when memory
	// is short. Default one minute.
	ExpiryInterval time.Duration

	// Logger receives the store's log records. Default: discard.
	Logger *slog.Logger

	// Now returns the current time; tests move it. Default time.Now.
	Now func() time.Time

	// retryBase is the first wait before a rebalance round that could not
	// send everything is tried again: 1 s, and less in simulations.
	retryBase time.Duration
	// webless makes the store answer web session requests as a member of a
	// version before them did (StatusInvalid): tests of mixed versions.
	webless bool
	// copiersOff leaves the copies queued in the background unsent (and
	// Stats.CopiesPending counting them): tests of what is sent before a
	// call returns.
	copiersOff bool
}

// Store is the sharded session store: each record lives on the members the
// ring assigns its ID to, and any member can read it from them. It is safe
// for concurrent use.
type Store struct {
	cfg         Config
	self        string
	m           Membership
	logger      *slog.Logger
	server      *peer.Server
	ln          net.Listener
	tls         *space  // TLS sessions
	web         *space  // web sessions (see WebSessions)
	flights     flights // coalesces fetches of one ID
	webSessions *WebSessions
	stats       counters
	latency     histogram // of peer lookups, answered or not

	viewMu sync.Mutex           // serializes view changes; readers use view without it
	view   atomic.Pointer[view] // the current ring and peer clients

	copies    chan copyTask // records to send to other members, in the background
	pending   pending       // copies to make again
	rebalance chan struct{} // 1-buffered: the ring changed
	retryNow  chan struct{} // 1-buffered: a member is back; retry what waits for it
	leaving   atomic.Bool   // Leave has begun: the rebalancer stands aside
	// leaveMu orders copies other members send against Leave: a copy
	// stored while Leave lists what it holds would be left behind. Copies
	// hold it shared while they check leaving and store; Leave holds it to
	// set leaving.
	leaveMu sync.RWMutex

	closeOnce sync.Once
	ctx       context.Context // canceled by Close: cuts copies in flight short
	cancel    context.CancelFunc
	stop      chan struct{}  // closed by Close
	wg        sync.WaitGroup // the store's goroutines
}

// New starts a store: it listens on cfg.Addr, serves the peer protocol there,
// advertises the address through m, and follows m's membership. Close it to stop.
func New(m Membership, cfg Config) (*Store, error) {
	if err := checkTLS(cfg.TLS); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = ":7947"
	}
	switch {
	case cfg.MaxBytes < 0 || cfg.MaxBytes > 0 && cfg.MaxBytes < Cost(IDLen, 100):
		return nil, fmt.Errorf("store: Config.MaxBytes %d cannot hold a session (one costs about %d bytes): leave it 0 for 256 MiB", cfg.MaxBytes, Cost(IDLen, 100))
	case cfg.WebMaxBytes < 0:
		return nil, fmt.Errorf("store: Config.WebMaxBytes %d: leave it 0 for 64 MiB", cfg.WebMaxBytes)
	case cfg.Replicas < 0:
		return nil, fmt.Errorf("store: Config.Replicas %d: want 1 or more (0 for the default, 2)", cfg.Replicas)
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.WebMaxBytes <= 0 {
		cfg.WebMaxBytes = 64 << 20
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 2
	}
	if cfg.RebalanceRate <= 0 {
		cfg.RebalanceRate = 10_000
	}
	if cfg.ExpiryInterval <= 0 {
		cfg.ExpiryInterval = time.Minute
	}
	if cfg.retryBase <= 0 {
		cfg.retryBase = time.Second
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
		cfg:       cfg,
		self:      self,
		m:         m,
		logger:    cfg.Logger,
		ln:        ln,
		tls:       newTLSSpace(cfg.MaxBytes),
		web:       newWebSpace(cfg.WebMaxBytes),
		copies:    make(chan copyTask, copyQueue),
		rebalance: make(chan struct{}, 1),
		retryNow:  make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.pending.dropped = func() { s.stats.copiesDropped.Add(1) }
	s.webSessions = &WebSessions{s: s, seed: maphash.MakeSeed()}
	s.view.Store(&view{self: self, replicas: cfg.Replicas})
	s.server = peer.NewServer(peer.HandlerFunc(s.servePeer), cfg.TLS, s.logger)
	s.server.MembersAt(func(ip string) bool { return s.view.Load().ips[ip] })
	s.server.AnswerAside(func(r *peer.Request) bool { return r.Op == peer.OpWebCommit })

	changes, stopWatch := m.Watch()
	s.goroutine(func() {
		if err := s.server.Serve(ln); err != peer.ErrServerClosed {
			s.logger.Error("peer server stopped", "err", err)
		}
	})
	s.goroutine(func() {
		defer stopWatch()
		s.follow(changes)
	})
	s.goroutine(s.sweep)
	s.goroutine(s.rebalancer)
	s.goroutine(s.retrier)
	if !cfg.copiersOff {
		for range copyWorkers {
			s.goroutine(s.copier)
		}
	}

	if err := m.Advertise(ln.Addr().String(), peer.Version); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: advertise: %w", err)
	}
	s.logger.Info("session store serving peers", "addr", ln.Addr().String())
	return s, nil
}

// goroutine runs f on a goroutine the store owns: Close waits for it.
func (s *Store) goroutine(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
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

// Put stores r under id until r.Expires, on every member that should hold it.
// If this node is one of them, the record is stored here at once and sent to
// the others in the background; otherwise the first of them that answers
// within ctx stores it, and the rest get it in the background. If none
// answers, this node keeps it.
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
	owners := v.placement(id)
	if v.holds(id) {
		_, _, err := s.store(s.tls, id, val)
		s.copy(s.tls, id, val, others(owners, s.self), &s.stats.replicated)
		s.recheck(s.tls, id, v)
		return err
	}
	for i, o := range owners {
		c := v.clients[o]
		if c == nil {
			continue
		}
		resp, err := c.Do(ctx, &peer.Request{Op: peer.OpPut, Key: id, Value: val, Ring: v.id})
		if err == nil && resp.Status == peer.StatusOK {
			s.stats.remotePuts.Add(1)
			s.copy(s.tls, id, val, others(owners[i+1:], s.self), &s.stats.replicated)
			return nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	// No owner took it: keep it here, a stray, until they do.
	s.logger.Debug("no owner took the record; keeping it here")
	_, _, err = s.store(s.tls, id, val)
	if err == nil {
		s.copy(s.tls, id, val, others(owners, s.self), &s.stats.replicated)
		s.pending.add(s.tls, id, nil, true, s.cfg.retryBase)
	}
	return err
}

// recheck looks again at where the record under id belongs, after it was
// stored here by view v: if the ring has changed since, the rebalance that
// the change set going may have looked at this node's records before this
// one arrived. The retrier places it by the current ring (and drops it here
// if this node no longer holds it).
func (s *Store) recheck(sp *space, id string, v *view) {
	if now := s.view.Load(); now.ring != v.ring {
		s.pending.add(sp, id, nil, !now.holds(id), s.cfg.retryBase)
	}
}

// Get returns the record stored under id: from this node's memory if it is
// there, otherwise from the members that should hold it — owner first, then
// replicas, then its owners on the last few rings before this one — sharing
// ctx's time among them. It returns ErrExpired if the record was found but
// has expired, ErrNotFound if no member has it, or the error that kept it
// from asking one.
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	if err := checkID(id); err != nil {
		return Record{}, err
	}
	if s.isClosed() {
		return Record{}, ErrClosed
	}
	val, ok, expired := s.tls.mem.get(id, s.cfg.Now())
	switch {
	case ok:
		s.stats.localHits.Add(1)
		return s.decode(val)
	case expired: // every copy expires at the same time: no use asking
		s.stats.misses.Add(1)
		return Record{}, ErrExpired
	}
	v := s.view.Load()
	owners := others(v.owners(id), s.self)
	if len(owners) == 0 {
		s.stats.misses.Add(1)
		return Record{}, ErrNotFound
	}
	// Concurrent lookups of one ID (a client offering the same ticket on
	// several connections at once) share one search.
	found, err := s.flights.do(ctx, id, func(ctx context.Context) ([]byte, error) { return s.fetch(ctx, v, id, owners) })
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrExpired):
		s.stats.misses.Add(1)
		return Record{}, err
	case err != nil:
		s.stats.remoteErrors.Add(1)
		return Record{}, err
	}
	s.stats.remoteHits.Add(1)
	return s.decode(found)
}

// fetch asks owners in turn, each with an equal share of the time left, so
// that one slow member cannot use up the whole budget. A record found after
// an owner said it had none is copied back to that owner (read repair: it
// restarted, or it joined before records reached it).
func (s *Store) fetch(ctx context.Context, v *view, id string, owners []string) ([]byte, error) {
	var firstErr error
	var missing []string
	for i, o := range owners {
		c := v.clients[o]
		if c == nil {
			continue
		}
		actx, cancel := share(ctx, len(owners)-i)
		start := time.Now()
		resp, err := c.Do(actx, &peer.Request{Op: peer.OpGet, Key: id})
		s.latency.observe(time.Since(start))
		cancel()
		if errors.Is(err, peer.ErrClosed) {
			// The member left the ring while we asked: a newer view closed
			// its client.
			err = fmt.Errorf("%w: %s left the ring", ErrUnavailable, o)
		}
		switch {
		case err == nil && resp.Status == peer.StatusOK:
			s.copy(s.tls, id, resp.Value, missing, &s.stats.repaired)
			return resp.Value, nil
		case err == nil && resp.Status == peer.StatusNotFound:
			missing = append(missing, o)
		case err == nil && resp.Status == peer.StatusExpired: // so is every other copy
			return nil, ErrExpired
		case err == nil:
			err = fmt.Errorf("store: peer %s answered %v", c.Addr(), resp.Status)
			fallthrough
		default:
			if firstErr == nil {
				firstErr = err
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr != nil {
		return nil, firstErr // the record may well be on the member we could not ask
	}
	return nil, ErrNotFound
}

// share returns a context for one of n remaining attempts: an nth of the
// time ctx has left.
func share(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, time.Until(d)/time.Duration(n))
}

// decode parses a stored record and checks that it is still valid.
func (s *Store) decode(val []byte) (Record, error) {
	var r Record
	if err := r.UnmarshalBinary(val); err != nil {
		return Record{}, err
	}
	if !r.Expires.After(s.cfg.Now()) {
		return Record{}, ErrExpired
	}
	return r, nil
}

// Delete removes the record under id here and on every member that should
// hold it, within ctx.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	s.tls.mem.delete(id)
	v := s.view.Load()
	var errs []error
	for _, o := range others(v.owners(id), s.self) {
		if c := v.clients[o]; c != nil {
			if _, err := c.Do(ctx, &peer.Request{Op: peer.OpDelete, Key: id}); err != nil {
				errs = append(errs, fmt.Errorf("store: delete at %s: %w", o, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops serving peers and stops and waits for every goroutine of the
// store; records held only here are lost. Call Leave first to hand them
// over. Close is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.m.Advertise("", peer.Version); err != nil && !errors.Is(err, cluster.ErrClosed) {
			s.logger.Warn("could not withdraw from the ring", "err", err)
		}
		close(s.stop)
		s.cancel()
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
			if n := s.tls.mem.expire(s.cfg.Now()) + s.web.mem.expire(s.cfg.Now()); n > 0 {
				s.logger.Debug("expired records dropped", "count", n)
			}
		}
	}
}

// checkTLS refuses a peer TLS config that would let a stranger in: the data
// channel carries resumption secrets, and both ends must prove they belong.
func checkTLS(c *tls.Config) error {
	const fix = "use the cluster node's PeerTLS(), or a mutual TLS config with your own CA"
	switch {
	case c == nil:
		return fmt.Errorf("store: Config.TLS is nil: %s", fix)
	case c.ClientAuth != tls.RequireAndVerifyClientCert:
		return fmt.Errorf("store: Config.TLS.ClientAuth is %v, want RequireAndVerifyClientCert: peers must prove they belong to the cluster (%s)", c.ClientAuth, fix)
	case c.ClientCAs == nil:
		return fmt.Errorf("store: Config.TLS.ClientCAs is nil, which would trust the system's CAs for peers: set it to your cluster's CA (%s)", fix)
	case c.RootCAs == nil:
		return fmt.Errorf("store: Config.TLS.RootCAs is nil, which would trust the system's CAs for peers: set it to your cluster's CA (%s)", fix)
	case c.InsecureSkipVerify:
		return fmt.Errorf("store: Config.TLS.InsecureSkipVerify is set: peers would not be verified (%s)", fix)
	case len(c.Certificates) == 0 && c.GetCertificate == nil:
		return fmt.Errorf("store: Config.TLS has no certificate to serve peers with (%s)", fix)
	case len(c.Certificates) == 0 && c.GetClientCertificate == nil:
		return fmt.Errorf("store: Config.TLS has no client certificate to present to peers (%s)", fix)
	}
	return nil
}

func checkID(id string) error {
	if id == "" || len(id) > peer.MaxKey {
		return fmt.Errorf("store: ID of %d bytes; want 1 to %d", len(id), peer.MaxKey)
	}
	return nil
}

// others returns names without self.
func others(names []string, self string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == self })
}
