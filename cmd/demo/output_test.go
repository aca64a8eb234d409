package main

import (
	"strings"
	"testing"
)

// TestPrefixWriter: whole lines come out prefixed, however the input is cut.
func TestPrefixWriter(t *testing.T) {
	var out strings.Builder
	w := &prefixWriter{out: &out, prefix: "[n] "}
	for _, chunk := range []string{"one\ntw", "o\n", "", "three\nfour"} {
		w.Write([]byte(chunk))
	}
	if got, want := out.String(), "[n] one\n[n] two\n[n] three\n"; got != want {
		t.Errorf("before flush: %q, want %q", got, want)
	}
	w.flush()
	if got, want := out.String(), "[n] one\n[n] two\n[n] three\n[n] four\n"; got != want {
		t.Errorf("after flush: %q, want %q", got, want)
	}
}
