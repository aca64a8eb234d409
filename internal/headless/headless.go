// Package headless starts a headless Chromium for tests that must see what
// a browser sees: the status page as rendered, cookies kept across the
// ports of one host.
package headless

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path returns the path of a headless Chromium. Without one the test is
// skipped, unless SESSIONMESH_REQUIRE_CHROMIUM=1 (as in CI) makes that a
// failure.
func Path(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium-headless-shell", "chromium"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("SESSIONMESH_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("no chromium-headless-shell or chromium on PATH, and SESSIONMESH_REQUIRE_CHROMIUM=1")
	}
	t.Skip("no chromium-headless-shell or chromium on PATH")
	return ""
}

// Start starts a headless Chromium with a profile of its own, for the test,
// and returns the context of its first tab. flags are more command-line
// flags (chromedp.Flag). The browser is gone, its process waited for, when
// the test ends.
func Start(t *testing.T, flags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	exe := Path(t)
	profile := t.TempDir() // removed after the browser stops: cleanups run last first
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	}, flags...)
	alloc, stopAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(stopAlloc)
	browser, stopBrowser := chromedp.NewContext(alloc)
	t.Cleanup(stopBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return browser
}
