package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// syncWriter serialises writes to a stream several goroutines share. Each
// printf is one Write, so lines never interleave.
type syncWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) printf(format string, args ...any) {
	fmt.Fprintf(s, format, args...)
}

// prefixWriter passes whole lines to out, each with a prefix; a partial line
// waits for its end, or for flush. It is not safe for concurrent use: the
// runner hands one to each node's exec.Cmd as Stderr, whose single copying
// goroutine writes, and flushes it after Wait.
type prefixWriter struct {
	out    io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// flush writes a last line that has no newline.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *prefixWriter) emit(line []byte) {
	out := make([]byte, 0, len(p.prefix)+len(line))
	p.out.Write(append(append(out, p.prefix...), line...))
}
