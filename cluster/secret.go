package cluster

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MinSecretLen is the shortest cluster secret New accepts. NewSecret makes 32 bytes.
const MinSecretLen = 16

// Key derivation labels. Each purpose gets its own key, so no key is ever used
// for two things; bumping a label's version changes every derived key at once.
const (
	labelGossipKey = "sessionmesh/v1 gossip key"
	labelPeerCA    = "sessionmesh/v1 peer CA seed"
)

// NewSecret returns a fresh random 32-byte cluster secret.
func NewSecret() []byte {
	s := make([]byte, 32)
	rand.Read(s) // never fails; crashes the program if the OS has no randomness
	return s
}

// EncodeSecret returns s as unpadded URL-safe base64, the form ParseSecret reads
// (for environment variables and secret stores).
func EncodeSecret(s []byte) string { return base64.RawURLEncoding.EncodeToString(s) }

// ParseSecret decodes a secret written by EncodeSecret. Padding and standard
// base64 are accepted too.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("cluster: secret is not base64: %w", err)
	}
	if err := checkSecret(b); err != nil {
		return nil, err
	}
	return b, nil
}

var errNoSecret = errors.New("cluster: Config.Secret is empty: every node of a cluster needs the same secret (see NewSecret)")

func checkSecret(s []byte) error {
	if len(s) == 0 {
		return errNoSecret
	}
	if len(s) < MinSecretLen {
		return fmt.Errorf("cluster: secret is %d bytes, want at least %d", len(s), MinSecretLen)
	}
	return nil
}

// derive expands the cluster secret into a 32-byte key for one purpose.
func derive(secret []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, label, 32)
	if err != nil {
		panic("cluster: hkdf: " + err.Error()) // only for lengths > 255*32
	}
	return k
}
