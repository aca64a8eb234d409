package resp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"
)

// client is a connection's state.
type client struct {
	id      int64
	authed  bool
	proto   int // 2 or 3, as HELLO set it
	name    string
	quit    bool
	pending int // reply bytes written since the last flush
	fails   int // wrong passwords
	guard   *guardConn
}

// flushAt is how many reply bytes a pipeline may pile up before they are
// sent: a client that pipelines many GETs (or errors) without reading its
// answers is held back by its own socket instead of growing the server's
// memory, and closed if it does not read for replyTimeout.
const flushAt = 64 << 10

// counted counts every reply byte a command writes towards flushAt.
type counted struct {
	redcon.Conn
	n *int
}

func (w counted) WriteError(msg string)    { *w.n += len(msg) + 3; w.Conn.WriteError(msg) }
func (w counted) WriteString(str string)   { *w.n += len(str) + 3; w.Conn.WriteString(str) }
func (w counted) WriteBulk(b []byte)       { *w.n += len(b) + 16; w.Conn.WriteBulk(b) }
func (w counted) WriteBulkString(b string) { *w.n += len(b) + 16; w.Conn.WriteBulkString(b) }
func (w counted) WriteInt(v int)           { *w.n += 24; w.Conn.WriteInt(v) }
func (w counted) WriteInt64(v int64)       { *w.n += 24; w.Conn.WriteInt64(v) }
func (w counted) WriteUint64(v uint64)     { *w.n += 24; w.Conn.WriteUint64(v) }
func (w counted) WriteArray(n int)         { *w.n += 24; w.Conn.WriteArray(n) }
func (w counted) WriteNull()               { *w.n += 5; w.Conn.WriteNull() }
func (w counted) WriteRaw(b []byte)        { *w.n += len(b); w.Conn.WriteRaw(b) }
func (w counted) WriteAny(v any)           { *w.n += 64; w.Conn.WriteAny(v) }

// command is an entry of the command table.
type command struct {
	arity  int  // as Redis's: n exactly, -n at least n, the name included
	noAuth bool // allowed before AUTH
	run    func(s *Server, c *client, rc redcon.Conn, args [][]byte)
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"ping":                  {arity: -1, run: (*Server).ping},
		"echo":                  {arity: 2, run: (*Server).echo},
		"auth":                  {arity: -2, noAuth: true, run: (*Server).auth},
		"hello":                 {arity: -1, noAuth: true, run: (*Server).hello},
		"quit":                  {arity: -1, noAuth: true, run: (*Server).quit},
		"select":                {arity: 2, run: (*Server).selectDB},
		"client":                {arity: -2, run: (*Server).clientCmd},
		"command":               {arity: -1, run: (*Server).commandCmd},
		"info":                  {arity: -1, run: (*Server).info},
		"get":                   {arity: 2, run: (*Server).get},
		"set":                   {arity: -3, run: (*Server).set},
		"setex":                 {arity: 4, run: (*Server).setex},
		"psetex":                {arity: 4, run: (*Server).setex},
		"del":                   {arity: -2, run: (*Server).del},
		"unlink":                {arity: -2, run: (*Server).del},
		"exists":                {arity: -2, run: (*Server).exists},
		"expire":                {arity: -3, run: (*Server).expire},
		"pexpire":               {arity: -3, run: (*Server).expire},
		"ttl":                   {arity: 2, run: (*Server).ttl},
		"pttl":                  {arity: 2, run: (*Server).ttl},
		"sessionmesh.ticketkey": {arity: 1, run: (*Server).ticketKey},
	}
}

