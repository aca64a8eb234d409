package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// exitUsage is the exit status for a usage error, as the flag package uses.
const exitUsage = 2

// parseFlags parses args with fs and allows at most maxArgs arguments after
// the flags. A bad flag is one error line, not the flag package's usage dump;
// -h prints the usage on stdout and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int, stdout io.Writer) error {
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
	if fs.NArg() > maxArgs {
		return fmt.Errorf("unexpected argument %q (-h lists the flags)", fs.Arg(maxArgs))
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

// oneLine returns err's text on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
