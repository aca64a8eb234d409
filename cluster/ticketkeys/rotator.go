package ticketkeys

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// Errors from Open and Seal; callers count them as reasons a ticket missed.
var (
	// ErrUnknownKey: the ticket names a key this node does not hold, because
	// it was dropped (the ticket outlived its lifetime) or never existed.
	ErrUnknownKey = errors.New("ticketkeys: ticket encrypted with an unknown key")
	// ErrMalformed: the ticket is not one of ours, or does not decrypt
	// (tampered, truncated, or made by a node on another Go version).
	ErrMalformed = errors.New("ticketkeys: malformed ticket")
	// ErrNoKey: no key has activated yet (the node has not joined a cluster
	// and has not generated one).
	ErrNoKey = errors.New("ticketkeys: no ticket key yet")
	// ErrClosed: the Rotator was closed and its keys wiped.
	ErrClosed = errors.New("ticketkeys: rotator closed")
)

// Cluster is what a Rotator needs from the membership layer.
// *cluster.Node implements it.
type Cluster interface {
	// Members returns the live members, this node (Local) included.
	Members() []cluster.Member
	// Share registers cluster-wide state (see cluster.Shared).
	Share(name string, s cluster.Shared) (func([]byte), error)
	// SetTag sets a label every member sees.
	SetTag(key, value string) error
}

// tagKey is the member tag a Rotator sets: the digest of the keys it holds.
// Members with the tag take part in ticket keys; the oldest of them generates.
const tagKey = "ticketkeys"

// maxHeld bounds the keys a configuration may keep at once, so that two
// halves of a partition that merge, with seed keys besides, still fit in
// one key set (maxKeys). Hourly rotation with MaxLifetime keeps 171.
const maxHeld = maxKeys / 4

// keysHeld returns how many keys cfg keeps at most: the staged one, the
// active one, and the retired ones whose tickets may still be resumed.
func keysHeld(cfg Config) int {
	retired := (cfg.Lifetime + cfg.Staging + cfg.Rotation - 1) / cfg.Rotation
	return int(retired) + 2
}

// MaxLifetime is the longest ticket lifetime: crypto/tls never resumes a
// session older than 7 days.
const MaxLifetime = 7 * 24 * time.Hour

// Config configures a Rotator. The zero value is ready to use, and every
// node of a cluster should use the same values.
type Config struct {
	// Rotation is how often a new key is generated. Default one hour, as
	// Cloudflare did and Envoy recommends. At least twice Staging, and
	// long enough that Lifetime spans at most 254 rotations (every key is
	// kept until its last ticket expires).
	Rotation time.Duration

	// Staging is how long a new key is decrypt-only before it may encrypt,
	// on top of waiting until every member holds it. Default one minute.
	Staging time.Duration

	// Lifetime is how long a ticket stays resumable. A retired key is kept,
	// decrypt-only, until every ticket it encrypted has outlived Lifetime;
	// the node decrypting a ticket also checks its age. At most MaxLifetime.
	// Default 24 hours.
	Lifetime time.Duration

	// Seed, if set, is a 32-byte random key the cluster starts with, active
	// at once on every node given it, and retired when the first generated
	// key replaces it. Give every node the same seed, or none. A key that is
	// not random (all one byte, text, a pattern) is refused.
	Seed []byte

	// CheckInterval is how often the schedule is checked: keys generated,
	// activated, dropped. Default one second.
	CheckInterval time.Duration

	// Logger receives key events (generated, activated, dropped, by key ID;
	// never key material). Default: discard.
	Logger *slog.Logger

	// Now returns the current time; tests move it. Default time.Now.
	Now func() time.Time

	// Rand is the source of keys. Default crypto/rand.
	Rand io.Reader
}

