package deckcheck

import (
	"github.com/chromedp/chromedp"
)

// Navigate loads url in the browser's tab.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.do("loading "+url, chromedp.Navigate(url))
}

// Do runs chromedp actions in the browser's tab; what names them in a failure.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.do(what, steps...)
}

// Eval evaluates a JavaScript expression in the page and decodes its value into out (nil
// ignores it). A promise is not awaited: have the page store its result and WaitFor it.
func (b *Browser) Eval(expr string, out any) {
	b.t.Helper()
	b.eval(expr, out)
}

// WaitFor polls a boolean expression until it holds, failing the test after a generous deadline.
func (b *Browser) WaitFor(what, expr string) {
	b.t.Helper()
	b.waitFor(what, expr)
}

// ConsoleErrors returns the console errors and exceptions the pages have logged so far.
func (b *Browser) ConsoleErrors() []string { return b.consoleErrors() }
