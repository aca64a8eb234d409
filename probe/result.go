package probe

import (
	"crypto/tls"
	"net"
)

// Result is what became of one pair.
type Result struct {
	From, To string // the addresses: the session was made on From and offered to To

	// Resumed reports whether To resumed From's session.
	Resumed bool

	// Version is the TLS version of the connection to To. When a
	// connection failed, it is the version Config.Version asked for (0 if
	// it asked for none), so that String can say which version failed.
	Version uint16

	// Err says why a connection failed; nil if both connected, whatever
	// To did with the session.
	Err error

	// Note says why To did not resume, when nothing failed and the probe
	// can tell: From gave no session, or the client could not offer it.
	// Empty when To resumed, or when the probe cannot tell why not.
	Note string
}

// String is the verdict as the demo's probe command prints it:
// "Reused TLSv1.3" or "New TLSv1.2", or "Failed" followed by the version
// asked for, if one was ("Failed TLSv1.3").
func (r Result) String() string {
	switch {
	case r.Err != nil && r.Version != 0:
		return "Failed " + versionName(r.Version)
	case r.Err != nil:
		return "Failed"
	case r.Resumed:
		return "Reused " + versionName(r.Version)
	}
	return "New " + versionName(r.Version)
}

// OK reports whether every pair of different addresses in results resumed:
// whether the servers share sessions. The baseline pairs (an address with
// itself) do not count, unless there is nothing else: the results of one
// address are OK if it resumed its own session. No results are not OK.
func OK(results []Result) bool {
	cross := false
	for _, r := range results {
		cross = cross || r.From != r.To
	}
	for _, r := range results {
		if (r.From != r.To || !cross) && !r.Resumed {
			return false
		}
	}
	return len(results) > 0
}

// versionName names a TLS version the way openssl s_client does.
func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return tls.VersionName(v)
}

// whyNew is the Note of a pair that connected twice without resuming:
// first and second are the connections to from and to, gotSession whether
// from gave a session. Only causes that rule out resumption, whatever the
// servers do, make a note; sessionmesh's own refusals do not show here.
func whyNew(cfg Config, from, to string, first, second tls.ConnectionState, gotSession bool) string {
	if !gotSession {
		return from + " gave no session to offer (are session tickets off?)"
	}
	if first.Version != second.Version {
		return "the session is " + versionName(first.Version) + " and " + to + " spoke " + versionName(second.Version) + ": a session resumes only in its own version"
	}
	name := cfg.ServerName
	if name == "" {
		name, _, _ = net.SplitHostPort(to)
	}
	// crypto/tls offers a session only to a server its certificate was
	// valid for, so that a session cannot carry trust from one name to
	// another. Behind one ServerName it always is.
	if !cfg.InsecureSkipVerify && len(first.PeerCertificates) > 0 && first.PeerCertificates[0].VerifyHostname(name) != nil {
		return from + "'s certificate is not valid for " + name + ", so the client did not offer its session to " + to + " (set Config.ServerName to the name clients use)"
	}
	return ""
}