// handle runs one command, on its connection's goroutine.
func (s *Server) handle(rc redcon.Conn, cmd redcon.Command) {
	c := rc.Context().(*client)
	if c.quit {
		return // commands pipelined after QUIT
	}
	s.stats.commands.Add(1)
	base := rc
	rc = counted{Conn: rc, n: &c.pending}
	name := strings.ToLower(string(cmd.Args[0]))
	def, ok := commands[name]
	switch {
	case !ok:
		rc.WriteError(unknownCommand(cmd.Args))
	case def.arity > 0 && len(cmd.Args) != def.arity, def.arity < 0 && len(cmd.Args) < -def.arity:
		rc.WriteError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", name))
	case !c.authed && !def.noAuth:
		rc.WriteError("NOAUTH Authentication required.")
	default:
		def.run(s, c, rc, cmd.Args)
	}
	if c.pending > flushAt && !c.quit {
		c.pending = 0
		redcon.BaseWriter(base).Flush()
	}
}

// unknownCommand is Redis's error for a command it does not have.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ERR unknown command '%s', with args beginning with: ", quote(args[0]))
	for _, a := range args[1:] {
		if b.Len() > 256 {
			break
		}
		fmt.Fprintf(&b, "'%s' ", quote(a))
	}
	return b.String()
}

// quote returns a client's bytes for an error message: at most 128 of them,
// with line ends made spaces, since an error is one line.
func quote(b []byte) string {
	if len(b) > 128 {
		b = b[:128]
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, string(b))
}

// Errors in Redis's words.
const (
	errNotInteger = "ERR value is not an integer or out of range"
	errSyntax     = "ERR syntax error"
	errWrongPass  = "WRONGPASS invalid username-password pair or user is disabled."
)

// writeNull writes a null: RESP2's null bulk string, or RESP3's null.
func (c *client) writeNull(rc redcon.Conn) {
	if c.proto == 3 {
		rc.WriteRaw([]byte("_\r\n"))
	} else {
		rc.WriteNull()
	}
}

// writeMapHeader starts a map of n pairs: RESP3's map, or RESP2's flat array.
func (c *client) writeMapHeader(rc redcon.Conn, n int) {
	if c.proto == 3 {
		rc.WriteRaw([]byte("%" + strconv.Itoa(n) + "\r\n"))
	} else {
		rc.WriteArray(2 * n)
	}
}

// writeBulk writes a value (counted towards the next flush by counted).
func (c *client) writeBulk(rc redcon.Conn, b []byte) {
	rc.WriteBulk(b)
}

// storeCtx bounds a call to the Store.
func (s *Server) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.cfg.Timeout)
}

// clusterError answers a Store call that failed: the client must hear that
// the cluster did not answer, never a nil that reads as "no such key".
func (s *Server) clusterError(rc redcon.Conn, err error) {
	s.stats.errors.Add(1)
	rc.WriteError("ERR cluster unavailable: " + strings.Join(strings.Fields(err.Error()), " "))
}

// key returns the store key for a client's key, or "" and an error written.
func (s *Server) key(rc redcon.Conn, k []byte) string {
	if len(s.cfg.Prefix)+len(k) > 255 {
		rc.WriteError(fmt.Sprintf("ERR key is too long: at most %d bytes here", 255-len(s.cfg.Prefix)))
		return ""
	}
	return s.cfg.Prefix + string(k)
}

func (s *Server) ping(c *client, rc redcon.Conn, args [][]byte) {
	switch len(args) {
	case 1:
		rc.WriteString("PONG")
	case 2:
		c.writeBulk(rc, args[1])
	default:
		rc.WriteError("ERR wrong number of arguments for 'ping' command")
	}
}

func (s *Server) echo(c *client, rc redcon.Conn, args [][]byte) { c.writeBulk(rc, args[1]) }

func (s *Server) quit(c *client, rc redcon.Conn, args [][]byte) {
	rc.WriteString("OK")
	c.quit = true
	rc.Close() // sends what is buffered first
}

