package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// exitUsage is the exit status for a usage error, as the flag package uses.
const exitUsage = 2

// parseFlags parses args with fs. A bad flag is one error line, not the flag
// package's usage dump; -h prints the usage on stdout and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return err
	}
	if err != nil {
		return fmt.Errorf("%v (-h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (-h lists the flags)", fs.Arg(0))
	}
	return nil
}

// usage returns a flag.FlagSet.Usage function that prints synopsis, then the flags.
func usage(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		fmt.Fprintln(fs.Output(), strings.TrimSpace(synopsis))
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
}

// modeOptions are the flags the runner and the node share: how sessions are
// shared, and how much the nodes log. The runner passes them on to its nodes.
type modeOptions struct {
	resumption resumption    // set by validate from the -resumption text
	rotation   time.Duration // -ticket-rotation
	verbose    bool          // -v

	resumptionFlag string
}

func (m *modeOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&m.resumptionFlag, "resumption", string(cacheMode),
		"how the nodes share sessions: cache (a distributed session cache), tickets (shared rotating ticket keys) or off (no resumption, for comparison)")
	fs.DurationVar(&m.rotation, "ticket-rotation", time.Hour,
		"ticket mode: how often the cluster's ticket key rotates; tickets stay valid for 24 rotations, at most a day")
	fs.BoolVar(&m.verbose, "v", false,
		"log debug detail to standard error (default: warnings and errors only)")
}

func (m *modeOptions) validate() error {
	r, err := parseResumption(m.resumptionFlag)
	if err != nil {
		return err
	}
	m.resumption = r
	if m.rotation < time.Second {
		return fmt.Errorf("-ticket-rotation %v: must be at least 1s", m.rotation)
	}
	return nil
}

// args returns the flags that give a node the same options.
func (m *modeOptions) args() []string {
	a := []string{"-resumption", string(m.resumption), "-ticket-rotation", m.rotation.String()}
	if m.verbose {
		a = append(a, "-v")
	}
	return a
}
