package main

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own, so that a Ctrl-C in
// the terminal reaches flood alone, which then stops the demo in order;
// and makes the kernel send it SIGTERM should flood die first (even by
// SIGKILL), which stops the demo and its nodes too.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// kill sends SIGKILL to process pid.
func kill(pid int) { syscall.Kill(pid, syscall.SIGKILL) }
