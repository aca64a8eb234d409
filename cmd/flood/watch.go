package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// watcher measures a cluster while something (an attack) happens to it: the
// memory, CPU and descriptors of each node's process, the log lines and
// news in the journal, each member's view of the cluster, and cross-node
// resumption.
type watcher struct {
	scene  scene
	j      *journal
	status *statusClient
}

// How often a window looks.
const (
	sampleEvery = 250 * time.Millisecond // /proc
	pollEvery   = time.Second            // each member's status
	probeEvery  = time.Second            // one cross-node resumption probe
)

// measurement is what a watcher saw in one window.
type measurement struct {
	took      time.Duration
	procs     []procStats // by node, in the scene's order
	peakReset bool        // VmHWM was reset at the start: procs' peaks are the window's, not the process's

	logs []entry // log lines, every node's
	news []dated // ring and down lines

	dead    []string // how members were seen declared dead, or gone
	suspect []string // how members were seen suspected
	polls   int      // status requests made
	silent  int      // of which got no answer

	probes probeCount

	rejected map[string]uint64 // what the target refused in the window, by kind (nil: not known)
	sessions string            // the target's sessions at the end, as its status says
	misses   []string          // sessions offered to a member that it did not resume, by member and reason
}

// procStats is one node's process over a window.
type procStats struct {
	before procSample // at the start, VmHWM reset to VmRSS if it could be
	peak   int64      // VmHWM at the end, or the most VmRSS sampled if more
	cpu    time.Duration
	cpuMax float64 // the most CPU used over one sample interval, in cores
	fdsMax int
	err    error // the process could not be read
}

// growth is how much the process's resident memory grew over the window, at its peak.
func (p procStats) growth() int64 { return p.peak - p.before.rss }

// window is a watch in progress.
type window struct {
	w      *watcher
	start  time.Time
	mark   mark
	cancel context.CancelFunc
	wg     sync.WaitGroup // the sampler, poller and prober

	mu        sync.Mutex // guards m, last, lastAt and seen
	m         measurement
	last      []procSample    // of each node, the sample CPU use is measured from
	lastAt    time.Time       // when it was taken
	seen      map[string]bool // dead and suspect observations already recorded
	rejected0 map[string]uint64
	// Each member's resumption misses, by reason: the first and the last
	// its status gave in the window. The probes see that a session was not
	// resumed; the member knows why.
	misses0, misses1 []map[string]uint64
}

// open starts a window. progress, if not nil, is called every few seconds
// with a line saying how things stand.
func (w *watcher) open(ctx context.Context, progress func(string)) *window {
	ctx, cancel := context.WithCancel(ctx)
	win := &window{w: w, cancel: cancel, seen: make(map[string]bool)}
	win.m.procs = make([]procStats, len(w.scene.nodes))
	win.misses0 = make([]map[string]uint64, len(w.scene.nodes))
	win.misses1 = make([]map[string]uint64, len(w.scene.nodes))
	win.last = make([]procSample, len(w.scene.nodes))
	win.m.peakReset = true
	for i, n := range w.scene.nodes {
		if n.pid == 0 {
			continue // a member in this process: nothing to sample apart
		}
		if resetPeak(n.pid) != nil {
			win.m.peakReset = false
		}
		s, err := readProc(n.pid)
		win.m.procs[i].before, win.m.procs[i].peak, win.m.procs[i].err = s, s.hwm, err
		win.last[i] = s
	}
	win.lastAt = time.Now()
	rctx, rcancel := context.WithTimeout(ctx, 2*statusTimeout)
	defer rcancel()
	win.rejected0, _ = w.status.rejected(rctx, w.scene.victim().tls)
	win.start, win.mark = time.Now(), w.j.mark()
	win.pollOnce(rctx) // the members' counters at the start
	win.wg.Go(func() { win.sample(ctx) })
	win.wg.Go(func() { win.poll(ctx, progress) })
	win.wg.Go(func() { win.probe(ctx) })
	return win
}

// close ends the window and returns what it saw.
func (win *window) close() measurement {
	win.cancel()
	win.wg.Wait()
	w := win.w
	win.m.took = time.Since(win.start)
	win.m.logs, win.m.news = w.j.since(win.mark)
	ctx, cancel := context.WithTimeout(context.Background(), 2*statusTimeout)
	defer cancel()
	win.pollOnce(ctx) // the state at the end, and the sessions
	if after, err := w.status.rejected(ctx, w.scene.victim().tls); err == nil && win.rejected0 != nil {
		win.m.rejected = make(map[string]uint64)
		for k, v := range after {
			if d := v - win.rejected0[k]; d > 0 {
				win.m.rejected[k] = d
			}
		}
	}
	for i, nd := range w.scene.nodes {
		for _, k := range slices.Sorted(maps.Keys(win.misses1[i])) {
			if d := win.misses1[i][k] - win.misses0[i][k]; d > 0 {
				win.m.misses = append(win.m.misses, fmt.Sprintf("%s %s %d", nd.name, k, d))
			}
		}
	}
	n := len(w.scene.nodes)
	for _, d := range win.m.news {
		switch {
		case d.down:
			win.m.dead = append(win.m.dead, fmt.Sprintf("%s exited at %s", d.name, win.at(d.at)))
		case d.nodes < n:
			win.m.dead = append(win.m.dead, fmt.Sprintf("%s's ring had %d of %d members at %s", d.name, d.nodes, n, win.at(d.at)))
		}
	}
	return win.m
}

