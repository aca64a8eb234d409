// Package resp serves the Redis protocol (RESP2, and RESP3 when HELLO 3 asks
// for it) in front of a sessionmesh cluster, so that servers not written in
// Go share TLS sessions and ticket keys with any Redis client. It is the
// heart of the sidecar (cmd/sessionmesh): a member of the cluster next to
// each server, on 127.0.0.1:6380.
//
//	m, err := sessionmesh.Start(ctx, sessionmesh.Config{Secret: secret, ShareTicketKeys: true})
//	...
//	srv, err := resp.Listen("127.0.0.1:6380", resp.Config{Store: m.WebSessions(), TicketKeys: m.TicketKeys()})
//	...
//	go srv.Serve()
//	...
//	srv.Close() // then m.Shutdown(ctx): stop the clients first, then hand the sessions over
//
// The parsing is github.com/tidwall/redcon's. Every byte a client sends goes
// through a framer first, which bounds what one command may make the server
// buffer (Config.MaxRequest; Redis's much smaller limits before a client has
// authenticated) and refuses what would crash or spin redcon (a bulk length
// near the largest integer, a huge argument count), in Redis's words:
// "ERR Protocol error: invalid bulk length", and the connection is closed.
// Config.MaxClients bounds the connections.
//
// # Commands
//
// With Redis 7's semantics and error strings:
//
//	PING [message]                  ECHO message
//	AUTH [username] password        HELLO [2|3 [AUTH username password] [SETNAME name]]
//	SELECT 0                        (another index: "ERR DB index is out of range")
//	CLIENT SETNAME|GETNAME|SETINFO|ID
//	QUIT                            COMMAND COUNT (how many commands this list has: 21)
//	COMMAND, COMMAND DOCS...        (an empty list: redis-cli asks, and does without)
//	GET key                         SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]
//	SETEX key s value               PSETEX key ms value
//	DEL key...                      UNLINK key...    EXISTS key...
//	EXPIRE key s [NX|XX|GT|LT]      PEXPIRE key ms [NX|XX|GT|LT]
//	TTL key                         PTTL key (-2: no such key)
//	INFO [section...]               (Redis's fields clients read, then the cluster's view;
//	                                # Keyspace is empty, as Redis's with no keys: the keys
//	                                are spread over the cluster and not counted)
//	SESSIONMESH.TICKETKEY           (see below)
//
// Anything else gets "ERR unknown command '...', with args beginning with: ..."
// and the connection stays usable.
//
// # Where values live, and how that differs from Redis
//
// Values are web sessions of package store (Config.Store, usually
// Member.WebSessions()), under their own prefix (Config.Prefix, "resp:"), so
// they never meet the sessions of scs or gorilla/sessions: sharded over the
// cluster, kept on two members, within the web-session memory budget, and
// expiring. A SET returns once two members hold the value; a GET on any
// member sees the newest value any member acknowledged; a DEL leaves a
// tombstone, so a deleted value never comes back (a SET after the DEL
// writes the key anew, as in Redis: store.WebSessions.Set). Rewriting a key (a web
// session saved on every request) is an ordinary SET. The differences:
//
//   - Nothing lives for ever. A value set without an expiry lives for
//     Config.DefaultTTL (24 hours by default), and TTL says so instead of
//     Redis's -1; EXPIRE ... NX, "only if it has no expiry", therefore never
//     sets one. INFO's default_ttl_seconds tells clients.
//   - Values are at most store.MaxWebValue bytes (256 KiB): a larger one gets
//     "ERR value is too large", never a truncation. Keys are at most 250 bytes.
//   - SET's NX, XX, GET and KEEPTTL, DEL's and EXPIRE's counts are a lookup
//     and then a write: two steps, not one atomic command. Two clients that
//     SET NX the same key at the same moment, on two members or one, may both
//     be told OK, and the later write wins. Session caches never race on one
//     key (every session ID is fresh); do not use NX as a lock.
//   - When the members that hold a key are out of reach, a command fails with
//     "ERR cluster unavailable: ..." rather than answer a nil that would read
//     as "no such key"; a write that fails may still have reached a member,
//     and a later write of the key overrides it.
//   - One database, 0. No other data types, no MULTI, no pub/sub, no
//     keyspace scans (KEYS, SCAN): a session cache needs none.
//
// # Ticket keys
//
// SESSIONMESH.TICKETKEY answers 48 bytes in the layout of Node.js's
// tls.Server.setTicketKeys (and OpenSSL's SSL_CTX_set_tlsext_ticket_keys):
// a 16-byte key name, a 16-byte HMAC secret, a 16-byte AES key. They are
// derived with HKDF-SHA256 (label TicketKeyLabel) from the ticket key the
// cluster encrypts with now (package ticketkeys, Config.TicketKeys): every
// sidecar of the cluster answers the same bytes during a rotation period, and
// nothing is ever written to disk. The key name changes with the key.
//
// Fetch it when the server starts and then every 30 to 60 seconds, and call
// setTicketKeys when it changed. A new key is staged on every member before
// any encrypts with it, so all sidecars switch within a second of each other
// (the rotator's check interval); a server switches at its next fetch. Node
// holds one key: tickets made under the previous key then get a full
// handshake (and a new ticket) instead of resuming, once per client per
// rotation (hourly by default), and for up to one fetch interval two servers
// may hold different keys. With a password set, only an authenticated client
// gets the key.
//
// # Security
//
// Listen refuses an address that is not loopback unless Config.Password is
// set, and then one shorter than MinPassword (16 bytes). Without a password
// the server logs a warning at startup: any local user reads every value and
// the ticket key. With a password, every command but AUTH, HELLO and QUIT
// answers "NOAUTH Authentication required." until the client authenticates;
// the SHA-256 digests of the passwords are compared in constant time, and
// the MaxAuthFailures-th (3rd) wrong password closes the connection. Wrong
// passwords, refused requests and timeouts are logged once and then summed
// up once a minute (Stats.Refused counts them).
//
// The bounds, each measured against the attack it answers:
//
//   - redcon sees whole commands only, never a blank line (the guard buffers
//     up to the command limits): a client sending "\r\n", or a command, a byte
//     at a time once overflowed the stack in about 156 s; now the connection
//     is served at a constant stack (TestTrickle).
//   - Before AUTH (with a password): at most 10 arguments of 16 KiB, no
//     inline commands, and the connection closes after Config.AuthTimeout
//     (10 s) however it is used. 4 connections sending blank lines and 200
//     pipelining HELLO without reading kept a server at 52 MB RSS (it
//     reached 1 GB before; 5 GB with 4 pipelining connections).
//   - Inline commands: at most 1 KiB (redcon allocates the rest of the line
//     at each space: a 64 KiB line cost 1 GB and 1.8 CPU-s; 1 KiB costs at
//     most 256 KiB of garbage).
//   - Replies: every reply byte counts towards a flush every 64 KiB, so the
//     server holds at most 64 KiB and one reply per connection; each write
//     must complete within 30 s (before AUTH, by the AuthTimeout), or the
//     connection is closed, as Redis's client-output-buffer-limit.
//   - Config.IdleTimeout (5 minutes) closes a connection that completed no
//     command for that long; Config.MaxClients bounds the connections.
//   - Expiries past April 2262 (where UnixNano ends) are refused with
//     "ERR invalid expire time".
package resp
