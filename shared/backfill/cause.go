package backfill

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxCauseBytes bounds a cause: what distinguishes a class of failure comes first.
const maxCauseBytes = 200

var (
	causeURL = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]*[^\s"'<>:,.;)]`)
	// A token with a digit in it, other than a number from 100 to 599 (an HTTP status), is an
	// id, a date, a page number, a count or a size: it varies between tasks that fail for one
	// cause.
	causeID = regexp.MustCompile(`[A-Za-z0-9_=+/-]*[0-9][A-Za-z0-9_=+/.:-]*`)
	causeWS = regexp.MustCompile(`\s+`)
)

// causeOf is the cause of a failure's reason: the reason with what varies between the tasks
// of one failure (URLs, ids, dates, counts) masked, so that failures group by the error's class
// and status rather than by the task they happened to.
func causeOf(reason string) string {
	c := causeURL.ReplaceAllString(reason, "<url>")
	c = causeID.ReplaceAllStringFunc(c, func(tok string) string {
		if n, err := strconv.Atoi(tok); err == nil && len(tok) == 3 && n >= 100 && n < 600 {
			return tok
		}
		return "<id>"
	})
	c = strings.TrimSpace(causeWS.ReplaceAllString(c, " "))
	if len(c) > maxCauseBytes {
		n := maxCauseBytes
		for n > 0 && !utf8.RuneStart(c[n]) {
			n--
		}
		c = c[:n]
	}
	return c
}
