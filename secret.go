package sessionmesh

import "github.com/sessionmesh/sessionmesh/cluster"

// NewSecret returns a fresh random 32-byte cluster secret. Make one once per
// cluster and give it to every member (EncodeSecret turns it into text).
func NewSecret() []byte { return cluster.NewSecret() }

// EncodeSecret returns a secret as unpadded URL-safe base64, the form
// ParseSecret reads, for environment variables and secret stores.
func EncodeSecret(secret []byte) string { return cluster.EncodeSecret(secret) }

// ParseSecret decodes a secret from base64 (standard or URL-safe, padded or
// not, surrounded by whitespace or not), as `head -c 32 /dev/urandom | base64`
// or `openssl rand -base64 32` print it. It refuses text that is not a
// secret: shorter than 32 bytes decoded, words (a passphrase), or bytes
// that are not random (cluster.ParseSecret has the rules), with an error
// that says how to make one. Hex text is read as base64, like any text.
func ParseSecret(s string) ([]byte, error) { return cluster.ParseSecret(s) }
