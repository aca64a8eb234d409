package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// DefaultTimeout bounds each connection when Config.Timeout is not set.
const DefaultTimeout = 10 * time.Second

// Config configures a probe. The zero value probes with a fresh client,
// verifying certificates against the system roots, any TLS version from 1.2
// up, DefaultTimeout per connection.
type Config struct {
	// ServerName is the server name (SNI) asked of every address, and the
	// name each certificate is verified for, as one name is for every
	// server behind a load balancer. Empty: each address's own host.
	ServerName string

	// RootCAs, if not nil, are trusted instead of the system roots.
	RootCAs *x509.CertPool

	// InsecureSkipVerify skips certificate verification, for servers with
	// self-signed certificates. Anyone on the path can then answer for
	// the servers; use it only on a network you trust.
	InsecureSkipVerify bool

	// Version is tls.VersionTLS12 or tls.VersionTLS13 to probe that
	// version only. Zero: whatever client and server agree on, 1.2 or up.
	// Any other value fails every pair.
	Version uint16

	// Timeout bounds each connection, from dialing to the server's last
	// byte; a pair makes two. Zero or negative: DefaultTimeout.
	Timeout time.Duration
}

// Pair makes a session on from with a fresh client and offers it to to, and
// reports whether to resumed it. Addresses are host:port, as for net.Dial.
// Pair returns when both connections are done, or as soon as ctx is done:
// a pair that ctx cut short is Failed, and its Err wraps ctx.Err().
func Pair(ctx context.Context, from, to string, cfg Config) Result {
	r := Result{From: from, To: to}
	switch cfg.Version {
	case 0, tls.VersionTLS12, tls.VersionTLS13:
	default:
		r.Err = fmt.Errorf("probe: Version %s: want TLS 1.2, TLS 1.3 or 0 for either", tls.VersionName(cfg.Version))
		return r
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cache := new(oneSession)
	tc := &tls.Config{
		ServerName:         cfg.ServerName,
		RootCAs:            cfg.RootCAs,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: cache,
	}
	if cfg.Version != 0 {
		tc.MinVersion, tc.MaxVersion = cfg.Version, cfg.Version
	}
	fail := func(addr string, err error) Result {
		r.Version, r.Err = cfg.Version, fmt.Errorf("probe: connect to %s: %w", addr, err)
		return r
	}

	first, err := connect(ctx, tc, from, timeout)
	if err != nil {
		return fail(from, err)
	}
	// Asked now: the connection to to may put a session of its own.
	gotSession := cache.has()
	second, err := connect(ctx, tc, to, timeout)
	if err != nil {
		return fail(to, err)
	}
	r.Resumed, r.Version = second.DidResume, second.Version
	if !r.Resumed {
		r.Note = whyNew(cfg, from, to, first, second, gotSession)
	}
	return r
}

// All probes every ordered pair of addrs, one pair after another: for each
// a in addrs, for each b in addrs, Pair(ctx, a, b, cfg). The pairs of an
// address with itself are the baseline: whether it resumes its own
// sessions at all. All returns len(addrs)² results in that order, even when
// ctx is done (the rest are then Failed).
func All(ctx context.Context, addrs []string, cfg Config) []Result {
	results := make([]Result, 0, len(addrs)*len(addrs))
	for _, a := range addrs {
		for _, b := range addrs {
			results = append(results, Pair(ctx, a, b, cfg))
		}
	}
	return results
}
