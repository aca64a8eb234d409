package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// The environment variables that carry a node's secrets. The runner hands
// them to its nodes in their environment, which only the same user can read
// and which is never written to disk.
const (
	envSecret     = "SESSIONMESH_SECRET"        // the cluster secret, sessionmesh.EncodeSecret's form
	envSecretSock = "SESSIONMESH_SECRET_SOCKET" // or the runner's socket that gives it (a node added by hand)
	envCert       = "SESSIONMESH_TLS_CERT"      // the HTTPS certificate chain, PEM
	envKey        = "SESSIONMESH_TLS_KEY"       // its private key, PEM (PKCS #8)
)

// nodeEnv returns base without any of our variables, plus the secret and the
// certificate: the environment of a node the runner starts.
func nodeEnv(base []string, secret []byte, cert tls.Certificate) ([]string, error) {
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("encode the certificate's key: %w", err)
	}
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	env := make([]string, 0, len(base)+3)
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if name != envSecret && name != envSecretSock && name != envCert && name != envKey {
			env = append(env, kv)
		}
	}
	return append(env,
		envSecret+"="+sessionmesh.EncodeSecret(secret),
		envCert+"="+string(chain),
		envKey+"="+string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
	), nil
}

// secretFromEnv reads the cluster secret from SESSIONMESH_SECRET, or asks
// the runner for it at the socket SESSIONMESH_SECRET_SOCKET names.
func secretFromEnv(getenv func(string) string) ([]byte, error) {
	s, sock := getenv(envSecret), getenv(envSecretSock)
	switch {
	case s != "" && sock != "":
		return nil, fmt.Errorf("set %s or %s, not both", envSecret, envSecretSock)
	case sock != "":
		text, err := askSecret(sock)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (is the demo still running?)", envSecretSock, err)
		}
		secret, err := sessionmesh.ParseSecret(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envSecretSock, err)
		}
		return secret, nil
	case s == "":
		return nil, fmt.Errorf("%s is not set: a node needs its cluster's secret (the runner prints the command that adds a node)", envSecret)
	}
	b, err := sessionmesh.ParseSecret(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envSecret, err)
	}
	return b, nil
}

// askSecret reads the secret the runner gives at the unix socket sock.
func askSecret(sock string) (string, error) {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(io.LimitReader(c, 1024))
	return string(b), err
}

// runnerSecret returns the secret SESSIONMESH_SECRET gives (fromEnv), or
// makes one.
func runnerSecret(getenv func(string) string) (secret []byte, fromEnv bool, err error) {
	if getenv(envSecret) == "" && getenv(envSecretSock) == "" {
		return sessionmesh.NewSecret(), false, nil
	}
	secret, err = secretFromEnv(getenv)
	return secret, true, err
}

// certFromEnv reads the HTTPS certificate and key, or makes a self-signed
// certificate if neither variable is set (a node added by hand).
func certFromEnv(getenv func(string) string) (tls.Certificate, error) {
	certPEM, keyPEM := getenv(envCert), getenv(envKey)
	switch {
	case certPEM == "" && keyPEM == "":
		cert, _, err := selfsigned.New()
		return cert, err
	case certPEM == "" || keyPEM == "":
		return tls.Certificate{}, fmt.Errorf("set both %s and %s, or neither", envCert, envKey)
	}
	cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s, %s: %w", envCert, envKey, err)
	}
	return cert, nil
}
