package sessionmesh

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// Mode is how a member shares TLS sessions with the rest of the cluster.
type Mode int

const (
	// Cache keeps each session's state in the cluster's memory, on two
	// members; the ticket a client holds is a random 32-byte handle. A
	// session can be looked up from any member, no long-lived key exists
	// whose theft would expose past sessions, and a stolen ticket is
	// useless without the cluster. Needs the data port (Config.DataAddr).
	Cache Mode = iota
	// Tickets encrypts each session's state into the ticket the client
	// holds, with keys every member shares and the cluster rotates
	// (hourly by default, never on disk). Nothing is stored per session
	// and no handshake waits on the network. No data port.
	Tickets
)

// String returns "cache" or "tickets".
func (m Mode) String() string {
	switch m {
	case Cache:
		return "cache"
	case Tickets:
		return "tickets"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Config describes one member. Only Secret is required: the zero value of
// every other field works, and its comment says what zero means. Start copies
// the Config and never writes back into it.
type Config struct {
	// Secret is the cluster secret, the same on every member: 16 bytes or
	// more, 32 random bytes recommended (NewSecret, or ParseSecret of
	// `head -c 32 /dev/urandom | base64`). Gossip is encrypted with a key
	// derived from it, and members prove to each other that they hold it
	// before a session leaves memory. Required.
	Secret []byte

	// OldSecrets are accepted from other members but never used to send:
	// they let a cluster move to a new Secret one member at a time
	// (docs/operations.md). Default: none.
	OldSecrets [][]byte

	// Join lists gossip addresses (host:port, or a DNS name that resolves
	// to several members) of members to join. Any one member is enough;
	// listing this member's own address is harmless. Empty: this member
	// starts a new cluster, and others join it.
	Join []string

	// JoinTimeout bounds how long Start tries to reach a member of Join
	// (the context passed to Start bounds it too); failed attempts are
	// retried and logged. Default one minute.
	JoinTimeout time.Duration

	// Name identifies the member in the cluster and must be unique in it;
	// Start fails if a live member already has it. Default: the host name
	// and the gossip port, "web-1:7946": unique on a host, and the same
	// across restarts on a fixed port.
	Name string

	// BindAddr is where gossip listens, TCP and UDP. Port 0 picks a free
	// port (GossipAddr tells which). Default ":7946", all interfaces.
	BindAddr string

	// AdvertiseAddr is the host:port other members reach this one's gossip
	// at, when it differs from BindAddr (NAT, containers). The data port is
	// advertised on the same host. Default: BindAddr's address, or a
	// private address of this host when BindAddr is all interfaces.
	AdvertiseAddr string

	// DataAddr is where the peer data channel listens, in Cache mode:
	// mutual TLS, for session records between members. Port 0 picks a free
	// port. Ignored in Tickets mode, which has none. Default ":7947".
	DataAddr string

	// Mode is how sessions are shared. Default Cache.
	Mode Mode

	// Logger receives the member's log records: joins, leaves, failures,
	// rebalances. Never a session, ticket or secret. Default: discard.
	Logger *slog.Logger

	// Label is sent with every gossip message; messages with another label
	// are dropped. Give each cluster its own when several share hosts or
	// ports. Default "sessionmesh".
	Label string

	// PeerTLS replaces the data channel's mutual TLS derived from Secret,
	// for users with their own PKI. It must demand and verify client
	// certificates (ClientAuth: tls.RequireAndVerifyClientCert, with
	// ClientCAs and RootCAs set); Start refuses one that does not.
	// Default: derived from Secret.
	PeerTLS *tls.Config

	// Timing tunes failure detection and gossip; zero fields take
	// cluster.LANTiming's values (a crash is noticed in about six seconds).
	// LocalConfig uses cluster.LocalTiming.
	Timing cluster.Timing

	// MaxBytes bounds the memory this member's session records may use,
	// overhead included, in Cache mode: about 260 bytes per TLS 1.3
	// session. When full, expired records go first, then the least recently
	// used. Default 256 MiB, about a million records.
	MaxBytes int64

	// WebMaxBytes bounds the memory this member's web sessions (see
	// Member.WebSessions) may use, apart from MaxBytes, so that a flood of
	// TLS handshakes never pushes one out. When full, the least recently
	// used go. Default 64 MiB.
	WebMaxBytes int64

	// Replicas is how many members hold each session in Cache mode: with
	// 2, a member can crash without its sessions going with it. Default 2.
	Replicas int

	// SessionTTL is how long a session stays resumable after its last
	// handshake, in Cache mode. At most 7 days, the most crypto/tls
	// resumes. Default 24 hours.
	SessionTTL time.Duration

	// LookupTimeout bounds how long a handshake waits for another member
	// to return a session, in Cache mode. A lookup takes tens of
	// microseconds; the bound matters only when a member is in trouble.
	// Default 50 ms.
	LookupTimeout time.Duration

	// ShareTicketKeys runs the cluster's ticket key rotation in Cache mode
	// too, so that TicketKeys is not nil: for a member that hands ticket
	// keys to TLS servers outside Go (the sidecar of cmd/sessionmesh, with
	// ticketkeys.Rotator.DeriveKey), while its own sessions stay in the
	// cache. It joins the rotation of every member that runs one, Tickets
	// mode or not: give them all the same TicketRotation and TicketLifetime.
	// Tickets mode always rotates keys. Default false.
	ShareTicketKeys bool

	// TicketRotation is how often the cluster makes a new ticket key, in
	// Tickets mode (or with ShareTicketKeys). A new key is staged (decrypt-only) for a minute, or a
	// quarter of TicketRotation if that is less, before it encrypts.
	// Default one hour.
	TicketRotation time.Duration

	// TicketLifetime is how long a ticket stays resumable, in Tickets mode;
	// old keys are kept, decrypt-only, until their last ticket expires. At
	// most 7 days. Default 24 hours, or 24 rotations if that is less.
	TicketLifetime time.Duration
}

// LocalConfig returns a Config for one of several members on this host:
// gossip and data on 127.0.0.1 with free ports, and timing for loopback
// (cluster.LocalTiming). Set Secret, and Join for every member but the first.
func LocalConfig() Config {
	return Config{BindAddr: "127.0.0.1:0", DataAddr: "127.0.0.1:0", Timing: cluster.LocalTiming()}
}

// withDefaults returns cfg with its zero fields filled in, or an error that
// says what is wrong with it.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Mode != Cache && cfg.Mode != Tickets {
		return cfg, fmt.Errorf("sessionmesh: Config.Mode %v: want Cache or Tickets", cfg.Mode)
	}
	if len(cfg.Secret) == 0 {
		return cfg, fmt.Errorf("sessionmesh: Config.Secret is empty: every member of a cluster needs the same secret (see NewSecret and ParseSecret)")
	}
	for _, s := range cfg.Join {
		if s == "" {
			return cfg, fmt.Errorf("sessionmesh: Config.Join has an empty address: list host:port of members, or leave Join empty on the first member")
		}
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DataAddr == "" {
		cfg.DataAddr = ":7947"
	}
	if cfg.TicketRotation <= 0 {
		cfg.TicketRotation = time.Hour
	}
	if cfg.TicketLifetime <= 0 {
		cfg.TicketLifetime = min(24*time.Hour, 24*cfg.TicketRotation)
	}
	return cfg, nil
}
