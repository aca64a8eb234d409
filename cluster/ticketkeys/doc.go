// Package ticketkeys gives every member of a cluster the same TLS session
// ticket keys, rotates them, and never writes them to disk.
//
// In ticket mode the server encrypts the whole session state into the ticket
// it hands the client, so any server holding the key can resume the session
// and nothing is stored per session. The price is a long-lived secret: with
// TLS 1.2, whoever steals a ticket key decrypts every recorded session whose
// ticket it protected. So keys must be rotated often, kept only in memory,
// and spread to every node without a file to copy.
//
// # Rotation
//
// The oldest member taking part (by start time, then name; every member
// computes the same one) generates a fresh random 32-byte key every
// Config.Rotation. A key goes through three states:
//
//   - staged: every node can decrypt with it, none encrypts with it yet;
//   - active: new tickets are encrypted with it, on every node;
//   - retired: decrypt-only, until no ticket it made can still be valid.
//
// A new key becomes active when Config.Staging has passed since it was made
// and every member advertises (in a gossip tag) that it holds the same keys,
// so no node hands out a ticket another live node cannot decrypt. A key is
// dropped, and its bytes overwritten, a Rotation plus a Lifetime plus a
// Staging after it activated; with the defaults (hourly rotation, one-minute
// staging, 24-hour lifetime) a node holds about 26 keys. Each ticket names its
// key, so decrypting costs one key, not a trial of every one.
//
// # Convergence
//
// Keys travel on memberlist's encrypted gossip (cluster.Node.Share): a new key
// is broadcast at once, a joining node receives the whole set during Join,
// and push/pull anti-entropy repairs anything lost. Sets merge by union, minus
// keys whose time is up; a key never changes once made. Merging is therefore
// idempotent, commutative and associative: nodes that have seen the same keys
// hold the same set. After a partition each side has rotated on its own; when
// it heals, both sides hold both sides' keys, so every ticket either side
// issued still resumes anywhere until it expires, and the last key to
// activate becomes the one everybody encrypts with.
//
// # Failure
//
// If no new key can be made (the generating node is gone and failure
// detection has not noticed yet), the active key stays active past its time
// rather than leaving the cluster with none. Rotate makes a new key at once,
// from any node: for a key that may have leaked.
package ticketkeys
