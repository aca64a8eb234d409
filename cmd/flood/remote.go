package main

import (
	"context"
	"errors"
	"flag"
	"io"
)

// The attack and watch commands work on a demo someone else started, with
// its output saved to files:
//
//	demo > demo.out 2> demo.err &

// remoteFlags are the flags that say where such a demo is.
type remoteFlags struct {
	cluster string // its standard output
	log     string // its standard error
	target  string
}

func (r *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.cluster, "cluster", "", "the demo's standard output, saved: its node lines say where the nodes are, its ring lines how membership changes; - for standard input")
	fs.StringVar(&r.log, "log", "", "the demo's standard error, saved: its nodes' log lines are counted (default: not counted)")
	fs.StringVar(&r.target, "target", "node-2", "the node to aim at")
}

func (r *remoteFlags) validate() error {
	if r.cluster == "" {
		return errors.New("-cluster: say where the demo's standard output is (-h for usage)")
	}
	return nil
}

// watch returns a watcher of the demo, following its files until ctx is
// done; wait waits for the following to stop.
func (r *remoteFlags) watch(ctx context.Context, stdin io.Reader) (w *watcher, wait func(), err error) {
	nodes, err := readNodes(r.cluster, stdin)
	if err != nil {
		return nil, nil, err
	}
	s, err := newScene(nodes, r.target)
	if err != nil {
		return nil, nil, err
	}
	j := &journal{}
	var dones []<-chan struct{}
	for _, f := range []struct {
		path string
		to   func(string)
	}{{r.cluster, j.out}, {r.log, j.log}} {
		if f.path == "" || f.path == "-" {
			continue
		}
		done, err := follow(ctx, f.path, f.to)
		if err != nil {
			return nil, nil, err
		}
		dones = append(dones, done)
	}
	wait = func() {
		for _, d := range dones {
			<-d
		}
	}
	return &watcher{scene: s, j: j, status: newStatusClient()}, wait, nil
}
