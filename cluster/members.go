package cluster

import (
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// memberSet is this node's picture of the cluster, kept from memberlist's
// event callbacks. memberlist.Members returns pointers into state it keeps
// changing under its own lock, so reading them later would race; the callbacks
// hand over the node while the lock is held, and we copy what we need.
type memberSet struct {
	self   string
	logger *slog.Logger
	probe  time.Duration // ProbeInterval

	mu     sync.Mutex // guards everything below; never held while calling memberlist
	byName map[string]Member
	failed map[string]*failed // members declared dead, to try again
	acks   map[string]ack     // last answered probe of each member
	sorted []Member           // byName's values sorted by name; replaced, never modified
	ips    map[string]bool    // the addresses of members, live or failed: their streams are members'

	watchers map[chan struct{}]struct{}
	closed   bool
}

// ack is the last probe of a member it answered, or when it was first seen.
type ack struct {
	rtt time.Duration
	at  time.Time
}

func newMemberSet(self string, logger *slog.Logger, probe time.Duration) *memberSet {
	return &memberSet{
		self:     self,
		logger:   logger,
		probe:    probe,
		acks:     make(map[string]ack),
		ips:      make(map[string]bool),
		byName:   make(map[string]Member),
		failed:   make(map[string]*failed),
		watchers: make(map[chan struct{}]struct{}),
	}
}

// update records a joined or updated node. It runs under memberlist's lock.
func (s *memberSet) update(nd *memberlist.Node) {
	m := Member{
		Name:  nd.Name,
		Addr:  net.JoinHostPort(nd.Addr.String(), strconv.Itoa(int(nd.Port))),
		Local: nd.Name == s.self,
	}
	md, err := decodeMeta(nd.Meta)
	if err != nil {
		// A node on an incompatible version: keep it as a member, but
		// without a data channel nobody will send it sessions.
		s.logger.Warn("ignoring metadata of member", "member", nd.Name, "err", err)
	}
	m.DataAddr, m.DataVersion, m.Started, m.Tags = md.DataAddr, md.DataVersion, md.Started, md.Tags

	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failed, m.Name)
	if _, ok := s.acks[m.Name]; !ok {
		s.acks[m.Name] = ack{at: time.Now()} // suspicion counts from here
	}
	if old, ok := s.byName[m.Name]; ok && old.equal(m) {
		return
	}
	s.byName[m.Name] = m
	s.changedLocked()
}

// remove forgets a node that died or left. It runs under memberlist's lock.
// The node is remembered for reconnection: memberlist's callback does not say
// whether it left or failed (Node.State is not kept up to date), and dialing a
// node that left costs a refused connection now and then, while not dialing
// one that is only behind a partition would keep the cluster split.
func (s *memberSet) remove(nd *memberlist.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byName[nd.Name]
	if !ok {
		return
	}
	now := time.Now()
	s.failed[nd.Name] = &failed{addr: m.Addr, since: now, next: now}
	delete(s.acks, nd.Name)
	if nd.Name != s.self {
		s.logger.Info("member gone", "member", nd.Name)
	}
	delete(s.byName, nd.Name)
	s.changedLocked()
}

func (s *memberSet) changedLocked() {
	ms := make([]Member, 0, len(s.byName))
	clear(s.ips)
	for _, m := range s.byName {
		ms = append(ms, m)
		if host, _, err := net.SplitHostPort(m.Addr); err == nil && !m.Local {
			s.ips[host] = true
		}
	}
	for _, f := range s.failed {
		if host, _, err := net.SplitHostPort(f.addr); err == nil {
			s.ips[host] = true
		}
	}
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	s.sorted = ms
	for ch := range s.watchers {
		select {
		case ch <- struct{}{}:
		default: // a notification is already pending
		}
	}
}

// failures returns a copy of the members to reconnect to.
func (s *memberSet) failures() map[string]failed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]failed, len(s.failed))
	for name, f := range s.failed {
		out[name] = *f
	}
	return out
}

// backOff schedules the next reconnection attempt to name.
func (s *memberSet) backOff(name string, now time.Time, interval time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.failed[name]; ok {
		f.wait = min(max(2*f.wait, interval), 16*interval)
		f.next = now.Add(f.wait)
	}
}

func (s *memberSet) forgetFailure(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failed, name)
}

// acked records an answered probe. memberlist calls it from its probe loop.
func (s *memberSet) acked(name string, rtt time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[name]; ok {
		s.acks[name] = ack{rtt: rtt, at: time.Now()}
	}
}

func (s *memberSet) list() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := slices.Clone(s.sorted)
	// memberlist probes one member per interval, so each in turn once per
	// len(ms)-1 intervals.
	window := 3 * time.Duration(max(len(ms)-1, 1)) * s.probe
	now := time.Now()
	for i := range ms {
		if ms[i].Local {
			continue
		}
		a := s.acks[ms[i].Name]
		ms[i].RTT = a.rtt
		ms[i].Suspect = now.Sub(a.at) > window
	}
	return ms
}

// counts returns how many members there are, how many look suspect, and
// how many went away (and are being reconnected to).
func (s *memberSet) counts() (members, suspect, gone int) {
	for _, m := range s.list() {
		if m.Suspect {
			suspect++
		}
		members++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return members, suspect, len(s.failed)
}

func (s *memberSet) watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(ch)
		return ch, func() {}
	}
	s.watchers[ch] = struct{}{}
	ch <- struct{}{} // the first value: read the current picture
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.watchers[ch]; ok {
			delete(s.watchers, ch)
			close(ch)
		}
	}
}

// close closes every watch channel, telling readers the node is gone.
func (s *memberSet) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for ch := range s.watchers {
		close(ch)
	}
	clear(s.watchers)
}

// count returns how many live members there are, this node included.
func (s *memberSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(len(s.byName), 1)
}

// named sets the node's own name and logger, once they are known; before
// memberlist starts calling the set.
func (s *memberSet) named(self string, logger *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.self, s.logger = self, logger
}

// hasIP reports whether ip is the address of a member, live or lately
// failed. On one host every member has the same address, and so does every
// local process: there, it tells nobody apart.
func (s *memberSet) hasIP(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ips[ip]
}
