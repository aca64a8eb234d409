package status_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sessionmesh/sessionmesh/internal/headless"
)

// The status page is for people, so these tests open it in a real browser,
// a headless Chromium, and read what it rendered.

// rendered is what a browser shows of the status page.
type rendered struct {
	Title    string   `json:"title"`
	Members  []string `json:"members"`  // the names in the members table, as rendered
	Rate     string   `json:"rate"`     // the resumption rate's big number
	Detail   string   `json:"detail"`   // the line under it
	Sections []string `json:"sections"` // the ids of the cards, in order
	Links    []string `json:"links"`    // every link, resolved against the page's URL
}

const readPage = `({
	title: document.title,
	members: Array.from(document.querySelectorAll('#members tbody td:first-child strong'), e => e.innerText),
	rate: document.querySelector('#resumption .big').innerText,
	detail: document.querySelector('#resumption .sub').innerText,
	sections: Array.from(document.querySelectorAll('main .card[id]'), e => e.id),
	links: Array.from(document.links, a => a.href),
})`

// open loads url in a new tab of browser, waits until the page shows its
// members and its resumption rate, and returns what it shows, every URL the
// tab requested, and every problem the browser reported on the way: console
// errors, uncaught exceptions, error log entries, failed loads and HTTP
// errors.
func open(t *testing.T, browser context.Context, url string) (page rendered, requested, problems []string) {
	t.Helper()
	tab, closeTab := chromedp.NewContext(browser)
	defer closeTab()

	var mu sync.Mutex // guards requested and problems, appended to on the tab's reading goroutine
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	err := chromedp.Listen(tab, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				report("console.error(%s)", strings.Join(args, ", "))
			}
		case *runtime.EventExceptionThrown:
			report("uncaught exception: %s", ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				report("browser log: %s (%s)", ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			report("loading failed: %s %s", ev.Type, ev.ErrorText)
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				report("%s: HTTP %d", ev.Response.URL, ev.Response.Status)
			}
		case *network.EventRequestWillBeSent:
			mu.Lock()
			requested = append(requested, ev.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#members tbody tr")),
		chromedp.WaitVisible(chromedp.CSS("#resumption .big")),
	); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	// Listen's func has seen every event that came before this answer.
	page, err = chromedp.Run(ctx, chromedp.Evaluate[rendered](readPage))
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return page, slices.Clone(requested), slices.Clone(problems)
}

// TestPageInBrowser: a live cluster's status page, mounted under a prefix,
// renders in Chromium with every member's name and the resumption rate the
// clients made, without a console error, an exception or a failed load, and
// asks for nothing outside the prefix. In cache mode it shows the ring, the
// sessions and the peer lookups; in ticket mode, with no store, it leaves
// them out and shows the ticket keys.
func TestPageInBrowser(t *testing.T) {
	browser := headless.Start(t)
	const prefix = "/debug/sessionmesh/"
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			m := startMember(t, mode)
			resumed, full := m.traffic(t)
			url := serve(t, prefix, m.status)

			page, requested, problems := open(t, browser, url)
			for _, p := range problems {
				t.Error(p)
			}
			base := strings.TrimSuffix(url, prefix)
			for _, u := range requested {
				if !strings.HasPrefix(u, url) && !strings.HasPrefix(u, "data:") {
					t.Errorf("the page asked for %s, outside %s", strings.TrimPrefix(u, base), prefix)
				}
			}
			for _, u := range page.Links {
				if !strings.HasPrefix(u, url) {
					t.Errorf("the page links to %s, outside %s", strings.TrimPrefix(u, base), prefix)
				}
			}

			if want := "node-1 · sessionmesh"; page.Title != want {
				t.Errorf("title %q, want %q", page.Title, want)
			}
			var names []string
			for _, nd := range m.c.Nodes {
				names = append(names, nd.Name)
			}
			if !slices.Equal(page.Members, names) {
				t.Errorf("members shown: %q, want %q", page.Members, names)
			}
			if want := fmt.Sprintf("%d%%", 100*resumed/(resumed+full)); page.Rate != want {
				t.Errorf("resumption rate shown: %q, want %q (%d resumed, %d full)", page.Rate, want, resumed, full)
			}
			if want := fmt.Sprintf("%d of %d handshakes resumed a session", resumed, resumed+full); page.Detail != want {
				t.Errorf("under the rate: %q, want %q", page.Detail, want)
			}
			want := map[string][]string{
				"cache":   {"resumption", "ring", "sessions", "latency", "handshakes", "members", "misses"},
				"tickets": {"resumption", "active-key", "handshakes", "members", "misses", "ticket-keys"},
			}[mode]
			if !slices.Equal(page.Sections, want) {
				t.Errorf("cards %q, want %q", page.Sections, want)
			}
		})
	}
}

// TestBrowserChecks: the checks of open are not blind: on a page that
// logs an error, throws, and loads an image that is not there, each shows.
func TestBrowserChecks(t *testing.T) {
	browser := headless.Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>
<section id="members"><table><tbody><tr><td><strong>x</strong></td></tr></tbody></table></section>
<section id="resumption"><div class="big">0%</div><div class="sub"></div></section>
<img src="/missing.png" alt="">
<script>console.error("broken"); throw new Error("thrown");</script>
</body></html>`)
	}))
	defer srv.Close()

	_, _, problems := open(t, browser, srv.URL+"/")
	all := strings.Join(problems, "\n")
	for _, want := range []string{`console.error("broken")`, "uncaught exception", "/missing.png: HTTP 404"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among the problems:\n%s", want, all)
		}
	}
}
