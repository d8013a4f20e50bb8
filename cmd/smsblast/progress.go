package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/store"
)

// progress shows a running send: a bar redrawn in place on a terminal,
// a structured log line every ten seconds otherwise.
type progress struct {
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

func (p *progress) stop() {
	p.stopOnce.Do(func() {
		close(p.quit)
		<-p.done
	})
}

// isTerminal reports whether w is a terminal (and not a test buffer).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *app) startProgress(ctx context.Context, st *store.Store, c *campaign.Campaign, eng *send.Engine) *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{})}
	var left int64 = -1
	if rem, err := st.Remaining(ctx, c.ID); err == nil {
		left = rem.Pending + rem.Sending
	}
	tty := isTerminal(a.stderr)
	every := 10 * time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		start := time.Now()
		var lastDone int64
		lastT := start
		rate := 0.0
		for {
			select {
			case <-p.quit:
				if tty {
					fmt.Fprint(a.stderr, "\r\033[K")
				}
				return
			case now := <-t.C:
				s := eng.Stats()
				done := s.Accepted + s.Failed + s.Skipped
				if dt := now.Sub(lastT).Seconds(); dt >= 1 || !tty {
					inst := float64(done-lastDone) / dt
					rate = 0.7*rate + 0.3*inst // smooth the display
					if rate < 0.01 {
						rate = inst
					}
					lastDone, lastT = done, now
				}
				eta, rateText := "…", "…"
				if now.Sub(start) >= time.Second {
					rateText = fmt.Sprintf("%.1f", rate)
				}
				if left > 0 && rate > 0 && now.Sub(start) >= time.Second {
					rest := float64(left-done) / rate
					eta = (time.Duration(max(rest, 0)) * time.Second).String()
				}
				if tty {
					fmt.Fprintf(a.stderr, "\r\033[K%s %d/%d  %s msg/s  ETA %s  (failed %d, skipped %d, in doubt %d)",
						bar(done, left, 24), done, left, rateText, eta, s.Failed, s.Skipped, s.InDoubt)
				} else {
					a.log.Info("progress", "campaign", c.Name, "done", done, "of", left,
						"rate", rateText, "eta", eta, "failed", s.Failed, "in_doubt", s.InDoubt)
				}
			}
		}
	}()
	return p
}

func bar(done, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("?", width) + "]"
	}
	n := int(min(done, total) * int64(width) / total)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