// Rotator keeps this node's copy of the cluster's ticket keys, generates new
// ones when this node is the oldest member taking part, and seals and opens
// tickets with them. It is safe for concurrent use.
type Rotator struct {
	cfg       Config
	c         Cluster
	logger    *slog.Logger
	broadcast func([]byte)

	mu        sync.Mutex // guards the fields below
	set       set
	cur       *key
	sealers   map[uint64]*tls.Config // one per key, made on first use
	generated uint64                 // keys this node generated
	digest    string                 // the tag value last set
	closed    bool                   // Close wiped the keys; gossip may not bring them back

	stepMu sync.Mutex // serializes step: the schedule is checked by one goroutine at a time

	kick      chan struct{} // 1-buffered: check the schedule now
	ready     chan struct{} // closed once a key encrypts (see Ready)
	readyOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New starts a Rotator on c. Create it before joining the cluster, so that
// the join brings the cluster's keys; a node that is alone generates the
// first key at its first check. Close stops it.
func New(c Cluster, cfg Config) (*Rotator, error) {
	if cfg.Rotation <= 0 {
		cfg.Rotation = time.Hour
	}
	if cfg.Staging <= 0 {
		cfg.Staging = time.Minute
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 24 * time.Hour
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	switch {
	case cfg.Lifetime > MaxLifetime:
		return nil, fmt.Errorf("ticketkeys: Lifetime %v exceeds %v, the most crypto/tls resumes", cfg.Lifetime, MaxLifetime)
	case cfg.Rotation < 2*cfg.Staging:
		return nil, fmt.Errorf("ticketkeys: Rotation %v is less than twice Staging %v", cfg.Rotation, cfg.Staging)
	case keysHeld(cfg) > maxHeld:
		return nil, fmt.Errorf("ticketkeys: a Lifetime of %v with a key every %v keeps %d keys, more than %d: rotate less often or shorten Lifetime",
			cfg.Lifetime, cfg.Rotation, keysHeld(cfg), maxHeld)
	}
	r := &Rotator{
		cfg:     cfg,
		c:       c,
		logger:  cfg.Logger,
		sealers: make(map[uint64]*tls.Config),
		kick:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	r.set.retention = cfg.Lifetime + cfg.Staging
	if cfg.Seed != nil {
		k, err := seedKey(cfg.Seed)
		if err != nil {
			return nil, err
		}
		r.set.add(k, cfg.Now())
		r.cur = k
	}
	var err error
	if r.broadcast, err = c.Share(tagKey, shared{r}); err != nil {
		return nil, err
	}
	if err := r.advertise(); err != nil {
		return nil, err
	}
	go r.run()
	return r, nil
}

// Ready checks the schedule at once and waits until a key encrypts: the
// cluster's, for a node that joined one, or its own first key, for a node
// alone. Until then Seal fails with ErrNoKey. It returns ctx's error if ctx
// ends first, and ErrClosed after Close.
func (r *Rotator) Ready(ctx context.Context) error {
	if r.cfg.Seed != nil {
		return nil // the seed encrypts from the start
	}
	r.check()
	select {
	case <-r.ready:
		return nil
	case <-r.stop:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("ticketkeys: no key encrypts yet: %w", ctx.Err())
	}
}

// Lifetime returns how long a ticket stays resumable.
func (r *Rotator) Lifetime() time.Duration { return r.cfg.Lifetime }

// Rotate generates a new key at once, whether or not this node is the one
// that generates on schedule: for when a key may have leaked. The new key
// encrypts once every member holds it and Staging has passed.
func (r *Rotator) Rotate() error {
	k, err := r.generate(r.cfg.Now())
	if err != nil {
		return err
	}
	r.broadcast(encodeKeys([]*key{k}))
	r.check()
	return nil
}

// Keys describes the keys this node holds, in activation order.
func (r *Rotator) Keys() []Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set.infos(r.cfg.Now(), r.cur)
}

// Generated returns how many keys this node has generated.
func (r *Rotator) Generated() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.generated
}

// Close stops the schedule, waits for it, and wipes the keys. Seal and Open
// fail with ErrClosed afterwards, and the keys stay gone: keys that gossip
// brings later are dropped, and this node's state is empty to the others.
// It removes this node's ticketkeys tag, so that the members that go on
// rotating do not wait for this one to agree. It is safe to call twice.
func (r *Rotator) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		r.mu.Lock()
		r.closed = true
		for _, k := range r.set.keys {
			k.wipe()
		}
		r.set.keys, r.cur = nil, nil
		clear(r.sealers)
		r.mu.Unlock()
		if err := r.c.SetTag(tagKey, ""); err != nil && !errors.Is(err, cluster.ErrClosed) {
			r.logger.Debug("cannot remove the ticketkeys tag", "err", err)
		}
	})
	return nil
}

// run checks the schedule every CheckInterval, and whenever keys arrive.
func (r *Rotator) run() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		case <-r.kick:
		}
		r.step()
	}
}

