package main

import (
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/sessionmesh/sessionmesh"
)

// secretServer gives the cluster secret to a node added by hand, through a
// unix socket in the runner's private directory (mode 0700: only this user
// can reach it). The secret is never printed and never written to a file, so
// nothing of it is left behind, even when the runner is killed.
type secretServer struct {
	ln   net.Listener
	path string
	wg   sync.WaitGroup
}

// serveSecret listens in dir and answers every connection with secret.
func serveSecret(dir string, secret []byte) (*secretServer, error) {
	path := filepath.Join(dir, "secret.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	s := &secretServer{ln: ln, path: path}
	text := sessionmesh.EncodeSecret(secret) + "\n"
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			c.Write([]byte(text)) // a local socket: the write does not block
			c.Close()
		}
	}()
	return s, nil
}

// close stops serving, removes the socket and waits.
func (s *secretServer) close() {
	s.ln.Close()
	s.wg.Wait()
	os.Remove(s.path)
}
