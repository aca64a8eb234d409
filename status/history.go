package status

import (
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// What a Status says about "the last minute" comes from samples of the
// member's counters, taken every sampleInterval and kept for a little over
// historyWindow: the counters only ever grow, so the difference between now
// and a sample a minute old is what happened in that minute.
const (
	sampleInterval = 5 * time.Second
	historyWindow  = time.Minute
	historyLen     = int(historyWindow/sampleInterval) + 1
)

// sample is a member's counters at one moment.
type sample struct {
	at      time.Time
	adapter tlsadapter.Stats
	latency store.Histogram // lookups at other members; empty without a store
}

// history is a ring of the latest samples. It is safe for concurrent use.
type history struct {
	mu      sync.Mutex // guards samples and next
	samples []sample   // at most historyLen, in a ring
	next    int        // where the next sample goes, once the ring is full
}

// add records s, which must be later than every sample already recorded,
// dropping the oldest when the ring is full.
func (h *history) add(s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.samples) < historyLen {
		h.samples = append(h.samples, s)
		return
	}
	h.samples[h.next] = s
	h.next = (h.next + 1) % historyLen
}

// since returns the samples taken at or after t, oldest first; if there are
// none, the latest sample alone (or nothing, before the first).
func (h *history) since(t time.Time) []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.samples)
	var out []sample
	for i := range n {
		s := h.samples[(h.next+i)%n]
		if !s.at.Before(t) {
			out = append(out, s)
		}
	}
	if len(out) == 0 && n > 0 {
		out = append(out, h.samples[(h.next+n-1)%n])
	}
	return out
}

// sampler takes a sample every sampleInterval, into a history, until stopped.
type sampler struct {
	quit chan struct{}
	done chan struct{}
}

// startSampler records take's sample at once (the start of the first
// minute) and then every sampleInterval, until stop.
func startSampler(h *history, take func() sample) *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	h.add(take())
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleInterval)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				h.add(take())
			}
		}
	}()
	return s
}

// stop stops the sampler and waits for it. It must be called once.
func (s *sampler) stop() {
	close(s.quit)
	<-s.done
}