// at says when t was, relative to the window's start.
func (win *window) at(t time.Time) string {
	return fmt.Sprintf("+%.1fs", t.Sub(win.start).Seconds())
}

// sample reads every node's process every sampleEvery.
func (win *window) sample(ctx context.Context) {
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			win.sampleOnce() // the last word, so that a short window has one
			return
		case <-tick.C:
			win.sampleOnce()
		}
	}
}

func (win *window) sampleOnce() {
	win.mu.Lock()
	defer win.mu.Unlock()
	// CPU use is measured over a second at least: /proc's times count in
	// hundredths, and a busy machine reads them late.
	now := time.Now()
	dt := now.Sub(win.lastAt).Seconds()
	rate := dt >= 1
	if rate {
		win.lastAt = now
	}
	for i, n := range win.w.scene.nodes {
		p := &win.m.procs[i]
		if n.pid == 0 || p.err != nil {
			continue
		}
		s, err := readProc(n.pid)
		if err != nil {
			p.err = err // exited; the news will say so
			continue
		}
		p.peak = max(p.peak, s.hwm, s.rss)
		p.cpu = s.cpu - p.before.cpu
		p.fdsMax = max(p.fdsMax, s.fds)
		if rate {
			p.cpuMax = max(p.cpuMax, (s.cpu-win.last[i].cpu).Seconds()/dt)
			win.last[i] = s
		}
	}
}

// poll asks every member for its status every pollEvery.
func (win *window) poll(ctx context.Context, progress func(string)) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		win.pollOnce(ctx)
		if progress != nil && i%5 == 0 {
			progress(win.progress())
		}
	}
}

func (win *window) pollOnce(ctx context.Context) {
	nodes := win.w.scene.nodes
	for i, n := range nodes {
		r, err := win.w.status.report(ctx, n.tls)
		if ctx.Err() != nil {
			return
		}
		win.mu.Lock()
		win.m.polls++
		if err != nil {
			win.m.silent++
			win.mu.Unlock()
			continue
		}
		if len(r.Members) < len(nodes) || r.Cluster.Dead > 0 {
			win.observeLocked(&win.m.dead, n.name+" dead",
				fmt.Sprintf("%s listed %d of %d members (%d dead) at %s", n.name, len(r.Members), len(nodes), r.Cluster.Dead, win.at(time.Now())))
		}
		for _, m := range r.Members {
			if m.State != "alive" {
				win.observeLocked(&win.m.suspect, n.name+" "+m.Name,
					fmt.Sprintf("%s saw %s %s at %s", n.name, m.Name, m.State, win.at(time.Now())))
			}
		}
		if win.misses0[i] == nil {
			win.misses0[i] = r.Counters.Misses
		}
		win.misses1[i] = r.Counters.Misses
		if i == win.w.scene.target && r.Sessions != nil {
			win.m.sessions = fmt.Sprintf("%d sessions, %.1f of %.0f MiB", r.Sessions.Held,
				float64(r.Sessions.Bytes)/mib, float64(r.Sessions.MaxBytes)/mib)
		}
		win.mu.Unlock()
	}
}

// observeLocked records what, the first time key is seen; win.mu must be held.
func (win *window) observeLocked(to *[]string, key, what string) {
	if !win.seen[key] {
		win.seen[key] = true
		*to = append(*to, what)
	}
}

// progress says how things stand, in a line.
func (win *window) progress() string {
	win.mu.Lock()
	defer win.mu.Unlock()
	t := win.w.scene.target
	p := win.m.procs[t]
	logs, _ := win.w.j.since(win.mark)
	return fmt.Sprintf("%s %s: peak RSS %s, fds %d, log lines %d, probes resumed %d/%d, dead %d, suspect %d",
		win.at(time.Now()), win.w.scene.nodes[t].name, formatMiB(p.peak), p.fdsMax, len(logs),
		win.m.probes.resumed, win.m.probes.total, len(win.m.dead), len(win.m.suspect))
}

// rejectedKinds returns the kinds of m.rejected in order, with their counts.
func (m measurement) rejectedKinds() string {
	if m.rejected == nil {
		return "not known (the target's /metrics did not answer)"
	}
	if len(m.rejected) == 0 {
		return "nothing"
	}
	s := ""
	for _, k := range slices.Sorted(maps.Keys(m.rejected)) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %s", k, formatCount(int64(m.rejected[k])))
	}
	return s
}
