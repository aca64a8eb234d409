package resp

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/sessionmesh/sessionmesh/internal/rejects"
	"github.com/sessionmesh/sessionmesh/store"
)

// Store is where the values live. *store.WebSessions implements it: writes
// are acknowledged by Replicas members, versioned, and deletes leave
// tombstones, so a value never comes back once deleted.
type Store interface {
	// Lookup returns the value under key and when it expires, or found
	// false. It fails if the members that may hold it are out of reach.
	Lookup(ctx context.Context, key string) (value []byte, expires time.Time, found bool, err error)
	// Set stores value under key until expires, over a deleted value too
	// (a Redis SET after DEL): store.WebSessions.Set.
	Set(ctx context.Context, key string, value []byte, expires time.Time) error
	// Delete deletes key, everywhere.
	Delete(ctx context.Context, key string) error
}

// TicketKeys derives ticket keys from the cluster's rotating key schedule.
// *ticketkeys.Rotator implements it.
type TicketKeys interface {
	// DeriveKey returns n bytes derived for label from the key that
	// encrypts now, and that key's ID.
	DeriveKey(label string, n int) (id uint64, key []byte, err error)
}

// Section is a section of INFO's answer: "# Name" and then "key:value" lines.
type Section struct {
	Name   string
	Fields []Field
}

// Field is one "key:value" line of INFO.
type Field struct{ Key, Value string }

// Config configures a Server. Store is required; the zero value of every
// other field works, and its comment says what zero means.
type Config struct {
	// Store holds the values (Member.WebSessions()). Required.
	Store Store

	// Prefix is put before every key, so that the values clients store
	// never meet the keys other users of Store keep (web sessions of scs or
	// gorilla/sessions). Default "resp:".
	Prefix string

	// DefaultTTL is how long a value set without an expiry lives (SET
	// without EX or PX): Redis would keep it for ever, the cluster keeps
	// nothing for ever. TTL reports the time left. Default 24 hours.
	DefaultTTL time.Duration

	// Password, if set, must be given (AUTH, or HELLO with AUTH) before any
	// command but AUTH, HELLO and QUIT, as Redis's requirepass. Without it
	// Listen refuses an address that is not loopback, and with it one that
	// is not loopback needs at least MinPassword bytes. A connection is
	// closed after MaxAuthFailures wrong passwords. Default: none (and a
	// warning in the log: any local user reads every value).
	Password string

	// TicketKeys answers SESSIONMESH.TICKETKEY. Default: none, and the
	// command answers an error.
	TicketKeys TicketKeys

	// Info adds sections to INFO's answer, such as the cluster's view.
	// Default: none.
	Info func() []Section

	// MaxClients bounds the connections served at once; one more is told
	// "ERR max number of clients reached" and closed. Default 1024.
	MaxClients int

	// MaxRequest bounds one command, in bytes; a longer one is refused
	// ("ERR Protocol error: ...") and its connection closed. Values are at
	// most store.MaxWebValue bytes anyway; a value over that but within
	// MaxRequest gets "ERR value is too large". Default 1 MiB.
	MaxRequest int

	// IdleTimeout closes a connection that has sent no whole command for
	// that long, as Redis's timeout (clients reconnect). Default 5 minutes;
	// negative: never.
	IdleTimeout time.Duration

	// AuthTimeout closes a connection that has not authenticated that long
	// after it connected, when Password is set, so that strangers cannot
	// hold the MaxClients slots. Default 10 seconds.
	AuthTimeout time.Duration

	// Timeout bounds each call to Store. Default 5 seconds.
	Timeout time.Duration

	// Logger receives the server's log records: refused traffic, summed up
	// once a minute, never a line per packet. Default: discard.
	Logger *slog.Logger

	// Now returns the current time; tests move it. Default time.Now.
	Now func() time.Time
}

// MinPassword is the shortest Password accepted off loopback: a guess costs
// a round trip, not a hash.
const MinPassword = 16

// MaxAuthFailures is how many wrong passwords (AUTH, HELLO ... AUTH) close a
// connection.
const MaxAuthFailures = 3

