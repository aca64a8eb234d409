package cluster

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// PeerServerName is the DNS name in every peer certificate derived from a
// cluster secret. Peers verify it instead of a host name, because a member's
// address says nothing about who it is; the CA does.
const PeerServerName = "peer.sessionmesh.invalid"

const (
	leafLifetime = 24 * time.Hour
	leafRenew    = 8 * time.Hour // renew when less than this is left
	clockSkew    = time.Hour     // leaves are valid from an hour ago
)

// PeerTLSConfig returns a mutual-TLS configuration for the peer data channel,
// derived from the cluster secret. One value serves both ends of a connection:
// as a server it demands a client certificate, as a client it presents one, and
// either side accepts only a certificate issued by the cluster CA.
//
// The CA is an Ed25519 key derived from the secret with HKDF, so every node
// holds the same CA without anything being distributed or written to disk. Each
// node issues itself a short-lived leaf certificate (24 hours, renewed in
// memory) under its name, with a fresh key. TLS 1.3 is required, which gives the
// channel forward secrecy: a leaked secret lets an attacker join, but not
// decrypt traffic recorded earlier.
//
// The first secret issues certificates; the others are only trusted, which is
// how a cluster moves to a new secret without downtime (see docs/operations.md).
func PeerTLSConfig(name string, secrets ...[]byte) (*tls.Config, error) {
	if len(secrets) == 0 {
		return nil, errNoSecret
	}
	pool := x509.NewCertPool()
	var issuer *peerCA
	for i, s := range secrets {
		if err := checkSecret(s); err != nil {
			return nil, err
		}
		ca, err := newPeerCA(s)
		if err != nil {
			return nil, err
		}
		pool.AddCert(ca.cert)
		if i == 0 {
			issuer = ca
		}
	}
	l := &leafSource{ca: issuer, name: name, now: time.Now}
	if _, err := l.get(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Server side.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return l.get() },
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      pool,
		// Client side.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return l.get() },
		RootCAs:              pool,
		ServerName:           PeerServerName,
		// Peer connections are long-lived; resumption would only add state.
		SessionTicketsDisabled: true,
	}, nil
}

// peerCA is the certificate authority every node derives from one secret.
type peerCA struct {
	key  ed25519.PrivateKey
	cert *x509.Certificate
}

func newPeerCA(secret []byte) (*peerCA, error) {
	key := ed25519.NewKeyFromSeed(derive(secret, labelPeerCA))
	pub := key.Public().(ed25519.PublicKey)
	id := sha256.Sum256(pub)
	// Everything in the template is fixed and Ed25519 signatures are
	// deterministic, so every node builds a byte-identical CA certificate.
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(id[:16]),
		Subject:               pkix.Name{CommonName: "sessionmesh peer CA"},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          id[:20],
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("cluster: peer CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("cluster: peer CA: %w", err)
	}
	return &peerCA{key: key, cert: cert}, nil
}

// issue makes a leaf certificate for name, valid for both TLS roles.
func (ca *peerCA) issue(name string, now time.Time) (*tls.Certificate, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{PeerServerName},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(nil, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("cluster: peer certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// leafSource hands out this node's leaf certificate, issuing a new one when
// the current one nears its end.
type leafSource struct {
	ca   *peerCA
	name string
	now  func() time.Time

	mu   sync.Mutex // guards leaf
	leaf *tls.Certificate
}

func (l *leafSource) get() (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.leaf != nil && now.Add(leafRenew).Before(l.leaf.Leaf.NotAfter) {
		return l.leaf, nil
	}
	leaf, err := l.ca.issue(l.name, now)
	if err != nil {
		if l.leaf != nil && now.Before(l.leaf.Leaf.NotAfter) {
			return l.leaf, nil // keep serving the old one; it is still valid
		}
		return nil, errors.Join(errors.New("cluster: cannot issue peer certificate"), err)
	}
	l.leaf = leaf
	return leaf, nil
}
