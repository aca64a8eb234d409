package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// sources are the local addresses an attack's connections and packets come
// from, taken in turn. On Linux every address of 127.0.0.0/8 is the loopback
// interface, so a client bound to 127.0.0.7 reaches a member on 127.0.0.1
// and looks, to the gossip gate and the data port's admission, like a
// stranger at 127.0.0.7: one address is one stranger, a range is many. The
// demo's members are all at 127.0.0.1, so a client there looks like a member.
type sources struct {
	ips  []net.IP
	next atomic.Uint64
}

// parseSources parses "127.0.0.2" (one address) or "127.0.0.2-65" (the
// addresses 127.0.0.2 to 127.0.0.65: the last number is the last address's
// last byte).
func parseSources(s string) (*sources, error) {
	first, last, isRange := strings.Cut(s, "-")
	ip := net.ParseIP(first).To4()
	if ip == nil {
		return nil, fmt.Errorf("source %q: want an IPv4 address, or a range such as 127.0.0.2-65", s)
	}
	end := int(ip[3])
	if isRange {
		n, err := strconv.Atoi(last)
		if err != nil || n < end || n > 255 {
			return nil, fmt.Errorf("source %q: want a range such as 127.0.0.2-65", s)
		}
		end = n
	}
	src := &sources{}
	for b := int(ip[3]); b <= end; b++ {
		src.ips = append(src.ips, net.IPv4(ip[0], ip[1], ip[2], byte(b)))
	}
	return src, nil
}

// pick returns the next address.
func (s *sources) pick() net.IP { return s.ips[(s.next.Add(1)-1)%uint64(len(s.ips))] }

func (s *sources) String() string {
	if len(s.ips) == 1 {
		return s.ips[0].String()
	}
	return fmt.Sprintf("%s-%d (%d addresses)", s.ips[0], s.ips[len(s.ips)-1].To4()[3], len(s.ips))
}

// dialTimeout bounds every connect of an attack: a member that takes longer
// to accept is counted, not waited for.
const dialTimeout = 5 * time.Second

// dial connects to addr over TCP from the next source address.
func (s *sources) dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout, LocalAddr: &net.TCPAddr{IP: s.pick()}}
	return d.DialContext(ctx, "tcp", addr)
}
