package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrNameTaken means another live member of the cluster already has this
// node's name. Members are told apart by name alone, so two with one name
// break the ring for both: give every member its own Name.
var ErrNameTaken = errors.New("cluster: name already taken")

// joinReport is how often Join says that it is still trying.
const joinReport = 10 * time.Second

// Join contacts the seed addresses (host:port; host names are resolved,
// several addresses per name are fine) and joins their cluster. Until a seed
// answers it retries, backing off up to 2 s, until ctx ends; the first
// failure and then one line every 10 s are logged at Warn, with the reason
// for each seed address, and the error at the end says it too. A seed that
// cannot be right (no port, a port out of range) is an error at once.
//
// Joining a node's own address is harmless, but it counts as an answer: if
// every seed is this node, Join returns and the node stays a cluster of one
// until another joins it (logged at Warn: usually a mistake, except on the
// first node, whose seed list may name only itself). If another member
// reaches this node while Join is still trying (its reconnect loop, or a
// member listing this one as a seed), the node is in the cluster and Join
// returns nil.
//
// If this node's gossip socket cannot send to a member it learns of while
// joining (an IPv4 socket and an IPv6 member, or a socket on loopback and a
// member on another host), Join returns an error wrapping ErrOutOfReach that
// names the member and the fix; the node is then in the cluster without
// reaching that member: Close it. Members that join later are not checked.
//
// If a live member already holds this node's name, Join returns an error
// wrapping ErrNameTaken that names it. If the holder does not answer (this
// node's own previous process, say, that crashed and has not been declared
// dead yet), Join keeps trying until the cluster has declared it dead and
// takes this node under the name, and logs that it waits.
func (n *Node) Join(ctx context.Context, seeds ...string) error {
	if len(seeds) == 0 {
		return errors.New("cluster: Join needs at least one seed address (host:port of any member)")
	}
	for _, s := range seeds {
		if err := checkSeed(s); err != nil {
			return fmt.Errorf("cluster: Join: seed %q: %w", s, err)
		}
	}
	backoff := 50 * time.Millisecond
	start := time.Now()
	var lastReport time.Time
	for attempt := 1; ; attempt++ {
		if n.isClosed() {
			return ErrClosed
		}
		n.clash.Store(nil)
		joined, err := n.join(ctx, seeds)
		if holder := n.clash.Load(); holder != nil {
			if err := n.outOfReach(n.name, holder.IP, holder.String()); err != nil {
				return err
			} else if n.answers(holder) {
				return fmt.Errorf("%w: the member at %s is called %q too: give every member its own Name (the default, host:port, is unique)",
					ErrNameTaken, holder, n.name)
			}
			err = fmt.Errorf("the name %q is held by the member at %s, which does not answer: if that was this member before a restart, "+
				"the cluster takes this one once it has declared that one dead", n.name, holder)
		} else if joined > 0 {
			if err := n.checkReach(); err != nil {
				return err
			}
			if members := n.ml.NumMembers(); members == 1 {
				n.logger.Warn("the seeds reached only this member itself: it is a cluster of one until another joins it (fine for the first member)",
					"seeds", seeds)
			} else {
				n.logger.Info("joined cluster", "contacted", joined, "members", members)
			}
			return nil
		} else if members := n.ml.NumMembers(); members > 1 {
			if err := n.checkReach(); err != nil {
				return err
			}
			n.logger.Info("joined cluster: another member reached this one", "members", members)
			return nil
		}
		if time.Since(lastReport) >= joinReport {
			lastReport = time.Now()
			n.logger.Warn("cannot join the cluster yet; retrying", "seeds", seeds, "attempts", attempt,
				"for", time.Since(start).Round(time.Second), "err", oneLine(n.diagnose(err)))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: join %s: %w after %d attempts (last: %s)", strings.Join(seeds, ", "), ctx.Err(), attempt, oneLine(n.diagnose(err)))
		case <-n.stop:
			return ErrClosed
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// ErrOutOfReach means this node's gossip socket cannot send to a member's
// address: the socket is bound to an IPv4 address and the member's is IPv6
// (or the other way round), or it is bound to loopback and the member is
// on another host.
var ErrOutOfReach = errors.New("cluster: a member is out of this node's reach")

// checkReach refuses to stay in a cluster with a member this node's gossip
// socket cannot send to. memberlist joins over TCP, which is not bound to
// the socket's address, and would then suspect, over and over, the member
// its UDP probes cannot reach.
func (n *Node) checkReach() error {
	for _, m := range n.Members() {
		if m.Local {
			continue
		}
		host, _, _ := net.SplitHostPort(m.Addr)
		if err := n.outOfReach(m.Name, net.ParseIP(host), m.Addr); err != nil {
			return err
		}
	}
	return nil
}

// outOfReach returns an error wrapping ErrOutOfReach if this node's gossip
// socket cannot send to ip, the address (addr with its port) of the member
// called name. A socket on all interfaces is dual-stack and reaches any
// address; one on an IPv4 address reaches IPv4 only, one on an IPv6 address
// IPv6 only; one on loopback reaches only this host's own addresses. A
// custom Config.Transport is not checked: its addresses need not be the
// network's.
func (n *Node) outOfReach(name string, ip net.IP, addr string) error {
	var why string
	switch b := n.bind; {
	case b == nil || ip == nil || b.IsUnspecified():
		return nil
	case (b.To4() == nil) != (ip.To4() == nil):
		why = "this node's gossip socket is bound to an address of the other IP family"
	case b.IsLoopback() && !ip.IsLoopback() && !ownAddr(ip):
		why = "this node's gossip socket is bound to loopback, and the member is on another host"
	default:
		return nil
	}
	return fmt.Errorf("%w: the member %q is at %s, and %s (%s): on one host, start every member with LocalConfig; "+
		"else bind this one to all interfaces (\":7946\", the default)",
		ErrOutOfReach, name, addr, why, n.bind)
}

// ownAddr reports whether ip is one of this host's addresses.
func ownAddr(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: do not refuse
	}
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok && p.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// checkSeed refuses a seed that cannot be an address: a host and a port
// from 1 to 65535.
func checkSeed(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", port)
	}
	if host == "" {
		return errors.New("no host")
	}
	return nil
}

// seedError is why one seed address did not answer.
type seedError struct {
	addr string
	err  error
}

func (e *seedError) Error() string { return e.addr + ": " + oneLine(e.err) }
func (e *seedError) Unwrap() error { return e.err }

// join resolves the seeds and tries each address once, and returns how many
// answered and why the others did not. It resolves names itself, so that a
// name that does not resolve is one error here, not a log line from
// memberlist on every attempt.
func (n *Node) join(ctx context.Context, seeds []string) (int, error) {
	var addrs []string
	var errs []error
	for _, s := range seeds {
		host, port, _ := net.SplitHostPort(s)
		if net.ParseIP(host) != nil {
			addrs = append(addrs, s)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupHost(rctx, host)
		cancel()
		if err != nil {
			errs = append(errs, &seedError{s, fmt.Errorf("cannot resolve %s: %w", host, err)})
			continue
		}
		for _, ip := range ips {
			addrs = append(addrs, net.JoinHostPort(ip, port))
		}
	}
	joined := 0
	for _, a := range addrs {
		if _, err := n.ml.Join([]string{a}); err != nil {
			errs = append(errs, &seedError{a, joinError(err)})
			continue
		}
		joined++
	}
	return joined, errors.Join(errs...)
}

// diagnose adds to each seed's error what a plain TCP connection to it
// shows: memberlist reports a member that refuses this node's gossip (another
// secret or label) as a bare EOF, like any port that is not a gossip port.
func (n *Node) diagnose(err error) error {
	var out []error
	for _, e := range unjoin(err) {
		var se *seedError
		if !errors.As(e, &se) || strings.HasPrefix(se.err.Error(), "cannot resolve") {
			out = append(out, e)
			continue
		}
		c, derr := net.DialTimeout("tcp", se.addr, time.Second)
		if derr != nil {
			out = append(out, fmt.Errorf("%s: nothing answers there (%w)", se.addr, derr))
			continue
		}
		c.Close()
		out = append(out, fmt.Errorf("%s: it accepts connections but does not answer this node's gossip: "+
			"a member with another secret or label, one refusing strangers' streams while under attack, "+
			"or not a gossip port (a data or HTTPS port?) (%w)", se.addr, se.err))
	}
	return errors.Join(out...)
}

// unjoin returns the errors errors.Join put together, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// answers reports whether a member with this node's name answers a probe at
// addr: a live process, not the stale entry of one that crashed.
func (n *Node) answers(addr *net.UDPAddr) bool {
	for range 2 { // a probe is one UDP packet; give a lost one a second chance
		if _, err := n.ml.Ping(n.name, addr); err == nil {
			return true
		}
	}
	return false
}

// conflicts hears from memberlist that another node claims a member's name
// from another address. It runs under memberlist's node lock: it only
// records the clash.
type conflicts struct{ n *Node }

func (c conflicts) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name != c.n.name {
		return // two others clash; their own nodes will say so
	}
	addr := &net.UDPAddr{IP: append(net.IP(nil), other.Addr...), Port: int(other.Port)}
	c.n.clash.Store(addr)
	c.n.logger.Warn("another process claims this member's name", "name", c.n.name, "at", addr.String())
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
