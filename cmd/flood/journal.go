package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"time"
)

// journal keeps what the cluster says, with the time each line arrived: the
// log lines (the nodes' standard error, which the demo's runner passes on,
// each line prefixed with "[<node>] ") and the runner's news of rings and
// exits (ring and down lines on its standard output). A watch counts what
// arrived during its window. It is safe for concurrent use.
type journal struct {
	mu   sync.Mutex // guards logs and news
	logs []entry
	news []dated
}

// entry is a log line and when it arrived.
type entry struct {
	at   time.Time
	text string
}

// dated is a piece of news and when it arrived.
type dated struct {
	at time.Time
	news
}

// maxLine is how much of a log line the journal keeps: a flood of long
// lines must not cost the watch more than the lines are worth.
const maxLine = 300

// log records a log line.
func (j *journal) log(text string) {
	if len(text) > maxLine {
		text = text[:maxLine] + "…"
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.logs = append(j.logs, entry{time.Now(), text})
}

// out records a line of the runner's standard output, if it is news.
func (j *journal) out(text string) {
	n, ok := parseNews(text)
	if !ok {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.news = append(j.news, dated{time.Now(), n})
}

// mark is a place in a journal.
type mark struct{ logs, news int }

// mark returns the place now.
func (j *journal) mark() mark {
	j.mu.Lock()
	defer j.mu.Unlock()
	return mark{len(j.logs), len(j.news)}
}

// since returns what arrived after m.
func (j *journal) since(m mark) ([]entry, []dated) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]entry(nil), j.logs[m.logs:]...), append([]dated(nil), j.news[m.news:]...)
}

// lines calls f with each line r gives, without its newline, until r ends.
// A line longer than the scanner takes is cut, not lost.
func lines(r io.Reader, f func(string)) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			f(string(bytes.TrimRight(line, "\r\n")))
			for err == bufio.ErrBufferFull { // the rest of a long line
				line, err = br.ReadSlice('\n')
			}
		}
		if err != nil {
			return
		}
	}
}

// follow calls f with each line appended to the file at path from now on,
// until ctx is done: tail -f, for a demo whose output goes to files. The
// returned channel is closed when it has stopped.
func follow(ctx context.Context, path string, f func(string)) (done <-chan struct{}, err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := file.Seek(0, io.SeekEnd); err != nil {
		file.Close()
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer file.Close()
		var partial []byte
		buf := make([]byte, 64<<10)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			n, err := file.Read(buf)
			partial = append(partial, buf[:n]...)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 && len(partial) < 64<<10 {
					break
				}
				if i < 0 { // a line longer than anyone reads: cut it
					i = len(partial) - 1
				}
				f(string(bytes.TrimRight(partial[:i], "\r\n")))
				partial = partial[i+1:]
			}
			if n > 0 && err == nil {
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return stopped, nil
}
