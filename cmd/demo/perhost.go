package main

import (
	"net"
	"sync"
)

// maxConnsPerHost bounds a node's HTTPS connections from one IP address, so
// that one client cannot take all maxConns: 1,500 keep-alive connections
// from one address, each making a request every 10 s, used to keep every
// other client waiting in the backlog.
const maxConnsPerHost = 100

// perHostListener accepts at most max connections at once from each remote
// IP address, and closes the ones beyond it as soon as they are accepted.
type perHostListener struct {
	net.Listener
	max int

	mu   sync.Mutex
	open map[string]int // connections open, by remote IP
}

func limitPerHost(l net.Listener, max int) net.Listener {
	return &perHostListener{Listener: l, max: max, open: make(map[string]int)}
}

func (l *perHostListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := remoteHost(c)
		l.mu.Lock()
		ok := l.open[host] < l.max
		if ok {
			l.open[host]++
		}
		l.mu.Unlock()
		if ok {
			return &perHostConn{Conn: c, l: l, host: host}, nil
		}
		c.Close()
	}
}

func (l *perHostListener) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[host]--; l.open[host] <= 0 {
		delete(l.open, host)
	}
}

// remoteHost returns the IP address c comes from.
func remoteHost(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return c.RemoteAddr().String()
}

// perHostConn gives its place back once, when closed.
type perHostConn struct {
	net.Conn
	l    *perHostListener
	host string
	once sync.Once
}

func (c *perHostConn) Close() error {
	c.once.Do(func() { c.l.release(c.host) })
	return c.Conn.Close()
}
