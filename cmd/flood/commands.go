package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const attackSynopsis = `
usage: flood attack -cluster FILE [-log FILE] [-target NAME] [-d D] [-from ADDRS] NAME

Runs the attack NAME (flood list lists them) against a demo you started,
with its output saved (demo > demo.out 2> demo.err), watching it as the
suite does, and prints the attack's table row and details. Exits 0 if the
attack met its bounds, 1 if not, 2 for a usage error.
`

// runAttack is the attack subcommand; it returns the exit status.
func runAttack(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var r remoteFlags
	var d time.Duration
	var from string
	fs := flag.NewFlagSet("flood attack", flag.ContinueOnError)
	fs.Usage = usage(fs, attackSynopsis)
	r.register(fs)
	fs.DurationVar(&d, "d", 30*time.Second, "how long the attack lasts")
	fs.StringVar(&from, "from", "", "the source addresses, 127.0.0.2 or a range such as 127.0.0.2-65 (default: the attack's own)")
	err := parseFlags(fs, args, 1, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = r.validate()
	}
	if err == nil && fs.NArg() == 0 {
		err = errors.New("which attack? (flood list lists them)")
	}
	var a attack
	if err == nil {
		a, err = find(fs.Arg(0))
	}
	if err == nil && from == "" {
		from = a.from
	}
	var src *sources
	if err == nil {
		src, err = parseSources(from)
	}
	if err != nil {
		fmt.Fprintf(stderr, "flood attack: %s\n", oneLine(err))
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fctx, cancel := context.WithCancel(ctx)
	w, wait, err := r.watch(fctx, stdin)
	if err != nil {
		cancel()
		fmt.Fprintf(stderr, "flood attack: %s\n", oneLine(err))
		return 1
	}
	defer wait()
	defer cancel()
	defer w.status.close()
	res := measure(ctx, w, a, src, d, func(line string) { fmt.Fprintf(stderr, "flood:   %s\n", line) })
	fmt.Fprintln(stdout, tableHeader())
	fmt.Fprintln(stdout, tableLine(res.cells))
	fmt.Fprintln(stdout)
	for _, l := range res.details {
		fmt.Fprintln(stdout, l)
	}
	if !res.met {
		return 1
	}
	return 0
}

const watchSynopsis = `
usage: flood watch -cluster FILE [-log FILE] [-target NAME] [-d D]

Watches a demo you started, with its output saved (demo > demo.out 2> demo.err),
while something else happens to it: says how the target stands every 5
seconds, and when -d has passed, or at Ctrl-C, what it saw.
`

// runWatch is the watch subcommand; it returns the exit status.
func runWatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var r remoteFlags
	var d time.Duration
	fs := flag.NewFlagSet("flood watch", flag.ContinueOnError)
	fs.Usage = usage(fs, watchSynopsis)
	r.register(fs)
	fs.DurationVar(&d, "d", time.Hour, "how long to watch")
	err := parseFlags(fs, args, 0, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = r.validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "flood watch: %s\n", oneLine(err))
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fctx, cancel := context.WithCancel(context.Background())
	w, wait, err := r.watch(fctx, stdin)
	if err != nil {
		cancel()
		fmt.Fprintf(stderr, "flood watch: %s\n", oneLine(err))
		return 1
	}
	defer wait()
	defer cancel()
	defer w.status.close()
	win := w.open(context.Background(), func(line string) { fmt.Fprintln(stdout, line) })
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	m := win.close()
	fmt.Fprintf(stdout, "watched %s for %.1fs:\n", w.scene.victim().name, m.took.Seconds())
	for _, l := range seen(w.scene, m) {
		fmt.Fprintln(stdout, l)
	}
	return 0
}

// runList is the list subcommand: the attacks, in the suite's order.
func runList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flood list", flag.ContinueOnError)
	fs.Usage = usage(fs, "usage: flood list\n\nLists the attacks, in the order the suite runs them.")
	err := parseFlags(fs, args, 0, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "flood list: %s\n", oneLine(err))
		return exitUsage
	}
	for _, a := range catalog() {
		fmt.Fprintf(stdout, "%-18s %s, %s, from %s; RSS bound +%s\n    %s\n", a.name, a.aim, a.size, a.from, formatMiB(a.rss), a.what)
	}
	return 0
}
