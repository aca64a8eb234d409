package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// tlsServer serves TLS handshakes (and nothing else) on 127.0.0.1 until the test ends.
func tlsServer(t *testing.T) string {
	t.Helper()
	cert, _, err := selfsigned.New(serverName)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestRawHello: crypto/tls's own server reads the hand-made ClientHello,
// and goes on with a full handshake whatever identities it offers.
func TestRawHello(t *testing.T) {
	addr := tlsServer(t)
	from, _ := parseSources("127.0.0.2")
	for _, n := range []int{1, 5, 50} {
		ids := make([][]byte, n)
		for i := range ids {
			ids[i] = make([]byte, 32)
			rand.Read(ids[i])
		}
		a, err := rawHello(context.Background(), from, addr, ids)
		if err != nil || a != fullHandshake {
			t.Errorf("%d identities: %v, %v; want a full handshake", n, a, err)
		}
	}
	big := make([]byte, 15000) // a ClientHello of two records
	a, err := rawHello(context.Background(), from, addr, [][]byte{big})
	if err != nil || a != fullHandshake {
		t.Errorf("one 15,000-byte identity: %v, %v; want a full handshake", a, err)
	}
}

// TestParseServerHello reads ServerHellos made by hand.
func TestParseServerHello(t *testing.T) {
	hello := func(random []byte, exts ...uint16) []byte {
		body := append([]byte{3, 3}, random...)
		body = append(body, 0, 0x13, 0x01, 0) // empty session ID, a cipher suite, no compression
		var e []byte
		for _, x := range exts {
			e = binary.BigEndian.AppendUint16(e, x)
			e = binary.BigEndian.AppendUint16(e, 2)
			e = append(e, 3, 4)
		}
		body = append(binary.BigEndian.AppendUint16(body, uint16(len(e))), e...)
		return append([]byte{typeServerHello, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	plain := make([]byte, 32)
	for _, tc := range []struct {
		name string
		rec  []byte
		want answer
		ok   bool
	}{
		{"full", hello(plain, extSupportedVersions, extKeyShare), fullHandshake, true},
		{"resumed", hello(plain, extSupportedVersions, extPreSharedKey, extKeyShare), pskAccepted, true},
		{"retry", hello([]byte(retryRandom), extSupportedVersions), retryRequest, true},
		{"cut short", hello(plain, extSupportedVersions)[:40], 0, false},
		{"not a ServerHello", []byte{11, 0, 0, 0}, 0, false},
	} {
		a, err := parseServerHello(tc.rec)
		if a != tc.want || (err == nil) != tc.ok {
			t.Errorf("%s: %v, %v; want %v, ok %v", tc.name, a, err, tc.want, tc.ok)
		}
	}
	// An alert is an alert, through readAnswer.
	c1, c2 := net.Pipe()
	go func() {
		c2.Write([]byte{recordAlert, 3, 3, 0, 2, 2, 40})
		c2.Close()
	}()
	if a, err := readAnswer(c1); a != alert || err != nil {
		t.Errorf("readAnswer of an alert = %v, %v", a, err)
	}
}