// replyTimeout bounds each write of replies to an authenticated client (a
// flush of at most flushAt bytes and one reply): one that does not read its
// replies is closed, instead of holding a goroutine and memory.
const replyTimeout = 30 * time.Second

// Version is the Redis version the server says it is, in HELLO and INFO:
// clients look at it to decide what they may send. It speaks the subset of
// Redis 7.2 that the package documentation lists.
const Version = "7.2.0"

// TicketKeyLabel is the label SESSIONMESH.TICKETKEY derives its key with
// (see ticketkeys.Rotator.DeriveKey).
const TicketKeyLabel = "sessionmesh sidecar: Node.js setTicketKeys, 48 bytes"

// Server serves the Redis protocol on one listener. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	lim     limits
	passSum [sha256.Size]byte // SHA-256 of cfg.Password
	ln      net.Listener
	started time.Time
	rejects *rejects.Log
	rs      *redcon.Server

	ctx    context.Context // ends at Close: Store calls in flight give up
	cancel context.CancelFunc

	clients  atomic.Int64 // connections served now
	nextID   atomic.Int64
	conns    sync.WaitGroup // one per connection redcon serves
	stats    counters
	serving  chan struct{} // closed when Serve returns
	serveMu  sync.Mutex    // guards served
	served   bool
	closeErr error
	once     sync.Once
}

type counters struct {
	connections, commands, hits, misses, errors atomic.Uint64
}

// Listen checks cfg and listens on addr (host:port; port 0 picks a free
// port) for Serve. It refuses an address that is not loopback unless
// cfg.Password is set: the values are sessions, and the ticket key is a
// secret.
func Listen(addr string, cfg Config) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("resp: %w", err)
	}
	s, err := NewServer(ln, cfg)
	if err != nil {
		ln.Close()
	}
	return s, err
}

// NewServer is Listen on a listener the caller opened (net.Listen("tcp",
// ...)), for a program that must hold its port before it has a Store to
// serve, such as the sidecar, which binds it before it joins the cluster.
// It checks cfg and the address as Listen does; on success the Server owns
// ln (Close closes it), on error the caller still does.
func NewServer(ln net.Listener, cfg Config) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if !IsLoopback(ln.Addr()) && cfg.Password == "" {
		return nil, fmt.Errorf("resp: %s is not a loopback address, and no password is set: "+
			"listen on 127.0.0.1, or set a password (SESSIONMESH_REQUIREPASS)", ln.Addr())
	}
	if !IsLoopback(ln.Addr()) && len(cfg.Password) < MinPassword {
		return nil, fmt.Errorf("resp: %s is not a loopback address, and the password has %d bytes, fewer than %d: "+
			"set a longer one (SESSIONMESH_REQUIREPASS; `head -c 24 /dev/urandom | base64` makes one), or listen on 127.0.0.1",
			ln.Addr(), len(cfg.Password), MinPassword)
	}
	cfg = cfg.withDefaults()
	if cfg.Password == "" {
		cfg.Logger.Warn("resp: serving without a password: any local user can read every value and the ticket key; set one (SESSIONMESH_REQUIREPASS)",
			"addr", ln.Addr().String())
	}
	s := &Server{
		cfg:     cfg,
		lim:     limits{maxArgs: 1024, maxBulk: cfg.MaxRequest, maxCommand: cfg.MaxRequest},
		ln:      &guardListener{Listener: ln},
		started: cfg.Now(),
		rejects: rejects.New("resp server", cfg.Logger, time.Minute),
		serving: make(chan struct{}),
		passSum: sha256.Sum256([]byte(cfg.Password)),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.rs = redcon.NewServerNetwork("tcp", ln.Addr().String(), s.handle, s.accept, s.closed)
	return s, nil
}

