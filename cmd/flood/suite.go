package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"syscall"
	"time"
)

// The suite: start the demo, run every attack against one member while
// watching, print a table, stop the demo.

const suiteSynopsis = `
usage: flood suite [-demo PATH] [-d D] [-target NAME] [-run REGEXP] [-log FILE] [-v]

Starts the demo (cmd/demo), runs every attack in turn against one of its
nodes while watching the cluster, prints a Markdown table row per attack
and then the details, and stops the demo. Exits 0 if every attack met
its bounds, 1 if one did not (or the demo failed), 2 for a usage error.
`

// suiteOptions are the suite's flags.
type suiteOptions struct {
	demo    string
	d       time.Duration
	target  string
	run     *regexp.Regexp
	log     string
	verbose bool
}

func parseSuiteFlags(args []string, stdout io.Writer) (suiteOptions, error) {
	var o suiteOptions
	var run string
	fs := flag.NewFlagSet("flood suite", flag.ContinueOnError)
	fs.Usage = usage(fs, suiteSynopsis)
	fs.StringVar(&o.demo, "demo", "", "the demo executable to run (default: demo next to flood's executable, or one built with go build ./cmd/demo)")
	fs.DurationVar(&o.d, "d", 30*time.Second, "how long each attack lasts")
	fs.StringVar(&o.target, "target", "node-2", "the node every attack aims at")
	fs.StringVar(&run, "run", "", "run only the attacks whose names match this regular expression")
	fs.StringVar(&o.log, "log", "", "also write the demo's standard error (its nodes' logs) to this file")
	fs.BoolVar(&o.verbose, "v", false, "say how each attack stands every 5 seconds, on standard error")
	if err := parseFlags(fs, args, 0, stdout); err != nil {
		return o, err
	}
	if o.d < time.Second {
		return o, fmt.Errorf("-d %v: want at least 1s", o.d)
	}
	var err error
	if o.run, err = regexp.Compile(run); err != nil {
		return o, fmt.Errorf("-run %q: %v", run, err)
	}
	return o, nil
}

// runSuite is the suite subcommand; it returns the exit status.
func runSuite(args []string, stdout, stderr io.Writer) int {
	opts, err := parseSuiteFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "flood suite: %s\n", oneLine(err))
		return exitUsage
	}
	var attacks []attack
	for _, a := range catalog() {
		if opts.run.MatchString(a.name) {
			attacks = append(attacks, a)
		}
	}
	if len(attacks) == 0 {
		fmt.Fprintf(stderr, "flood suite: -run %q matches no attack (flood list lists them)\n", opts.run)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := suite(ctx, opts, attacks, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "flood suite: %s\n", oneLine(err))
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}

// suite runs attacks against a demo it starts and stops, and reports
// whether every attack met its bounds.
func suite(ctx context.Context, opts suiteOptions, attacks []attack, stdout, stderr io.Writer) (bool, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "flood-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	path, err := findDemo(ctx, opts.demo, dir, stderr)
	if err != nil {
		return false, err
	}
	st := &stage{path: path, target: opts.target, j: &journal{}, stderr: stderr}
	if opts.log != "" {
		f, err := os.Create(opts.log)
		if err != nil {
			return false, err
		}
		defer f.Close()
		st.logTo = f
	}
	if err := st.start(ctx); err != nil {
		return false, err
	}
	defer st.stop()
	fmt.Fprintf(stderr, "flood: %d attacks of %v at %s of a %d-node demo; load average %.2f on %d CPUs\n",
		len(attacks), opts.d, opts.target, len(st.w.scene.nodes), loadAverage(), runtime.NumCPU())

	var progress func(string)
	if opts.verbose {
		progress = func(line string) { fmt.Fprintf(stderr, "flood:   %s\n", line) }
	}
	fmt.Fprintln(stdout, tableHeader())
	var details []string
	allMet := true
	for _, a := range attacks {
		why := st.spoilt(ctx)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if why != "" {
			fmt.Fprintf(stderr, "flood: restarting the demo: %s\n", why)
			details = append(details, fmt.Sprintf("(the demo was restarted before %s: %s)", a.name, why))
			st.stop()
			if err := st.start(ctx); err != nil {
				return false, err
			}
		}
		from, err := parseSources(a.from)
		if err != nil {
			return false, err
		}
		fmt.Fprintf(stderr, "flood: %s\n", a.name)
		r := measure(ctx, st.w, a, from, opts.d, progress)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		fmt.Fprintln(stdout, tableLine(r.cells))
		details = append(details, r.details...)
		allMet = allMet && r.met
	}
	fmt.Fprintln(stdout)
	for _, l := range details {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintf(stdout, "\n%d attacks of %v in %v, %d demo starts; load average at the end %.2f on %d CPUs\n",
		len(attacks), opts.d, time.Since(start).Round(time.Second), st.starts, loadAverage(), runtime.NumCPU())
	return allMet, nil
}

// stage is the demo the suite attacks, and its watcher. An attack can leave
// a member holding memory the Go runtime returns only slowly, or a cluster
// that has not healed; the next attack gets a new demo rather than
// measuring from there.
type stage struct {
	path, target string
	j            *journal
	logTo        io.Writer // a copy of the nodes' logs, or nil
	stderr       io.Writer

	demo   *demoRun
	w      *watcher
	fresh  int64 // the target's RSS when the demo was new
	starts int
}

// restartAbove is how much more than when it was new the target may hold
// before an attack; beyond, the demo is restarted.
const restartAbove = 16 * mib

func (st *stage) start(ctx context.Context) error {
	d, err := startDemo(ctx, st.path, st.j, st.logTo)
	if err != nil {
		return err
	}
	s, err := newScene(d.nodes, st.target)
	if err != nil {
		d.stop()
		return err
	}
	st.demo, st.starts = d, st.starts+1
	st.w = &watcher{scene: s, j: st.j, status: newStatusClient()}
	if _, err := st.w.awaitWhole(ctx, wholeTimeout); err != nil {
		st.stop()
		return err
	}
	p, err := readProc(s.victim().pid)
	st.fresh = p.rss
	return err
}

func (st *stage) stop() {
	st.w.status.close()
	if err := st.demo.stop(); err != nil {
		fmt.Fprintf(st.stderr, "flood: %s\n", oneLine(err))
	}
}

// spoilt says why the demo should be restarted before the next attack, or
// "" if it need not be: the target holds restartAbove more than it did new,
// or the cluster is not whole within wholeTimeout.
func (st *stage) spoilt(ctx context.Context) string {
	if !st.demo.running() {
		return "it exited"
	}
	if _, err := st.w.awaitWhole(ctx, wholeTimeout); err != nil {
		return oneLine(err)
	}
	target := st.w.scene.victim()
	p, err := readProc(target.pid)
	if err != nil {
		return oneLine(err)
	}
	if p.rss > st.fresh+restartAbove {
		return fmt.Sprintf("%s holds %s, %s when it was new", target.name, formatMiB(p.rss), formatMiB(st.fresh))
	}
	return ""
}