// check asks the schedule to be checked soon, without blocking.
func (r *Rotator) check() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// step generates a key if this node is due to, moves the encrypting key on,
// drops keys whose time is up, and advertises what this node holds.
func (r *Rotator) step() {
	r.stepMu.Lock()
	defer r.stepMu.Unlock()
	now := r.cfg.Now()
	members := r.c.Members()
	if r.isGenerator(members) && r.due(now) {
		if k, err := r.generate(now); err != nil {
			r.logger.Error("cannot generate a ticket key", "err", err)
		} else {
			r.broadcast(encodeKeys([]*key{k}))
		}
	}

	r.mu.Lock()
	agreed := true
	mine := r.set.digest()
	for _, m := range members {
		if d := m.Tags[tagKey]; !m.Local && d != "" && d != "-" && d != mine {
			agreed = false
		}
	}
	prev := r.cur
	r.cur = r.set.current(now, agreed, r.cur)
	dropped := r.set.prune(now, r.cur)
	for _, id := range dropped {
		delete(r.sealers, id)
	}
	cur := r.cur
	r.mu.Unlock()

	if cur != prev && cur != nil {
		r.logger.Info("ticket key now encrypting", "key_id", keyID(cur.id))
		r.readyOnce.Do(func() { close(r.ready) })
	}
	for _, id := range dropped {
		r.logger.Info("ticket key dropped", "key_id", keyID(id))
	}
	if err := r.advertise(); err != nil && !errors.Is(err, cluster.ErrClosed) {
		r.logger.Warn("cannot advertise ticket keys", "err", err)
	}
}

// isGenerator reports whether this node generates keys on schedule: it is
// the oldest member taking part (by start time, then name), so that once
// gossip has converged exactly one member does.
func (r *Rotator) isGenerator(members []cluster.Member) bool {
	var oldest *cluster.Member
	for i, m := range members {
		if m.Tags[tagKey] == "" && !m.Local {
			continue
		}
		if oldest == nil || cmp.Or(m.Started.Compare(oldest.Started), cmp.Compare(m.Name, oldest.Name)) < 0 {
			oldest = &members[i]
		}
	}
	return oldest != nil && oldest.Local
}

// due reports whether the newest key is a Rotation old, or there is none.
func (r *Rotator) due(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.set.newest()
	return n == nil || !now.Before(n.created.Add(r.cfg.Rotation))
}

// generate makes a new key and adds it to the set. The first key a node
// holds activates at once: there is no one it must reach first.
func (r *Rotator) generate(now time.Time) (*key, error) {
	k := &key{created: now, activate: now.Add(r.cfg.Staging)}
	// It encrypts from activation until the next key takes over, a Rotation
	// later, and its last tickets must outlive Lifetime; one more Staging
	// covers clocks that differ and gossip that is slow.
	k.expire = k.activate.Add(r.cfg.Rotation + r.cfg.Lifetime + r.cfg.Staging)
	var id [8]byte
	if _, err := io.ReadFull(r.cfg.Rand, id[:]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r.cfg.Rand, k.secret[:]); err != nil {
		return nil, err
	}
	k.id = binary.BigEndian.Uint64(id[:])

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if len(r.set.keys) == 0 {
		k.activate = now
	}
	added := r.set.add(k, now)
	if added {
		r.generated++
	}
	r.mu.Unlock()
	if !added {
		return nil, errors.New("ticketkeys: generated a key ID already in use")
	}
	r.logger.Info("ticket key generated", "key_id", keyID(k.id), "activates", k.activate, "expires", k.expire)
	return k, nil
}

// advertise sets this node's tag to the digest of the keys it holds, if that changed.
func (r *Rotator) advertise() error {
	r.mu.Lock()
	d := r.set.digest()
	changed := d != r.digest
	r.digest = d
	r.mu.Unlock()
	if !changed {
		return nil
	}
	return r.c.SetTag(tagKey, d)
}

