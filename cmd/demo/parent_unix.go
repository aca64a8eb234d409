//go:build unix

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// watchStdin returns a channel that is closed when standard input reaches
// its end. The runner gives each node a pipe it never writes to, and closes
// it to stop the whole cluster; the end comes too when the runner exits,
// however it exits: even a SIGKILLed runner leaves no node behind. stop ends
// the watch and waits for it.
func watchStdin() (ended <-chan struct{}, stop func(), err error) {
	// A blocking read could not be interrupted; a non-blocking copy of the
	// descriptor goes through the runtime's poller, so Close ends the read.
	fd, err := syscall.Dup(0)
	if err != nil {
		return nil, nil, fmt.Errorf("watch standard input: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, nil, fmt.Errorf("watch standard input: %w", err)
	}
	f := os.NewFile(uintptr(fd), "stdin")
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(io.Discard, f) // until EOF, or an error such as the Close below
		close(ch)
	}()
	return ch, func() { f.Close(); <-done }, nil
}

// ownProcessGroup starts cmd in a process group of its own, so that a
// Ctrl-C in the terminal reaches the runner alone, which then stops its
// nodes together, instead of every node at once deciding on its own.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
