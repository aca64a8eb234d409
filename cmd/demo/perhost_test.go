package main

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestLimitPerHost: connections beyond the limit from one address are
// closed at once; another address is not affected; a place given back is
// taken again.
func TestLimitPerHost(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := limitPerHost(inner, 2)
	defer l.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	closedAtOnce := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF || errors.Is(err, syscall.ECONNRESET)
	}

	dial("127.0.0.2")
	<-accepted
	dial("127.0.0.2")
	s2 := <-accepted
	if third := dial("127.0.0.2"); !closedAtOnce(third) {
		t.Fatal("a third connection from 127.0.0.2 was kept")
	}
	dial("127.0.0.1")
	if c := <-accepted; remoteHost(c) != "127.0.0.1" {
		t.Fatalf("accepted %s, want the connection from 127.0.0.1", c.RemoteAddr())
	}
	s2.Close() // the server ends one of 127.0.0.2's: its place is free
	dial("127.0.0.2")
	if c := <-accepted; remoteHost(c) != "127.0.0.2" {
		t.Fatalf("accepted %s, want 127.0.0.2's again", c.RemoteAddr())
	}
}