// checkPassword authenticates c if user and pass are right, and writes the
// error if not. It compares SHA-256 digests in constant time, so that
// neither the password's bytes nor its length show in the time taken. The
// MaxAuthFailures-th wrong password closes the connection: a guess costs a
// connection, not a round trip. Wrong passwords count as refused traffic.
func (s *Server) checkPassword(c *client, rc redcon.Conn, user string, pass []byte) bool {
	sum := sha256.Sum256(pass)
	ok := subtle.ConstantTimeCompare(sum[:], s.passSum[:]) == 1
	if s.cfg.Password == "" {
		ok = true // Redis's default user without a password takes any
	}
	if user != "default" || !ok {
		rc.WriteError(errWrongPass)
		c.fails++
		s.rejects.Add("wrong password", rc.RemoteAddr(), nil)
		if c.fails >= MaxAuthFailures {
			c.quit = true
			rc.Close() // sends what is buffered first
		}
		return false
	}
	c.authed = true
	return true
}

func (s *Server) auth(c *client, rc redcon.Conn, args [][]byte) {
	switch {
	case len(args) > 3:
		rc.WriteError(errSyntax)
	case len(args) == 2 && s.cfg.Password == "":
		rc.WriteError("ERR AUTH <password> called without any password configured for the default user. " +
			"Are you sure your configuration is correct?")
	case len(args) == 2:
		if s.checkPassword(c, rc, "default", args[1]) {
			rc.WriteString("OK")
		}
	default:
		if s.checkPassword(c, rc, string(args[1]), args[2]) {
			rc.WriteString("OK")
		}
	}
}

