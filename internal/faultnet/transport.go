package faultnet

import (
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Transport returns a memberlist transport for node on its own address and
// a free port, that drops gossip across a partition.
func (n *Network) Transport(node string) (memberlist.NodeAwareTransport, error) {
	ip := n.Add(node)
	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{ip},
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		return nil, err
	}
	t := &transport{
		net:     n,
		self:    node,
		ip:      ip,
		inner:   inner,
		packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn),
		stop:    make(chan struct{}),
	}
	t.wg.Add(2)
	go t.forwardPackets()
	go t.forwardStreams()
	return t, nil
}

type transport struct {
	net     *Network
	self    string
	ip      string
	inner   *memberlist.NetTransport
	packets chan *memberlist.Packet
	streams chan net.Conn
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.net.blocked(t.self, addr) {
		return time.Now(), nil // lost on the way, as UDP is
	}
	return t.inner.WriteTo(b, addr)
}

func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.net.blocked(t.self, addr) {
		return nil, fmt.Errorf("dial %s: %w", addr, ErrPartitioned)
	}
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(t.ip)}}
	return d.Dial("tcp", addr)
}

func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

func (t *transport) StreamCh() <-chan net.Conn { return t.streams }

func (t *transport) Shutdown() error {
	var err error
	t.once.Do(func() {
		close(t.stop)
		err = t.inner.Shutdown()
		t.wg.Wait()
	})
	return err
}

// forwardPackets passes on the packets that did not cross a partition.
func (t *transport) forwardPackets() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stop:
			return
		case p := <-t.inner.PacketCh():
			if t.net.blocked(t.self, p.From.String()) {
				continue
			}
			select {
			case t.packets <- p:
			case <-t.stop:
				return
			}
		}
	}
}

// forwardStreams passes on the connections that did not cross a partition.
func (t *transport) forwardStreams() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stop:
			return
		case c := <-t.inner.StreamCh():
			if t.net.blocked(t.self, c.RemoteAddr().String()) {
				c.Close()
				continue
			}
			select {
			case t.streams <- c:
			case <-t.stop:
				c.Close()
				return
			}
		}
	}
}
