package gorillastore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/gorillastore"
	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/testmembers"
	"github.com/sessionmesh/sessionmesh/store"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// hashKey signs the session cookies: the same on every member.
var hashKey = bytes.Repeat([]byte{7}, 32)

// app is what each member serves: a page counter in a gorilla session,
// and a logout that deletes it.
func app(m *sessionmesh.Member) http.Handler {
	store := gorillastore.New(m.WebSessions(), hashKey)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /visits", func(w http.ResponseWriter, r *http.Request) {
		session, err := store.Get(r, "session")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		n, _ := session.Values["visits"].(int)
		session.Values["visits"] = n + 1
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"node": m.Name(), "visits": n + 1})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		session, err := store.Get(r, "session")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := store.RenewID(r, w, session); err != nil { // against session fixation
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		session, err := store.Get(r, "session")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		session.Options.MaxAge = -1
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

type visit struct {
	Node   string
	Visits int
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

func visitAll(t *testing.T, c *testmembers.Cluster, browser *http.Client, want, rounds int) int {
	t.Helper()
	for range rounds {
		for _, i := range c.Live() {
			if v := get(t, browser, c.Servers[i].URL); v.Visits != want {
				t.Fatalf("visit on %s: count %d, want %d", v.Node, v.Visits, want)
			}
			want++
		}
	}
	return want
}

func cookie(t *testing.T, c *http.Client, base string) string {
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

// TestVisitsAcrossMembers: a session counts on from member to member,
// through a crash and the crashed member's return; after logout, its cookie
// is a new session on every member, also once a member has crashed.
func TestVisitsAcrossMembers(t *testing.T) {
	c := testmembers.Start(t, 3, app, nil)
	browser := c.Browser()
	next := visitAll(t, c, browser, 1, 2)
	name := c.Members[0].Name()
	c.Kill(0)
	next = visitAll(t, c, browser, next, 2)
	c.Restart(0, name)
	visitAll(t, c, browser, next, 2)

	old := cookie(t, browser, c.Servers[1].URL)
	resp, err := browser.PostForm(c.Servers[1].URL+"/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.Kill(2)
	c.WaitRing()
	for _, i := range c.Live() {
		replay := c.Browser()
		u, _ := url.Parse(c.Servers[i].URL)
		replay.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: old}})
		if v := get(t, replay, c.Servers[i].URL); v.Visits != 1 {
			t.Errorf("the logged-out cookie on %s: visit %d, want a new session", v.Node, v.Visits)
		}
	}
}

// TestRenewID: a login gives the session a new ID with its values; the
// cookie of the old ID finds nothing on any member.
func TestRenewID(t *testing.T) {
	c := testmembers.Start(t, 3, app, nil)
	browser := c.Browser()
	next := visitAll(t, c, browser, 1, 1)
	before := cookie(t, browser, c.Servers[0].URL)
	resp, err := browser.PostForm(c.Servers[1].URL+"/login", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	if after := cookie(t, browser, c.Servers[0].URL); after == before {
		t.Fatal("the login kept the session's ID")
	}
	visitAll(t, c, browser, next, 1)
	for _, i := range c.Live() {
		replay := c.Browser()
		u, _ := url.Parse(c.Servers[i].URL)
		replay.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: before}})
		if v := get(t, replay, c.Servers[i].URL); v.Visits != 1 {
			t.Errorf("the cookie from before the login on %s: visit %d, want a new session", v.Node, v.Visits)
		}
	}
}

// TestNewPanics: a store that would hand out forgeable cookies does not
// start.
func TestNewPanics(t *testing.T) {
	c := testmembers.Start(t, 1, app, nil)
	web := c.Members[0].WebSessions()
	for _, keys := range [][][]byte{nil, {nil}, {[]byte("short")}, {hashKey, []byte("ten bytes!")}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with keys of %d pairs did not panic", len(keys))
				}
			}()
			gorillastore.New(web, keys...)
		}()
	}
	gorillastore.New(web, hashKey, bytes.Repeat([]byte{1}, 32)) // a hash key and a block key
}