func (s *Server) hello(c *client, rc redcon.Conn, args [][]byte) {
	proto := c.proto
	if len(args) > 1 {
		v, err := strconv.Atoi(string(args[1]))
		if err != nil {
			rc.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			rc.WriteError("NOPROTO unsupported protocol version")
			return
		}
		proto = v
	}
	var user string
	var pass []byte
	var name *string
	for i := 2; i < len(args); i++ {
		left := len(args) - i - 1
		switch opt := strings.ToLower(string(args[i])); {
		case opt == "auth" && left >= 2:
			user, pass = string(args[i+1]), args[i+2]
			i += 2
		case opt == "setname" && left >= 1:
			n := string(args[i+1])
			name = &n
			i++
		default:
			rc.WriteError(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", quote(args[i])))
			return
		}
	}
	if pass != nil {
		if !s.checkPassword(c, rc, user, pass) {
			return
		}
	} else if !c.authed {
		rc.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH " +
			"<user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if name != nil {
		if !validName(*name) {
			rc.WriteError(errBadName)
			return
		}
		c.name = *name
	}
	c.proto = proto
	c.writeMapHeader(rc, 7)
	rc.WriteBulkString("server")
	rc.WriteBulkString("redis")
	rc.WriteBulkString("version")
	rc.WriteBulkString(Version)
	rc.WriteBulkString("proto")
	rc.WriteInt(proto)
	rc.WriteBulkString("id")
	rc.WriteInt64(c.id)
	rc.WriteBulkString("mode")
	rc.WriteBulkString("standalone")
	rc.WriteBulkString("role")
	rc.WriteBulkString("master")
	rc.WriteBulkString("modules")
	rc.WriteArray(0)
}

const errBadName = "ERR Client names cannot contain spaces, newlines or special characters."

func validName(n string) bool {
	for _, r := range n {
		if r < '!' || r > '~' {
			return false
		}
	}
	return true
}

func (s *Server) selectDB(c *client, rc redcon.Conn, args [][]byte) {
	n, err := strconv.Atoi(string(args[1]))
	switch {
	case err != nil:
		rc.WriteError(errNotInteger)
	case n != 0:
		rc.WriteError("ERR DB index is out of range")
	default:
		rc.WriteString("OK")
	}
}

func (s *Server) clientCmd(c *client, rc redcon.Conn, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	arity := map[string]int{"setname": 3, "getname": 2, "setinfo": 4, "id": 2}
	want, ok := arity[sub]
	switch {
	case !ok:
		rc.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try CLIENT HELP.", quote(args[1])))
		return
	case len(args) != want:
		rc.WriteError(fmt.Sprintf("ERR wrong number of arguments for 'client|%s' command", sub))
		return
	}
	switch sub {
	case "setname":
		if !validName(string(args[2])) {
			rc.WriteError(errBadName)
			return
		}
		c.name = string(args[2])
		rc.WriteString("OK")
	case "getname":
		if c.name == "" {
			c.writeNull(rc)
		} else {
			rc.WriteBulkString(c.name)
		}
	case "setinfo":
		switch strings.ToLower(string(args[2])) {
		case "lib-name", "lib-ver":
			rc.WriteString("OK")
		default:
			rc.WriteError(fmt.Sprintf("ERR Unrecognized option '%s'", quote(args[2])))
		}
	case "id":
		rc.WriteInt64(c.id)
	}
}

// commandCmd answers COMMAND, COMMAND DOCS and the other subcommands with
// an empty list (redis-cli asks on connecting, for its hints, and does
// without), and COMMAND COUNT with the number of commands served.
func (s *Server) commandCmd(c *client, rc redcon.Conn, args [][]byte) {
	if len(args) > 1 && strings.EqualFold(string(args[1]), "count") {
		rc.WriteInt(len(commands))
		return
	}
	if len(args) > 1 && strings.EqualFold(string(args[1]), "docs") {
		c.writeMapHeader(rc, 0)
		return
	}
	rc.WriteArray(0)
}

func (s *Server) get(c *client, rc redcon.Conn, args [][]byte) {
	key := s.key(rc, args[1])
	if key == "" {
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	v, _, found, err := s.cfg.Store.Lookup(ctx, key)
	switch {
	case err != nil:
		s.clusterError(rc, err)
	case !found:
		s.stats.misses.Add(1)
		c.writeNull(rc)
	default:
		s.stats.hits.Add(1)
		c.writeBulk(rc, v)
	}
}

func (s *Server) set(c *client, rc redcon.Conn, args [][]byte) {
	now := s.cfg.Now()
	o, msg := parseSet(args[3:], now)
	if msg != "" {
		rc.WriteError(msg)
		return
	}
	s.store(c, rc, args[1], args[2], o, now)
}

func (s *Server) setex(c *client, rc redcon.Conn, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	unit := time.Second
	if name == "psetex" {
		unit = time.Millisecond
	}
	now := s.cfg.Now()
	exp, msg := expiry(args[2], unit, false, now, name)
	if msg != "" {
		rc.WriteError(msg)
		return
	}
	s.store(c, rc, args[1], args[3], setOptions{expires: exp}, now)
}

// store carries out a SET as parseSet read it.
func (s *Server) store(c *client, rc redcon.Conn, k, value []byte, o setOptions, now time.Time) {
	key := s.key(rc, k)
	if key == "" {
		return
	}
	if len(value) > maxValue {
		rc.WriteError(fmt.Sprintf("ERR value is too large: %d bytes, at most %d here", len(value), maxValue))
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	var old []byte
	var oldExp time.Time
	var found bool
	if o.nx || o.xx || o.get || o.keepTTL {
		// Check, then set: two steps, not one. See the package documentation.
		var err error
		if old, oldExp, found, err = s.cfg.Store.Lookup(ctx, key); err != nil {
			s.clusterError(rc, err)
			return
		}
	}
	reply := func() {
		if !o.get {
			rc.WriteString("OK")
		} else if found {
			c.writeBulk(rc, old)
		} else {
			c.writeNull(rc)
		}
	}
	if (o.nx && found) || (o.xx && !found) {
		if o.get && found {
			c.writeBulk(rc, old)
		} else {
			c.writeNull(rc)
		}
		return
	}
	exp := o.expires
	switch {
	case o.keepTTL && found:
		exp = oldExp
	case exp.IsZero():
		exp = now.Add(s.cfg.DefaultTTL)
	}
	if !exp.After(now) {
		// An expiry in the past (EXAT, PXAT): Redis stores and drops it at once.
		if err := s.cfg.Store.Delete(ctx, key); err != nil {
			s.clusterError(rc, err)
			return
		}
		reply()
		return
	}
	if err := s.cfg.Store.Set(ctx, key, value, exp); err != nil {
		s.clusterError(rc, err)
		return
	}
	reply()
}

func (s *Server) del(c *client, rc redcon.Conn, args [][]byte) {
	ctx, cancel := s.storeCtx()
	defer cancel()
	n := 0
	for _, k := range args[1:] {
		key := s.key(rc, k)
		if key == "" {
			return
		}
		_, _, found, err := s.cfg.Store.Lookup(ctx, key)
		if err == nil && found {
			err = s.cfg.Store.Delete(ctx, key)
			n++
		}
		if err != nil {
			s.clusterError(rc, err)
			return
		}
	}
	rc.WriteInt(n)
}

func (s *Server) exists(c *client, rc redcon.Conn, args [][]byte) {
	ctx, cancel := s.storeCtx()
	defer cancel()
	n := 0
	for _, k := range args[1:] {
		key := s.key(rc, k)
		if key == "" {
			return
		}
		_, _, found, err := s.cfg.Store.Lookup(ctx, key)
		if err != nil {
			s.clusterError(rc, err)
			return
		}
		if found {
			n++
		}
	}
	rc.WriteInt(n)
}

func (s *Server) expire(c *client, rc redcon.Conn, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	unit := time.Second
	if name == "pexpire" {
		unit = time.Millisecond
	}
	now := s.cfg.Now()
	exp, msg := expiry(args[2], unit, true, now, name)
	if msg != "" {
		rc.WriteError(msg)
		return
	}
	cond, msg := parseExpireCondition(args[3:])
	if msg != "" {
		rc.WriteError(msg)
		return
	}
	key := s.key(rc, args[1])
	if key == "" {
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	v, oldExp, found, err := s.cfg.Store.Lookup(ctx, key)
	switch {
	case err != nil:
		s.clusterError(rc, err)
		return
	case !found || !cond.allows(oldExp, exp):
		rc.WriteInt(0)
		return
	}
	if !exp.After(now) {
		err = s.cfg.Store.Delete(ctx, key)
	} else {
		err = s.cfg.Store.Set(ctx, key, v, exp)
	}
	if err != nil {
		s.clusterError(rc, err)
		return
	}
	rc.WriteInt(1)
}

func (s *Server) ttl(c *client, rc redcon.Conn, args [][]byte) {
	key := s.key(rc, args[1])
	if key == "" {
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	_, exp, found, err := s.cfg.Store.Lookup(ctx, key)
	switch {
	case err != nil:
		s.clusterError(rc, err)
	case !found:
		rc.WriteInt(-2)
	case bytes.EqualFold(args[0], []byte("pttl")):
		rc.WriteInt64(max(0, exp.Sub(s.cfg.Now()).Milliseconds()))
	default:
		ms := max(0, exp.Sub(s.cfg.Now()).Milliseconds())
		rc.WriteInt64((ms + 500) / 1000) // rounded, as Redis does
	}
}

// ticketKey answers SESSIONMESH.TICKETKEY: 48 bytes in Node.js's
// setTicketKeys layout (key name, HMAC secret, AES key, 16 bytes each),
// derived from the key the cluster encrypts with now.
func (s *Server) ticketKey(c *client, rc redcon.Conn, args [][]byte) {
	if s.cfg.TicketKeys == nil {
		rc.WriteError("ERR no ticket keys here: this sidecar's member does not run the ticket key rotation")
		return
	}
	_, k, err := s.cfg.TicketKeys.DeriveKey(TicketKeyLabel, 48)
	if err != nil {
		rc.WriteError("ERR no ticket key yet: " + err.Error())
		return
	}
	rc.WriteBulk(k)
	clear(k)
}
