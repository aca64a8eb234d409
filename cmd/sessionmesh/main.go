// Command sessionmesh runs sessionmesh outside a Go program.
//
// Usage:
//
//	sessionmesh sidecar [-name NAME] [-gossip HOST:PORT] [-data HOST:PORT] [-resp HOST:PORT] [-join ADDR]
//	                    [-requirepass-file PATH] [-default-ttl D] [-maxclients N] [-ticket-rotation D]
//	                    [-timing lan|local] [-join-timeout D] [-v]
//
// # The sidecar
//
// The sidecar is a member of a sessionmesh cluster, like one embedded in a Go
// server (same secret, same gossip and data ports), that serves the Redis
// protocol to a server next to it that is not written in Go: a Node.js
// server's newSession/resumeSession handlers store TLS sessions in it with
// any Redis client, and SESSIONMESH.TICKETKEY gives it the cluster's current
// ticket key in setTicketKeys's layout. Package resp documents the commands.
//
// The cluster secret comes from the environment, SESSIONMESH_SECRET (make one
// with `head -c 32 /dev/urandom | base64`, the same on every member). The
// Redis password, if any, from SESSIONMESH_REQUIREPASS or the file
// -requirepass-file names, never a flag (a flag shows in ps); like ssh with a
// private key, it refuses a file other users may read (chmod 600 it). Without
// a password the sidecar refuses a -resp address that is not loopback.
//
// Once it serves, the sidecar prints one line on standard output, which
// scripts may rely on:
//
//	sidecar <name> pid=<pid> resp=<host:port> gossip=<host:port> data=<host:port>
//
// SIGINT or SIGTERM stop it gracefully: it stops serving Redis clients, hands
// the sessions it holds to the other members, and leaves the cluster; it
// exits 0. An error is one line on standard error saying what to fix, and exit
// status 1; a usage error, exit status 2. Log records (slog text: warnings
// and errors, or everything with -v) go to standard error.
package main

import (
	"fmt"
	"io"
	"os"
)

// exitUsage is the exit status for a usage error, as the flag package uses.
const exitUsage = 2

const synopsis = `usage: sessionmesh sidecar [flags]   (sessionmesh sidecar -h lists them)

Runs a sessionmesh member that serves the Redis protocol, for servers not
written in Go (Node.js...). The cluster secret comes from SESSIONMESH_SECRET.`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, synopsis)
		return exitUsage
	}
	switch args[0] {
	case "sidecar":
		return runSidecar(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, synopsis)
		return 0
	}
	fmt.Fprintf(stderr, "sessionmesh: unknown command %q: the command is sidecar\n", args[0])
	return exitUsage
}
