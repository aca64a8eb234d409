package probe_test

import (
	"crypto/tls"
	"errors"
	"testing"

	"github.com/sessionmesh/sessionmesh/probe"
)

func TestResultString(t *testing.T) {
	failed := errors.New("refused")
	for _, tc := range []struct {
		r    probe.Result
		want string
	}{
		{probe.Result{Resumed: true, Version: tls.VersionTLS13}, "Reused TLSv1.3"},
		{probe.Result{Resumed: true, Version: tls.VersionTLS12}, "Reused TLSv1.2"},
		{probe.Result{Version: tls.VersionTLS12}, "New TLSv1.2"},
		{probe.Result{Version: tls.VersionTLS13, Note: "no session"}, "New TLSv1.3"},
		{probe.Result{Err: failed}, "Failed"},
		{probe.Result{Err: failed, Version: tls.VersionTLS13}, "Failed TLSv1.3"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestOK(t *testing.T) {
	pair := func(from, to string, resumed bool) probe.Result {
		return probe.Result{From: from, To: to, Resumed: resumed}
	}
	for _, tc := range []struct {
		name    string
		results []probe.Result
		want    bool
	}{
		{"nothing", nil, false},
		{"one address resumed", []probe.Result{pair("a", "a", true)}, true},
		{"one address new", []probe.Result{pair("a", "a", false)}, false},
		{"all resumed", []probe.Result{pair("a", "a", true), pair("a", "b", true), pair("b", "a", true), pair("b", "b", true)}, true},
		{"a cross pair new", []probe.Result{pair("a", "a", true), pair("a", "b", true), pair("b", "a", false), pair("b", "b", true)}, false},
		{"baselines do not count", []probe.Result{pair("a", "a", false), pair("a", "b", true), pair("b", "a", true), pair("b", "b", false)}, true},
		{"only baselines", []probe.Result{pair("a", "a", true), pair("b", "b", false)}, false},
	} {
		if got := probe.OK(tc.results); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
