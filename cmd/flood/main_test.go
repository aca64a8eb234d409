package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestUsage: the commands say how to call them, and a usage error is one
// line and exit status 2.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // a part of it
		stderr string // a part of it
	}{
		{"no command", nil, exitUsage, "", "usage: flood suite"},
		{"help", []string{"-h"}, 0, "flood attack -cluster FILE", ""},
		{"unknown command", []string{"storm"}, exitUsage, "", "usage:"},
		{"list", []string{"list"}, 0, "combo-same-host", ""},
		{"suite help", []string{"suite", "-h"}, 0, "-run", ""},
		{"suite bad flag", []string{"suite", "-d", "soon"}, exitUsage, "", "flood suite: invalid value"},
		{"suite short", []string{"suite", "-d", "10ms"}, exitUsage, "", "want at least 1s"},
		{"suite no match", []string{"suite", "-run", "^nothing$"}, exitUsage, "", "matches no attack"},
		{"attack without cluster", []string{"attack", "data-tcp"}, exitUsage, "", "-cluster"},
		{"attack unknown", []string{"attack", "-cluster", "x", "storm"}, exitUsage, "", `no attack called "storm"`},
		{"attack bad source", []string{"attack", "-cluster", "x", "-from", "::1", "data-tcp"}, exitUsage, "", "want an IPv4 address"},
		{"watch without cluster", []string{"watch"}, exitUsage, "", "-cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("flood %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
			// Without a command, the synopsis; after one, one line.
			if tc.code == exitUsage && strings.HasPrefix(stderr.String(), "flood ") && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("a usage error of %d lines, want one: %q", strings.Count(stderr.String(), "\n"), stderr.String())
			}
		})
	}
}

// TestCatalog: every attack has what the table and the docs need, a name
// of its own, and sources that parse.
func TestCatalog(t *testing.T) {
	seen := make(map[string]bool)
	for _, a := range catalog() {
		if a.name == "" || a.aim == "" || a.what == "" || a.size == "" || a.unit == "" || a.rss <= 0 || a.run == nil {
			t.Errorf("attack %q lacks something: %+v", a.name, a)
		}
		if seen[a.name] {
			t.Errorf("two attacks called %q", a.name)
		}
		seen[a.name] = true
		if _, err := parseSources(a.from); err != nil {
			t.Errorf("%s: %v", a.name, err)
		}
		if b, err := find(a.name); err != nil || b.name != a.name {
			t.Errorf("find(%q) = %q, %v", a.name, b.name, err)
		}
	}
}
