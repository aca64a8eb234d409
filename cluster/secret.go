package cluster

import (
	"bytes"
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
//
// Text is what people type, so ParseSecret is stricter than the check of a
// Config.Secret: the secret must decode to at least 32 bytes (what
// EncodeSecret of NewSecret, or `head -c 32 /dev/urandom | base64`, gives),
// and the text must not read like words. Any text of letters and digits is
// valid base64, and decodes to bytes that look random: without these rules
// "CompanyName2026ProductionCluster" would pass as 24 random bytes.
//
// Hex (`openssl rand -hex 32`) is valid base64 too, and is read as base64,
// as every member reads it: a strong secret, but not the bytes a program
// that decodes hex would get. Use base64 for a secret other programs share.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if s == "" {
		return nil, fmt.Errorf("cluster: the secret to parse is empty: give every member the same 32 random bytes in base64: %s", makeOne)
	}
	if wordy(s) {
		return nil, fmt.Errorf("%w: the text reads like words (a passphrase?), not base64 of random bytes: %s", ErrWeakSecret, makeOne)
	}
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("cluster: secret is not base64 (what EncodeSecret writes; use NewSecret to make one): %w", err)
	}
	if err := checkSecret(b); err != nil {
		return nil, fmt.Errorf("%w (as decoded from base64)", err)
	}
	if len(b) < minParsedLen {
		return nil, fmt.Errorf("%w: it decodes to %d bytes; a secret written as text must be at least %d random bytes (%d characters of base64): %s", ErrWeakSecret, len(b), minParsedLen, base64.RawStdEncoding.EncodedLen(minParsedLen), makeOne)
	}
	return b, nil
}

// minParsedLen is the least length of a secret ParseSecret decodes: shorter
// text is too often a passphrase that happens to be base64.
const minParsedLen = 32

// wordy reports whether text reads like words: at least three quarters of
// it in runs of four or more lowercase letters ("ompany", "roduction"). Of a
// million base64 encodings of 32 random bytes, the wordiest had 64% of its
// characters in such runs; typical passphrases have 65 to 100%.
func wordy(text string) bool {
	inRuns, run := 0, 0
	for i := 0; i <= len(text); i++ {
		if i < len(text) && text[i] >= 'a' && text[i] <= 'z' {
			run++
			continue
		}
		if run >= 4 {
			inRuns += run
		}
		run = 0
	}
	return 4*inRuns >= 3*len(text)
}

var errNoSecret = errors.New("cluster: Config.Secret is empty: every node of a cluster needs the same secret (see NewSecret)")

// ErrWeakSecret means a secret is not random enough to be a cluster secret.
var ErrWeakSecret = errors.New("cluster: weak secret")

// makeOne says how to make a good secret, for every error about a bad one.
const makeOne = "use NewSecret, or ParseSecret of `head -c 32 /dev/urandom | base64`"

// checkSecret refuses a secret that is too short or obviously not random.
//
// The secret must resist offline guessing: anyone who can reach a data port
// gets a certificate signed by the CA derived from it, and can try
// candidates against that signature as fast as they can compute HKDF and an
// Ed25519 key. So a cluster secret must be random bytes, not something a
// person made up, and the check refuses what plainly is not:
//
//   - fewer than MinSecretLen (16) bytes;
//   - text: every byte printable ASCII. A password, a passphrase, or base64
//     or hex that was not decoded (ParseSecret decodes base64). 16 random
//     bytes are all printable with probability 1.3·10⁻⁷, 32 with 10⁻¹⁴;
//   - few distinct byte values (fewer than half of min(length, 64)) or a
//     repeating pattern: a key made by hand, or a buffer never filled.
//
// Random secrets are never stretched: with 128 bits or more of entropy no
// amount of guessing helps, and stretching a weak one only slows it down.
func checkSecret(s []byte) error {
	switch {
	case len(s) == 0:
		return errNoSecret
	case len(s) < MinSecretLen:
		return fmt.Errorf("%w: it is %d bytes, want at least %d random bytes (32 recommended): %s", ErrWeakSecret, len(s), MinSecretLen, makeOne)
	case isText(s):
		return fmt.Errorf("%w: it is printable text (a password, or base64 or hex not decoded?): a cluster secret must be random bytes: %s", ErrWeakSecret, makeOne)
	case distinct(s) < min(len(s), 64)/2 || periodic(s):
		return fmt.Errorf("%w: it repeats itself (only %d distinct byte values): a cluster secret must be random bytes: %s", ErrWeakSecret, distinct(s), makeOne)
	}
	return nil
}

func isText(s []byte) bool {
	for _, b := range s {
		if b < 0x20 || b > 0x7e {
			return false
		}
	}
	return true
}

func distinct(s []byte) int {
	var seen [256]bool
	n := 0
	for _, b := range s {
		if !seen[b] {
			seen[b] = true
			n++
		}
	}
	return n
}

// periodic reports whether s is a shorter sequence repeated.
func periodic(s []byte) bool {
	for p := 1; p <= len(s)/2; p++ {
		if bytes.Equal(s[p:], s[:len(s)-p]) {
			return true
		}
	}
	return false
}

// derive expands the cluster secret into a 32-byte key for one purpose.
func derive(secret []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, label, 32)
	if err != nil {
		panic("cluster: hkdf: " + err.Error()) // only for lengths > 255*32
	}
	return k
}
