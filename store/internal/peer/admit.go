package peer

import (
	"net"
	"sync"

	"golang.org/x/time/rate"
)

// admission decides which new connections may go on to a TLS handshake. A
// handshake costs the server a key exchange and a signature before it knows
// who calls, so a flood of strangers could take the CPU from everything else
// on the node, gossip probes included (two floods of 10,500 connections got a
// node declared dead). Connections from members' addresses and from
// strangers' are admitted apart, each at most handshakeRate a second (burst
// handshakeBurst) and maxHandshakes not yet authenticated, and a stranger's
// address at most perSource of those: strangers can neither starve members'
// reconnections nor one stranger the others. The rest are closed at once,
// before any TLS.
type admission struct {
	isMember func(ip string) bool // by address: the store's ring members

	mu        sync.Mutex // guards the counts
	members   *rate.Limiter
	strangers *rate.Limiter
	pending   [2]int // not yet authenticated: [members, strangers]
	bySource  map[string]int
}

const (
	maxHandshakes  = 32  // connections not yet authenticated, members' and strangers' each
	handshakeRate  = 100 // new connections per second, on average, each
	handshakeBurst = 100 // and at once
	perSource      = 4   // a stranger's address's share of maxHandshakes
)

func newAdmission() *admission {
	return &admission{
		isMember:  func(string) bool { return false },
		members:   rate.NewLimiter(handshakeRate, handshakeBurst),
		strangers: rate.NewLimiter(handshakeRate, handshakeBurst),
		bySource:  make(map[string]int),
	}
}

// admit reports whether a connection from addr may go on, and returns the
// function that frees its place once it has authenticated or failed.
func (a *admission) admit(addr net.Addr) (release func(), ok bool) {
	ip := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip = ta.IP.String()
	}
	i, limit := 1, a.strangers
	if a.isMember(ip) {
		i, limit = 0, a.members
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending[i] >= maxHandshakes || (i == 1 && a.bySource[ip] >= perSource) || !limit.Allow() {
		return nil, false
	}
	a.pending[i]++
	if i == 1 {
		a.bySource[ip]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.pending[i]--
			if i == 1 {
				if a.bySource[ip]--; a.bySource[ip] == 0 {
					delete(a.bySource, ip)
				}
			}
		})
	}, true
}
