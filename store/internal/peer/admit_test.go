package peer

import (
	"net"
	"strconv"
	"testing"
)

// TestAdmission: a stranger's address gets at most its share; strangers in
// all at most maxHandshakes; members' connections are admitted apart, while
// strangers hold every place they may.
func TestAdmission(t *testing.T) {
	a := newAdmission()
	a.isMember = func(ip string) bool { return ip == "10.0.0.1" }
	addr := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }
	var releases []func()
	admit := func(ip string) bool {
		r, ok := a.admit(addr(ip))
		if ok {
			releases = append(releases, r)
		}
		return ok
	}
	for i := range perSource {
		if !admit("192.0.2.1") {
			t.Fatalf("stranger's connection %d refused", i)
		}
	}
	if admit("192.0.2.1") {
		t.Error("a stranger got more than its share")
	}
	for i := 2; len(releases) < maxHandshakes; i++ {
		if !admit("192.0.2." + strconv.Itoa(i)) {
			t.Fatalf("a new stranger refused with %d places taken", len(releases))
		}
	}
	if admit("192.0.2.200") {
		t.Error("a stranger got a place beyond the strangers' share")
	}
	if !admit("10.0.0.1") {
		t.Error("a member refused while strangers hold their places")
	}
	for _, r := range releases {
		r()
		r() // twice is harmless
	}
	if a.pending != [2]int{0, 0} || len(a.bySource) != 0 {
		t.Errorf("after every release: pending %v, by source %v", a.pending, a.bySource)
	}
}
