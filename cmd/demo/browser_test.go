package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionmesh/sessionmesh/internal/headless"
)

// TestVisitsInBrowser: a real browser, which keeps one cookie for every
// port of 127.0.0.1 as it would for one site behind a load balancer, counts
// on from node to node at /visits, and starts again at 1 after a logout.
func TestVisitsInBrowser(t *testing.T) {
	browser := headless.Start(t, chromedp.Flag("ignore-certificate-errors", true)) // the demo's certificate is self-signed
	_, byName := startCluster(t, 3)
	var nodes []demoNode
	for i := range 3 {
		nodes = append(nodes, byName[fmt.Sprintf("node-%d", i+1)])
	}
	visit := func(n demoNode, want int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate("https://"+n.tls+"/visits")); err != nil {
			t.Fatalf("visit %d on %s: %v", want, n.name, err)
		}
		body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatalf("visit %d on %s: %v", want, n.name, err)
		}
		var got struct {
			Node   string
			Visits int
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.Node != n.name || got.Visits != want {
			t.Fatalf("visit on %s shows %q, want visit %d there (%v)", n.name, body, want, err)
		}
	}
	count := 0
	for range 2 {
		for _, n := range nodes {
			count++
			visit(n, count)
		}
	}
	// Log out from the page, as a form's button would.
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/logout", {method: "POST"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 200 {
		t.Fatalf("logout: %d %v", status, err)
	}
	for i, n := range nodes {
		visit(n, i+1)
	}
}