// merge folds keys from another node into the set.
func (r *Rotator) merge(b []byte) {
	keys, err := decodeKeys(b)
	if err != nil {
		r.logger.Warn("ignoring ticket keys from another node", "err", err)
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	changed := r.set.merge(keys, r.cfg.Now())
	r.mu.Unlock()
	if changed {
		r.check()
	}
}

// shared is the Rotator as cluster state; its methods run on memberlist's
// goroutines and only take the Rotator's lock briefly.
type shared struct{ r *Rotator }

func (s shared) State() []byte {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return encodeKeys(s.r.set.keys)
}

func (s shared) Merge(b []byte) { s.r.merge(b) }

// Ticket layout: a version byte, the key's 8-byte ID, then what
// tls.Config.EncryptTicket makes with that key (IV, AES-CTR ciphertext,
// HMAC-SHA256). The ID lets Open go straight to the key instead of trying
// each, and tells an expired key from a forged ticket.
const (
	ticketVersion = 1
	ticketHeader  = 1 + 8
)

// Seal encrypts ss into a ticket with the current key. It fits
// tls.Config.WrapSession.
func (r *Rotator) Seal(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	r.mu.Lock()
	k, closed := r.cur, r.closed
	var sealer *tls.Config
	if k != nil {
		sealer = r.sealerLocked(k)
	}
	r.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case k == nil:
		return nil, ErrNoKey
	}
	body, err := sealer.EncryptTicket(cs, ss)
	if err != nil {
		return nil, fmt.Errorf("ticketkeys: %w", err)
	}
	t := make([]byte, ticketHeader, ticketHeader+len(body))
	t[0] = ticketVersion
	binary.BigEndian.PutUint64(t[1:], k.id)
	return append(t, body...), nil
}

// Open decrypts a ticket made by Seal on any node of the cluster. It fits
// tls.Config.UnwrapSession except for its errors, which say why a ticket
// cannot be used; UnwrapSession must turn them into (nil, nil).
func (r *Rotator) Open(ticket []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	if len(ticket) < ticketHeader || ticket[0] != ticketVersion {
		return nil, ErrMalformed
	}
	id := binary.BigEndian.Uint64(ticket[1:])
	r.mu.Lock()
	closed := r.closed
	var sealer *tls.Config
	if k := r.set.get(id); k != nil {
		sealer = r.sealerLocked(k)
	}
	r.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case sealer == nil:
		return nil, ErrUnknownKey
	}
	ss, err := sealer.DecryptTicket(ticket[ticketHeader:], cs)
	if err != nil || ss == nil { // DecryptTicket never errs; nil means it would not decrypt or parse
		return nil, ErrMalformed
	}
	return ss, nil
}

// DeriveKey returns n bytes derived from the key that encrypts now, with
// HKDF-SHA256 and label as its info, and that key's ID: a ticket key of
// their own for TLS servers that are not Go (a Node.js server's
// setTicketKeys takes 48 bytes), kept in step with the cluster's rotation.
// Every member encrypting with the same key derives the same bytes for the
// same label, so a fleet of such servers shares one key per rotation; the
// ID changes when the key does. Give each kind of use its own label: bytes
// derived for one label say nothing about another's, nor about the key.
// The key itself never leaves the Rotator.
//
// Each member switches to a new key within a CheckInterval of the others
// (the key is staged on every member first), so two members may answer with
// different keys for that long at a rotation. It fails with ErrNoKey until a
// key encrypts, and with ErrClosed after Close.
func (r *Rotator) DeriveKey(label string, n int) (id uint64, derived []byte, err error) {
	r.mu.Lock()
	k, closed := r.cur, r.closed
	var secret [32]byte
	if k != nil {
		id, secret = k.id, k.secret
	}
	r.mu.Unlock()
	defer clear(secret[:])
	switch {
	case closed:
		return 0, nil, ErrClosed
	case k == nil:
		return 0, nil, ErrNoKey
	}
	var salt [8]byte
	binary.BigEndian.PutUint64(salt[:], id)
	derived, err = hkdf.Key(sha256.New, secret[:], salt[:], label, n)
	if err != nil {
		return 0, nil, fmt.Errorf("ticketkeys: derive %d bytes: %w", n, err)
	}
	return id, derived, nil
}

// sealerLocked returns the tls.Config that encrypts and decrypts with k.
func (r *Rotator) sealerLocked(k *key) *tls.Config {
	s, ok := r.sealers[k.id]
	if !ok {
		s = &tls.Config{}
		s.SetSessionTicketKeys([][32]byte{k.secret})
		r.sealers[k.id] = s
	}
	return s
}

// keyID formats a key ID for logs: the ID is public (every ticket carries it).
func keyID(id uint64) string { return fmt.Sprintf("%016x", id) }
