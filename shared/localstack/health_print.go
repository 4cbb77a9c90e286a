package localstack

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// maxReasonWidth bounds a reason printed in the health table: a reason names what failed and
// can be long (an unknown object's keys); the JSON keeps it whole.
const maxReasonWidth = 100

// Print writes h as a compact text table: one section per signal.
func (h *Health) Print(w io.Writer) {
	win := time.Duration(h.WindowS) * time.Second
	fmt.Fprintf(w, "health at %s (window %s)\n", h.At.Local().Format("15:04:05"), win)

	fmt.Fprintf(w, "\ndead letters per minute, by reason\n")
	if len(h.DeadLetters) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, d := range h.DeadLetters {
		fmt.Fprintf(w, "  %s  %5d  %s\n", d.Minute.Local().Format("15:04"), d.Count, cut(d.Reason, maxReasonWidth))
	}
	if h.DeadLettersCut {
		fmt.Fprintf(w, "  ... more (the first %d rows are shown)\n", maxDeadLetterRows)
	}

	fmt.Fprintf(w, "\nsubscription backlog (as the stack's forwarders see it)\n")
	if len(h.Subscriptions) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, b := range h.Subscriptions {
		at := ""
		if b.AtLeast {
			at = ">="
		}
		name := b.Subscription[strings.LastIndex(b.Subscription, "/")+1:]
		fmt.Fprintf(w, "  %-16s unacked %s%d  oldest %s  in flight %d  acked %d  nacked %d  dead-lettered by Pub/Sub %d\n",
			name, at, b.Unacked, seconds(b.OldestUnackedAgeS), b.InFlight, b.Acked, b.Nacked, b.DeadLettered)
	}

	fmt.Fprintf(w, "\nstream (%s)\n", LeaseDoc)
	switch st := h.Stream; {
	case st == nil:
		fmt.Fprintln(w, "  not part of this stack")
	case st.State == "never":
		fmt.Fprintln(w, "  never run: no run has taken the lease")
	case st.State == "held":
		fmt.Fprintf(w, "  held by %s until %s (took it at %s)\n", st.Holder, clock(st.ExpiresAt), clock(st.AcquiredAt))
	default:
		fmt.Fprintf(w, "  idle for %s (the last run took the lease at %s, gave it up at %s)\n", seconds(st.IdleS), clock(st.AcquiredAt), clock(st.ExpiresAt))
	}

	fmt.Fprintf(w, "\nbackfill jobs running\n")
	if len(h.Jobs) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, j := range h.Jobs {
		fmt.Fprintf(w, "  %-22s %-8s %d/%d done  %d failed  %.1f tasks/s\n", j.JobID, j.State, j.Succeeded, j.Planned, j.Failed, j.RatePerSec)
	}

	fmt.Fprintf(w, "\nfunctions (answers in the window)\n")
	if len(h.Functions) == 0 {
		fmt.Fprintln(w, "  no requests")
	}
	for _, f := range h.Functions {
		fmt.Fprintf(w, "  %-16s %6d requests  %4d 5xx\n", f.Function, f.Requests, f.Errors5xx)
	}
	for _, p := range h.Problems {
		fmt.Fprintf(w, "\nproblem: %s\n", p)
	}
}

func cut(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("15:04:05")
}
