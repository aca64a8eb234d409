package scsstore_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/testmembers"
	"github.com/sessionmesh/sessionmesh/scsstore"
)

// scs.New starts a cleanup goroutine for the memstore it makes, which
// StopCleanup cannot stop right after New (the goroutine makes the channel
// StopCleanup sends on); every manager here replaces that memstore.
func TestMain(m *testing.M) {
	leakcheck.Main(m, goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}

// app is what each member serves: a page counter in an scs session, a login
// that renews the token, and a logout.
func app(m *sessionmesh.Member) http.Handler {
	sessions := scs.New()
	sessions.Store = scsstore.New(m.WebSessions())
	sessions.Cookie.Name = "session"
	sessions.Cookie.Secure = true
	mux := http.NewServeMux()
	mux.HandleFunc("GET /visits", func(w http.ResponseWriter, r *http.Request) {
		n := sessions.GetInt(r.Context(), "visits") + 1
		sessions.Put(r.Context(), "visits", n)
		json.NewEncoder(w).Encode(map[string]any{"node": m.Name(), "visits": n, "user": sessions.GetString(r.Context(), "user")})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.RenewToken(r.Context()); err != nil { // against session fixation
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sessions.Put(r.Context(), "user", r.FormValue("user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return sessions.LoadAndSave(mux)
}

type visit struct {
	Node   string
	Visits int
	User   string
}

func get(t *testing.T, c *http.Client, base string) visit {
	t.Helper()
	resp, err := c.Get(base + "/visits")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/visits: %s", base, resp.Status)
	}
	var v visit
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func post(t *testing.T, c *http.Client, url string, form url.Values) {
	t.Helper()
	resp, err := c.PostForm(url, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// visitAll visits every running member in turn, rounds times, and checks
// that the count goes on from want, one by one, whichever member answers.
func visitAll(t *testing.T, c *testmembers.Cluster, browser *http.Client, want, rounds int) int {
	t.Helper()
	for range rounds {
		for _, i := range c.Live() {
			v := get(t, browser, c.Servers[i].URL)
			if v.Visits != want {
				t.Fatalf("visit on %s: count %d, want %d", v.Node, v.Visits, want)
			}
			want++
		}
	}
	return want
}

// TestVisitsAcrossMembers: one user's session counts on from member to
// member, through a crash, the crashed member's return and the rebalance
// it sets off, and starts again at 1 after logout, everywhere.
func TestVisitsAcrossMembers(t *testing.T) {
	c := testmembers.Start(t, 3, app, nil)
	browser := c.Browser()
	next := visitAll(t, c, browser, 1, 3)

	name := c.Members[1].Name()
	c.Kill(1) // no hand-over: its copies are gone with it
	next = visitAll(t, c, browser, next, 3)
	c.Restart(1, name) // empty, under the same name: records move back to it
	next = visitAll(t, c, browser, next, 3)
	if next != 25 {
		t.Fatalf("after 24 visits the count is at %d", next-1)
	}

	post(t, browser, c.Servers[2].URL+"/logout", nil)
	visitAll(t, c, browser, 1, 2)
}

// TestRenewTokenSticks: the token a login replaced (scs's RenewToken, against
// session fixation) and the token a logout destroyed find nothing on any
// member, also after a member holding their copies crashes.
func TestRenewTokenSticks(t *testing.T) {
	c := testmembers.Start(t, 3, app, nil)
	browser := c.Browser()
	get(t, browser, c.Servers[0].URL)
	before := sessionCookie(t, browser, c.Servers[0].URL)

	post(t, browser, c.Servers[1].URL+"/login", url.Values{"user": {"alice"}})
	if v := get(t, browser, c.Servers[2].URL); v.User != "alice" || v.Visits != 2 {
		t.Fatalf("after login: %+v, want alice's second visit", v)
	}
	loggedIn := sessionCookie(t, browser, c.Servers[0].URL)
	if loggedIn == before {
		t.Fatal("login kept the token")
	}
	post(t, browser, c.Servers[0].URL+"/logout", nil)

	c.Kill(0)
	c.WaitRing()
	for _, token := range []string{before, loggedIn} {
		for _, i := range c.Live() {
			attacker := c.Browser()
			u, _ := url.Parse(c.Servers[i].URL)
			attacker.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: token}})
			if v := get(t, attacker, c.Servers[i].URL); v.Visits != 1 || v.User != "" {
				t.Errorf("an old token on %s: %+v, want a new session", v.Node, v)
			}
		}
	}
}

// TestConcurrentVisits: requests of one session on every member at once
// leave one value, on every member: the last one written.
func TestConcurrentVisits(t *testing.T) {
	c := testmembers.Start(t, 3, app, nil)
	browser := c.Browser()
	get(t, browser, c.Servers[0].URL)
	var wg sync.WaitGroup
	for _, srv := range c.Servers {
		for range 10 {
			wg.Go(func() {
				resp, err := browser.Get(srv.URL + "/visits")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("concurrent visit: %s", resp.Status)
				}
			})
		}
	}
	wg.Wait()
	// Each request read a count and wrote it plus one, so some writes
	// overwrote others (scs keeps whole sessions); but every member now
	// reads one count, and counts on from it.
	first := get(t, browser, c.Servers[0].URL)
	if first.Visits < 3 || first.Visits > 32 {
		t.Fatalf("count %d after 31 visits", first.Visits)
	}
	visitAll(t, c, browser, first.Visits+1, 2)
}

// TestStrangersCookies: a cookie no server made, however long or strange,
// is a new session, not an error.
func TestStrangersCookies(t *testing.T) {
	c := testmembers.Start(t, 1, app, nil)
	before := c.Members[0].Store().Stats().WebFinds
	for _, value := range []string{"x", strings.Repeat("A", 3000), "scs:session:" + strings.Repeat("z", 300),
		strings.Repeat("B", 42), strings.Repeat("C", 44), strings.Repeat("D", 42) + "."} {
		browser := c.Browser()
		u, _ := url.Parse(c.Servers[0].URL)
		browser.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: value}})
		if v := get(t, browser, c.Servers[0].URL); v.Visits != 1 {
			t.Errorf("cookie of %d bytes: %+v, want a new session", len(value), v)
		}
	}
	// None had the form of a token: none cost the cluster a lookup.
	if n := c.Members[0].Store().Stats().WebFinds - before; n != 0 {
		t.Errorf("strangers' cookies cost %d lookups", n)
	}
}

// TestWriteAfterLogout: a request that read the session before a logout
// (in another tab) and writes it after does not bring it back: its write
// is dropped without error, and the token finds nothing.
func TestWriteAfterLogout(t *testing.T) {
	c := testmembers.Start(t, 2, app, nil)
	st := scsstore.New(c.Members[0].WebSessions())
	token := strings.Repeat("t", 43)
	exp := time.Now().Add(time.Hour)
	ctx := context.Background()
	if err := st.CommitCtx(ctx, token, []byte("logged in"), exp); err != nil {
		t.Fatal(err)
	}
	if err := scsstore.New(c.Members[1].WebSessions()).DeleteCtx(ctx, token); err != nil {
		t.Fatal(err)
	}
	if err := st.CommitCtx(ctx, token, []byte("logged in, one more visit"), exp); err != nil {
		t.Errorf("a write after the logout: %v, want it dropped without error", err)
	}
	for _, m := range c.Members {
		if b, found, err := scsstore.New(m.WebSessions()).FindCtx(ctx, token); err != nil || found {
			t.Errorf("%s finds %q %v %v after the logout", m.Name(), b, found, err)
		}
	}
}

func sessionCookie(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "session" {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}
