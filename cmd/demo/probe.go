package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The probe command: for every ordered pair of addresses, make a session on
// the first and offer it to the second (see the package doc).

const probeSynopsis = `
usage: demo probe [-servername NAME] [-k] [-tls1.2|-tls1.3] [-timeout D] ADDR ADDR...

For every ordered pair of addresses A, B (A to A too, as a baseline),
makes a TLS session on A and offers it to B, and prints whether B resumed it:
"probe A -> B: Reused TLSv1.3" or "New ..." ("Failed ..." if a connection
failed, with the reason on standard error). Exits 0 if every pair of
different addresses resumed, 1 if not. An ADDR without a port means port 443.
`

// probeOptions are the probe command's flags and arguments.
type probeOptions struct {
	serverName string
	insecure   bool
	version    uint16 // 0: whatever client and server agree on
	timeout    time.Duration
	addrs      []string
}

func parseProbeFlags(args []string, stdout io.Writer) (probeOptions, error) {
	var o probeOptions
	var tls12, tls13 bool
	fs := flag.NewFlagSet("demo probe", flag.ContinueOnError)
	fs.Usage = usage(fs, probeSynopsis)
	fs.StringVar(&o.serverName, "servername", "", "the server name (SNI) to ask every address for, as clients do behind a load balancer (default: each address's host)")
	fs.BoolVar(&o.insecure, "k", false, "do not verify the servers' certificates")
	fs.BoolVar(&tls12, "tls1.2", false, "use TLS 1.2 only")
	fs.BoolVar(&tls13, "tls1.3", false, "use TLS 1.3 only")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on each connection, from dialing to the server's last byte")
	// parseFlags refuses arguments; the addresses are arguments here.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return o, err
		}
		return o, fmt.Errorf("%v (-h lists the flags)", err)
	}
	switch {
	case tls12 && tls13:
		return o, errors.New("-tls1.2 and -tls1.3: choose one")
	case tls12:
		o.version = tls.VersionTLS12
	case tls13:
		o.version = tls.VersionTLS13
	}
	if o.timeout <= 0 {
		return o, fmt.Errorf("-timeout %v: must be positive", o.timeout)
	}
	if fs.NArg() == 0 {
		return o, errors.New("no address to probe (-h for usage)")
	}
	for _, a := range fs.Args() {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "443")
			if _, _, err := net.SplitHostPort(a); err != nil {
				return o, fmt.Errorf("%q: want host:port", a)
			}
		}
		o.addrs = append(o.addrs, a)
	}
	return o, nil
}

// runProbe is the probe command; it returns the exit status.
func runProbe(args []string, stdout, stderr io.Writer) int {
	opts, err := parseProbeFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo probe: %s\n", oneLine(err))
		return exitUsage
	}
	ok := true
	for _, a := range opts.addrs {
		for _, b := range opts.addrs {
			res := probePair(context.Background(), opts, a, b)
			switch {
			case res.err != nil:
				fmt.Fprintf(stderr, "demo probe: %s -> %s: %s\n", a, b, oneLine(res.err))
			case res.note != "":
				fmt.Fprintf(stderr, "demo probe: %s -> %s: %s\n", a, b, res.note)
			}
			fmt.Fprintf(stdout, "probe %s -> %s: %s\n", a, b, res)
			// The baseline says whether A resumes at all; the verdict is
			// about the cross pairs, or the baseline when it is alone.
			if a != b || len(opts.addrs) == 1 {
				ok = ok && res.resumed
			}
		}
	}
	if !ok {
		return 1
	}
	return 0
}

// probeResult is what became of one pair.
type probeResult struct {
	resumed bool
	version uint16 // of the connection to B; 0 if it failed
	err     error  // why a connection failed
	note    string // why B cannot have resumed, though nothing failed
}

// String is the end of the probe line: "Reused TLSv1.3", "New TLSv1.2",
// "Failed" (with the version that was asked for, if one was).
func (r probeResult) String() string {
	switch {
	case r.err != nil && r.version != 0:
		return "Failed " + versionName(r.version)
	case r.err != nil:
		return "Failed"
	case r.resumed:
		return "Reused " + versionName(r.version)
	}
	return "New " + versionName(r.version)
}

// probePair makes a session on a and offers it to b.
func probePair(ctx context.Context, o probeOptions, a, b string) probeResult {
	cache := new(oneSession)
	cfg := &tls.Config{
		ServerName:         o.serverName,
		InsecureSkipVerify: o.insecure,
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: cache,
	}
	if o.version != 0 {
		cfg.MinVersion, cfg.MaxVersion = o.version, o.version
	}
	fail := func(err error) probeResult { return probeResult{version: o.version, err: err} }
	if _, err := probeConnect(ctx, cfg, a, o.timeout); err != nil {
		return fail(fmt.Errorf("connect to %s: %w", a, err))
	}
	var note string
	if !cache.has() {
		note = a + " gave no session to offer (are session tickets off?)"
	}
	cs, err := probeConnect(ctx, cfg, b, o.timeout)
	if err != nil {
		return fail(fmt.Errorf("connect to %s: %w", b, err))
	}
	return probeResult{resumed: cs.DidResume, version: cs.Version, note: note}
}

// probeConnect handshakes with addr, then sends an HTTP HEAD request and
// reads until the server closes the connection or the timeout passes: a TLS
// 1.3 server sends its session ticket after the handshake, and the client
// takes it only as it reads. A server that does not speak HTTP costs the
// timeout, no more; what it answers does not matter, nor does a read error.
func probeConnect(ctx context.Context, cfg *tls.Config, addr string, timeout time.Duration) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	c := nc.(*tls.Conn)
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	host := cfg.ServerName
	if host == "" {
		host = addr
	}
	fmt.Fprintf(c, "HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: sessionmesh-probe\r\nConnection: close\r\n\r\n", host)
	io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	return c.ConnectionState(), nil
}

// oneSession is a client session cache that holds one session and offers
// it to every server, whatever its name or address: Go's own cache is keyed
// by server name, and the probe must offer A's session to B even when their
// names differ, the way a client behind a load balancer does.
type oneSession struct {
	mu sync.Mutex // guards s
	s  *tls.ClientSessionState
}

func (c *oneSession) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s, c.s != nil
}

// Put keeps the latest session; crypto/tls puts nil to forget a session
// that failed, which is ignored here: the next connection offers the
// session it was asked to.
func (c *oneSession) Put(_ string, s *tls.ClientSessionState) {
	if s == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = s
}

func (c *oneSession) has() bool {
	_, ok := c.Get("")
	return ok
}
