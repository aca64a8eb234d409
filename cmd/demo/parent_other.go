//go:build !unix

package main

import "os/exec"

// watchStdin does not watch anything where standard input cannot be read
// without blocking for good; nodes then outlive a runner that is killed, and
// the runner stops them by killing them.
func watchStdin() (ended <-chan struct{}, stop func(), err error) {
	return nil, func() {}, nil
}

// ownProcessGroup does nothing where there are no process groups.
func ownProcessGroup(*exec.Cmd) {}