// IsLoopback reports whether addr is a TCP address on loopback, the only
// kind Listen and NewServer accept without a password.
func IsLoopback(addr net.Addr) bool {
	a, ok := addr.(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// check refuses a Config no defaults can mend.
func (cfg Config) check() error {
	if cfg.Store == nil {
		return errors.New("resp: Config.Store is nil")
	}
	if cfg.MaxRequest > 0 && cfg.MaxRequest < store.MaxWebValue+4096 {
		return fmt.Errorf("resp: Config.MaxRequest %d is less than a value of store.MaxWebValue (%d bytes) and its key", cfg.MaxRequest, store.MaxWebValue)
	}
	return nil
}

// withDefaults fills in the zero fields.
func (cfg Config) withDefaults() Config {
	if cfg.Prefix == "" {
		cfg.Prefix = "resp:"
	}
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = 24 * time.Hour
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 1024
	}
	if cfg.MaxRequest <= 0 {
		cfg.MaxRequest = 1 << 20
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves clients until Close, then returns nil. Call it once.
func (s *Server) Serve() error {
	s.serveMu.Lock()
	if s.served {
		s.serveMu.Unlock()
		return errors.New("resp: Serve called twice")
	}
	s.served = true
	s.serveMu.Unlock()
	defer close(s.serving)
	return s.rs.Serve(s.ln)
}

// Close stops listening, closes every connection, and waits until every
// command in progress has returned (a Store call in flight is cancelled).
// It is safe to call twice.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.closeErr = s.ln.Close()
		s.serveMu.Lock()
		served := s.served
		s.served = true // a Serve after Close returns at once
		s.serveMu.Unlock()
		if served {
			<-s.serving
		}
		s.conns.Wait()
		s.rejects.Close()
		if errors.Is(s.closeErr, net.ErrClosed) {
			s.closeErr = nil
		}
	})
	return s.closeErr
}

// Stats are a Server's counters.
type Stats struct {
	Clients     int64  // connections served now
	Connections uint64 // connections accepted since the start
	Commands    uint64 // commands answered
	Hits        uint64 // GETs that found a value
	Misses      uint64 // GETs that found none
	Errors      uint64 // commands that failed because the cluster did
	Refused     uint64 // connections refused: too many, a request over the limits, wrong passwords, timeouts
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	var refused uint64
	for _, n := range s.rejects.Counts() {
		refused += n
	}
	return Stats{
		Clients: s.clients.Load(), Connections: s.stats.connections.Load(), Commands: s.stats.commands.Load(),
		Hits: s.stats.hits.Load(), Misses: s.stats.misses.Load(), Errors: s.stats.errors.Load(), Refused: refused,
	}
}

// accept admits a connection if there is room, on redcon's accepting
// goroutine.
func (s *Server) accept(rc redcon.Conn) bool {
	g := rc.NetConn().(*guardConn)
	if s.clients.Add(1) > int64(s.cfg.MaxClients) {
		s.clients.Add(-1)
		s.rejects.Add("max clients", rc.RemoteAddr(), nil)
		g.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		g.Conn.Write([]byte("-ERR max number of clients reached\r\n"))
		return false
	}
	s.stats.connections.Add(1)
	c := &client{id: s.nextID.Add(1), proto: 2, guard: g, authed: s.cfg.Password == ""}
	g.f.lim = func() limits {
		if c.authed {
			return s.lim
		}
		return unauthenticated
	}
	g.onRefuse = func(err error) { s.rejects.Add("protocol error", rc.RemoteAddr(), err) }
	g.authed = func() bool { return c.authed }
	if !c.authed {
		g.authBy = time.Now().Add(s.cfg.AuthTimeout)
	}
	g.idle = max(0, s.cfg.IdleTimeout)
	g.writeTimeout = replyTimeout
	g.onTimeout = func(kind string) {
		if kind != "idle timeout" { // an idle client is no stranger
			s.rejects.Add(kind, rc.RemoteAddr(), nil)
		}
	}
	rc.SetContext(c)
	s.conns.Add(1)
	return true
}

// closed runs when a connection accept admitted ends.
func (s *Server) closed(rc redcon.Conn, err error) {
	s.clients.Add(-1)
	s.conns.Done()
}

// guardListener puts every connection behind a framer (see guardConn).
type guardListener struct{ net.Listener }

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c}, nil
}
