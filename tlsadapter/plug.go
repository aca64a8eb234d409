package tlsadapter

import (
	"crypto/tls"
	"sync"
)

// hooks are the tls.Config fields an adapter sets: where sessions go and
// how handshakes are counted.
type hooks struct {
	wrap   func(tls.ConnectionState, *tls.SessionState) ([]byte, error)
	unwrap func([]byte, tls.ConnectionState) (*tls.SessionState, error)
	stats  *counters
}

// plug returns a copy of base (which may be nil) with h installed. When base
// picks another config per client (GetConfigForClient), crypto/tls runs the
// handshake on the config it returns, not on base: each returned config gets
// h installed too, or a server that chooses its config by server name would
// silently share no sessions and count no handshakes.
func plug(base *tls.Config, h hooks) *tls.Config {
	cfg := base.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	h.install(cfg)
	if get := cfg.GetConfigForClient; get != nil {
		plugged := &pluggedConfigs{h: h}
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := get(hello)
			if c == nil || err != nil {
				return c, err // nil: crypto/tls goes on with cfg itself
			}
			return plugged.get(c), nil
		}
	}
	return cfg
}

// install sets h's hooks on cfg, wrapping cfg's VerifyConnection.
func (h hooks) install(cfg *tls.Config) {
	cfg.WrapSession = h.wrap
	cfg.UnwrapSession = h.unwrap
	cfg.VerifyConnection = h.stats.counting(cfg.VerifyConnection)
}

// maxPlugged bounds how many distinct configs a GetConfigForClient may
// return before plugged copies are no longer kept: a callback that builds a
// new config per handshake gets a fresh copy each time instead of filling
// memory.
const maxPlugged = 256

// pluggedConfigs keeps one plugged copy of each config a GetConfigForClient
// returns, so that a server choosing among a few configs (one per server
// name, the usual case) clones each only once. Configs must not be modified
// once handed to crypto/tls, so a copy stays right.
type pluggedConfigs struct {
	h hooks

	mu     sync.Mutex // guards copies
	copies map[*tls.Config]*tls.Config
}

func (p *pluggedConfigs) get(c *tls.Config) *tls.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc, ok := p.copies[c]; ok {
		return pc
	}
	pc := c.Clone()
	// crypto/tls does not call the returned config's own GetConfigForClient.
	p.h.install(pc)
	if p.copies == nil {
		p.copies = make(map[*tls.Config]*tls.Config)
	}
	if len(p.copies) < maxPlugged {
		p.copies[c] = pc
	}
	return pc
}
