package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// A TLS 1.3 ClientHello written byte by byte, because crypto/tls offers
// only tickets it made itself: this one offers any PSK identities, with
// binders that cannot be right. A server that cannot use an identity must
// go on with a full handshake (RFC 8446, section 4.2.11), so its first
// answer must be a ServerHello that selects no PSK.

// answer is how a server answered a ClientHello.
type answer int

const (
	fullHandshake answer = iota // a ServerHello without pre_shared_key: a full handshake follows
	pskAccepted                 // a ServerHello that selected an identity: a resumption
	retryRequest                // a HelloRetryRequest: the server wants another key share, and goes on
	alert                       // the handshake failed
)

func (a answer) String() string {
	switch a {
	case fullHandshake:
		return "a full handshake"
	case pskAccepted:
		return "a resumption"
	case retryRequest:
		return "a HelloRetryRequest"
	}
	return "an alert"
}

// TLS extension types and a handshake's fixed values.
const (
	extServerName          = 0
	extSupportedGroups     = 10
	extSignatureAlgorithms = 13
	extPreSharedKey        = 41
	extSupportedVersions   = 43
	extPSKModes            = 45
	extKeyShare            = 51

	recordHandshake = 22
	recordAlert     = 21
	typeClientHello = 1
	typeServerHello = 2
	maxRecord       = 1 << 14
)

// retryRandom is the Random of a HelloRetryRequest (RFC 8446, section 4.1.3).
const retryRandom = "\xCF\x21\xAD\x74\xE5\x9A\x61\x11\xBE\x1D\x8C\x02\x1E\x65\xB8\x91" +
	"\xC2\xA2\x11\x16\x7A\xBB\x8C\x5E\x07\x9E\x09\xE2\xC8\xA8\x33\x9C"

// clientHello returns a TLS 1.3 ClientHello for server name sni offering
// the PSK identities ids, in records.
func clientHello(sni string, ids [][]byte) []byte {
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, body []byte) []byte { return append(u16(u16(b, typ), len(body)), body...) }
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}

	sn := append(u16(nil, len(sni)+3), 0) // the list's length; a host_name
	sn = append(u16(sn, len(sni)), sni...)
	var exts []byte
	exts = ext(exts, extServerName, sn)
	exts = ext(exts, extSupportedGroups, []byte{0, 2, 0, 0x1d})                                            // x25519
	exts = ext(exts, extSignatureAlgorithms, []byte{0, 8, 0x04, 0x03, 0x08, 0x04, 0x08, 0x07, 0x04, 0x01}) // ECDSA P-256, RSA-PSS, Ed25519, RSA
	exts = ext(exts, extSupportedVersions, []byte{2, 3, 4})                                                // TLS 1.3
	exts = ext(exts, extPSKModes, []byte{1, 1})                                                            // psk_dhe_ke
	exts = ext(exts, extKeyShare, append([]byte{0, 36, 0, 0x1d, 0, 32}, random(32)...))
	var identities, binders []byte
	for _, id := range ids {
		identities = binary.BigEndian.AppendUint32(append(u16(identities, len(id)), id...), 1000) // obfuscated age
		binders = append(append(binders, 32), random(32)...)
	}
	psk := append(u16(nil, len(identities)), identities...)
	psk = append(u16(psk, len(binders)), binders...)
	exts = ext(exts, extPreSharedKey, psk) // last, as the RFC requires

	body := []byte{3, 3}
	body = append(body, random(32)...)
	body = append(append(body, 32), random(32)...)                // legacy session ID
	body = append(body, 0, 6, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03) // the TLS 1.3 cipher suites
	body = append(body, 1, 0)                                     // no compression
	body = append(u16(body, len(exts)), exts...)
	msg := append([]byte{typeClientHello, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)

	var out []byte
	for len(msg) > 0 {
		n := min(len(msg), maxRecord)
		out = append(u16(append(out, recordHandshake, 3, 1), n), msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// rawHello sends a ClientHello offering ids to addr and returns the server's answer.
func rawHello(ctx context.Context, from *sources, addr string, ids [][]byte) (answer, error) {
	c, err := from.dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer abort(c)
	defer closeWith(ctx, c)()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(clientHello(serverName, ids)); err != nil {
		return 0, err
	}
	return readAnswer(c)
}

// readAnswer reads a server's first record and says what it is.
func readAnswer(r io.Reader) (answer, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	rec := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(r, rec); err != nil {
		return 0, err
	}
	switch hdr[0] {
	case recordAlert:
		return alert, nil
	case recordHandshake:
		return parseServerHello(rec)
	}
	return 0, fmt.Errorf("a record of type %d", hdr[0])
}

// parseServerHello says what a handshake record that should start with a
// ServerHello means.
func parseServerHello(rec []byte) (answer, error) {
	errShort := errors.New("a ServerHello cut short")
	if len(rec) < 4 || rec[0] != typeServerHello {
		return 0, errors.New("not a ServerHello")
	}
	b := rec[4:]
	if len(b) < 2+32+1 {
		return 0, errShort
	}
	if string(b[2:34]) == retryRandom {
		return retryRequest, nil
	}
	b = b[34:]
	if len(b) < 1+int(b[0])+2+1+2 {
		return 0, errShort
	}
	b = b[1+int(b[0])+2+1:] // session ID, cipher suite, compression
	n := int(binary.BigEndian.Uint16(b))
	if b = b[2:]; len(b) < n {
		return 0, errShort
	}
	for b = b[:n]; len(b) >= 4; {
		typ, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if typ == extPreSharedKey {
			return pskAccepted, nil
		}
		if len(b) < 4+l {
			return 0, errShort
		}
		b = b[4+l:]
	}
	return fullHandshake, nil
}
