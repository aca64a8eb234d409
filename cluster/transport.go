package cluster

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
)

// netTransport is memberlist's network: UDP for packets, TCP for streams, on
// one port, with the gate applied before memberlist sees anything. It does
// what memberlist.NetTransport does, but reads every packet into one reused
// buffer and checks it first: NetTransport allocates 64 KiB per packet, so a
// flood of junk cost a node more in garbage than in checks.
type netTransport struct {
	gate *gate
	udp  *net.UDPConn
	tcp  *net.TCPListener
	host string // the address bound, "0.0.0.0" for all interfaces

	packets chan *memberlist.Packet
	streams *streams
	closed  atomic.Bool
	wg      sync.WaitGroup // the listeners' goroutines
}

var _ memberlist.NodeAwareTransport = (*netTransport)(nil)

// udpBuffer is the receive buffer asked of the kernel for the UDP socket, so
// that a burst does not drop members' probes.
const udpBuffer = 4 << 20

// listenGossip opens the UDP and TCP listeners on host:port. Binding both to
// one free port is racy (another process may take the UDP port the kernel
// gave TCP): port 0 is tried a few times.
func listenGossip(host string, port int, g *gate) (*netTransport, error) {
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var t *netTransport
		if t, err = tryListen(host, port, g); err == nil {
			return t, nil
		}
	}
	return nil, fmt.Errorf("listen for gossip on %s: %w", joinHostPort(host, port), err)
}

func tryListen(host string, port int, g *gate) (*netTransport, error) {
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, fmt.Errorf("%q is not an IP address", host)
	}
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: tcp.Addr().(*net.TCPAddr).Port})
	if err != nil {
		tcp.Close()
		return nil, err
	}
	udp.SetReadBuffer(udpBuffer) // best effort: the kernel may cap it
	t := &netTransport{gate: g, udp: udp, tcp: tcp, host: host, packets: make(chan *memberlist.Packet)}
	t.streams = newStreams(g)
	t.wg.Add(2)
	go t.readPackets()
	go t.acceptStreams()
	return t, nil
}

// port returns the port bound.
func (t *netTransport) port() int { return t.tcp.Addr().(*net.TCPAddr).Port }

// FinalAdvertiseAddr returns the address other members reach this one at:
// the one given, else the address bound, or a private address of this host
// when bound to all interfaces.
func (t *netTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		a := net.ParseIP(ip)
		if a == nil {
			return nil, 0, fmt.Errorf("advertise address %q is not an IP address", ip)
		}
		if a4 := a.To4(); a4 != nil {
			a = a4
		}
		return a, port, nil
	}
	if t.host == "0.0.0.0" || t.host == "::" {
		private, err := sockaddr.GetPrivateIP()
		if err != nil {
			return nil, 0, fmt.Errorf("find a private address to advertise: %w", err)
		}
		if private == "" {
			return nil, 0, errors.New("no private address to advertise: set the advertise address")
		}
		return net.ParseIP(private), t.port(), nil
	}
	return t.tcp.Addr().(*net.TCPAddr).IP, t.port(), nil
}

func (t *netTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *netTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	to, err := net.ResolveUDPAddr("udp", a.Addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, to)
	return time.Now(), err
}

func (t *netTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *netTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *netTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", a.Addr, timeout)
}

func (t *netTransport) StreamCh() <-chan net.Conn { return t.streams.out }

// Shutdown closes the listeners and the streams being checked, and waits.
// memberlist calls it before it stops reading packets and streams, so the
// goroutines can hand over what they hold meanwhile.
func (t *netTransport) Shutdown() error {
	t.closed.Store(true)
	t.tcp.Close()
	t.udp.Close()
	t.wg.Wait()
	t.streams.close()
	return nil
}

// readPackets reads packets into one buffer, and hands memberlist a copy of
// those that authenticate.
func (t *netTransport) readPackets() {
	defer t.wg.Done()
	buf := make([]byte, 65536)
	var scratch []byte
	for {
		n, from, err := t.udp.ReadFrom(buf)
		now := time.Now()
		if err != nil {
			if t.closed.Load() {
				return
			}
			continue // a transient error (a too-large datagram, say)
		}
		var ok bool
		if ok, scratch = t.gate.packetOK(buf[:n], from, scratch); !ok {
			continue
		}
		t.packets <- &memberlist.Packet{Buf: append([]byte(nil), buf[:n]...), From: from, Timestamp: now}
	}
}

// acceptStreams hands each connection to the gate's checks.
func (t *netTransport) acceptStreams() {
	defer t.wg.Done()
	var delay time.Duration // backoff on accept errors, as net/http does
	for {
		c, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.closed.Load() {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t.gate.rejected.Add("gossip_accept_failed", "", err) // out of file descriptors, say
			time.Sleep(delay)
			continue
		}
		delay = 0
		t.streams.check(c)
	}
}

// streams runs the gate's stream checks, one goroutine per stream, and
// hands memberlist the streams that pass.
type streams struct {
	gate *gate
	out  chan net.Conn
	stop chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

func newStreams(g *gate) *streams {
	return &streams{gate: g, out: make(chan net.Conn), stop: make(chan struct{}), conns: make(map[net.Conn]struct{})}
}

// check takes a slot for c and checks it on a goroutine, or closes it.
func (s *streams) check(c net.Conn) {
	release, ok := s.gate.acquire(c)
	if !ok {
		c.Close()
		return
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		passed := s.gate.checkStream(c, func() { s.forget(c); release() })
		if passed == nil {
			s.forget(c)
			c.Close()
			release()
			return
		}
		select {
		case s.out <- passed:
		case <-s.stop:
			passed.Close()
		}
	}()
}

func (s *streams) forget(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// close cuts the streams still being checked, and waits for their goroutines.
func (s *streams) close() {
	close(s.stop)
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// gatedTransport applies the gate to a transport of the caller's
// (Config.Transport): unusual networks, and tests that cut the network.
type gatedTransport struct {
	memberlist.NodeAwareTransport
	gate    *gate
	packets chan *memberlist.Packet
	streams *streams
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newGatedTransport(inner memberlist.NodeAwareTransport, g *gate) *gatedTransport {
	t := &gatedTransport{NodeAwareTransport: inner, gate: g, packets: make(chan *memberlist.Packet),
		streams: newStreams(g), stop: make(chan struct{})}
	t.wg.Add(2)
	go t.forwardPackets()
	go t.forwardStreams()
	return t
}

func (t *gatedTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }
func (t *gatedTransport) StreamCh() <-chan net.Conn           { return t.streams.out }

// Shutdown shuts the inner transport down first: its listeners may be
// waiting to hand over a packet or a stream, which the forwarders take until
// it is done (memberlist reads from the gate until then).
func (t *gatedTransport) Shutdown() error {
	err := t.NodeAwareTransport.Shutdown()
	close(t.stop)
	t.wg.Wait()
	t.streams.close()
	return err
}

func (t *gatedTransport) forwardPackets() {
	defer t.wg.Done()
	var scratch []byte
	for {
		var p *memberlist.Packet
		select {
		case p = <-t.NodeAwareTransport.PacketCh():
		case <-t.stop:
			return
		}
		var ok bool
		if ok, scratch = t.gate.packetOK(p.Buf, p.From, scratch); !ok {
			continue
		}
		select {
		case t.packets <- p:
		case <-t.stop:
			return
		}
	}
}

func (t *gatedTransport) forwardStreams() {
	defer t.wg.Done()
	for {
		select {
		case c := <-t.NodeAwareTransport.StreamCh():
			t.streams.check(c)
		case <-t.stop:
			return
		}
	}
}