// TestForgedCookies: a cookie the hash key did not sign — garbage, or
// signed with another key — is a new session, and costs the cluster no
// lookup.
func TestForgedCookies(t *testing.T) {
	c := testmembers.Start(t, 1, app, nil)
	other, err := securecookie.EncodeMulti("session", "some-session-id", securecookie.CodecsFromPairs(bytes.Repeat([]byte{8}, 32))...)
	if err != nil {
		t.Fatal(err)
	}
	before := c.Members[0].Store().Stats().WebFinds
	for _, value := range []string{"x", strings.Repeat("A", 3000), other} {
		browser := c.Browser()
		u, _ := url.Parse(c.Servers[0].URL)
		browser.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: value}})
		if v := get(t, browser, c.Servers[0].URL); v.Visits != 1 {
			t.Errorf("a forged cookie: visit %d, want a new session", v.Visits)
		}
	}
	if st := c.Members[0].Store().Stats(); st.WebFinds != before {
		t.Errorf("forged cookies cost %d lookups", st.WebFinds-before)
	}
	// A cookie the server made costs one.
	browser := c.Browser()
	get(t, browser, c.Servers[0].URL)
	if v := get(t, browser, c.Servers[0].URL); v.Visits != 2 {
		t.Errorf("second visit: %d", v.Visits)
	}
	if st := c.Members[0].Store().Stats(); st.WebFinds != before+1 {
		t.Errorf("a real cookie cost %d lookups, want 1", st.WebFinds-before)
	}
}

// TestTooLarge: values over the limit are an error from Save, and the
// session keeps its last value.
func TestTooLarge(t *testing.T) {
	c := testmembers.Start(t, 1, app, nil)
	st := gorillastore.New(c.Members[0].WebSessions(), hashKey)
	r := httptest.NewRequest("GET", "/", nil)
	session, err := st.Get(r, "session")
	if err != nil {
		t.Fatal(err)
	}
	session.Values["blob"] = strings.Repeat("x", store.MaxWebValue)
	if err := session.Save(r, httptest.NewRecorder()); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Save of %d bytes: %v, want store.ErrTooLarge", store.MaxWebValue, err)
	}
}

// TestDefaults: new sessions' cookies are HttpOnly, Secure and SameSite Lax.
func TestDefaults(t *testing.T) {
	c := testmembers.Start(t, 1, app, nil)
	st := gorillastore.New(c.Members[0].WebSessions(), hashKey)
	want := sessions.Options{Path: "/", MaxAge: 86400 * 30, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
	if *st.Options != want {
		t.Errorf("Options %+v, want %+v", *st.Options, want)
	}
}

// flaky answers Find with an error: the members that may hold the session
// are out of reach.
type flaky struct{ gorillastore.Sessions }

func (flaky) Find(context.Context, string) ([]byte, bool, error) {
	return nil, false, errors.New("out of reach")
}

// TestLogoutWhenGetFailed: a handler that ignores Get's error and logs the
// user out still deletes the session its cookie names; a session deleted
// meanwhile stays deleted when an older request saves it.
func TestLogoutWhenGetFailed(t *testing.T) {
	c := testmembers.Start(t, 1, app, nil)
	web := c.Members[0].WebSessions()
	st := gorillastore.New(web, hashKey)

	save := func(st *gorillastore.Store, cookie *http.Cookie, maxAge int) (*http.Cookie, error) {
		r := httptest.NewRequest("GET", "/", nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		s, _ := st.Get(r, "session") // the error ignored, as some handlers do
		s.Values["visits"] = 1
		s.Options.MaxAge = maxAge
		w := httptest.NewRecorder()
		err := s.Save(r, w)
		for _, ck := range w.Result().Cookies() {
			return ck, err
		}
		return nil, err
	}
	cookie, err := save(st, nil, 3600)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	if err := securecookie.DecodeMulti("session", cookie.Value, &id, st.Codecs...); err != nil {
		t.Fatal(err)
	}
	// A request loads the session, and saves it only after the logout.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	loaded, err := st.Get(r, "session")
	if err != nil || loaded.IsNew {
		t.Fatalf("loading the session: new %v, %v", loaded.IsNew, err)
	}
	if _, err := save(gorillastore.New(flaky{web}, hashKey), cookie, -1); err != nil {
		t.Fatal(err)
	}
	if _, found, err := web.Find(context.Background(), gorillastore.Prefix+id); found || err != nil {
		t.Fatalf("after a logout whose Get failed, the session is still there: %v %v", found, err)
	}
	w := httptest.NewRecorder()
	if err := loaded.Save(r, w); err != nil {
		t.Fatalf("a save after the logout: %v, want it dropped without error", err)
	}
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("the save after the logout set cookies %+v, want the session's cleared", cs)
	}
	if _, found, _ := web.Find(context.Background(), gorillastore.Prefix+id); found {
		t.Error("the save after the logout brought the session back")
	}
}
