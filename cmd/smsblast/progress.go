package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress shows how far a long job has got (an import, a send) on stderr:
// on a terminal, one line redrawn in place four times a second, with a bar,
// the count, the rate and the ETA, and cleared when the job ends so that
// what follows starts on a clean line; elsewhere, a structured log line
// every ten seconds. Nothing shows in the first second: a job that quick
// needs no progress, and its rate would mean little.
type progress struct {
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// progressSample is how far the job has got, as its sample function reports it.
type progressSample struct {
	done  int64 // units done: rows read, recipients answered
	total int64 // units in all; 0 if unknown
	// read and size measure the share done when total is unknown: an
	// import knows how many bytes of how large a file it has read. size is
	// 0 if unknown (standard input).
	read, size int64
	// note ends the terminal line, e.g. "(failed 2, skipped 0, in doubt 1)",
	// and attrs end the log line.
	note  string
	attrs []any
}

// fraction is the share of the job done, or -1 if it is not known.
func (s progressSample) fraction() float64 {
	switch {
	case s.total > 0:
		return min(float64(s.done)/float64(s.total), 1)
	case s.size > 0:
		return min(float64(s.read)/float64(s.size), 1)
	}
	return -1
}

// Progress display timing.
const (
	progressQuiet   = time.Second            // nothing before this
	progressRedraw  = 250 * time.Millisecond // terminal line
	progressLogEach = 10 * time.Second       // log line elsewhere
	progressBarWide = 24
)

// startProgress shows the progress of a job on campaign until stop is
// called, calling sample for it at each redraw; unit names what sample
// counts ("rows", "msg"). sample is called from another goroutine.
func (a *app) startProgress(campaign, unit string, sample func() progressSample) *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{})}
	tty := isTerminal(a.stderr)
	every, gap := progressLogEach, time.Duration(0)
	if tty {
		// A rate measured over a quarter second jitters: measure it over
		// a second at least.
		every, gap = progressRedraw, time.Second
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		start := time.Now()
		m := &progressMeter{lastT: start}
		drawn := false
		for {
			select {
			case <-p.quit:
				if drawn {
					clearProgressLine(a.stderr)
				}
				return
			case now := <-t.C:
				s := sample()
				m.observe(now, s.done, gap)
				switch {
				case now.Sub(start) < progressQuiet:
				case tty:
					fmt.Fprintf(a.stderr, "\r\033[K%s", m.line(s, unit))
					drawn = true
				default:
					a.log.Info("progress", m.attrs(campaign, s)...)
				}
			}
		}
	}()
	return p
}

// noProgress is a progress that shows nothing.
func noProgress() *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{})}
	close(p.done)
	return p
}

// progressMeter turns samples into a smoothed rate and an ETA.
type progressMeter struct {
	lastT    time.Time
	lastDone int64
	rate     float64 // units per second
}

// observe takes done at now into the rate, unless the last one taken is
// less than gap ago.
func (m *progressMeter) observe(now time.Time, done int64, gap time.Duration) {
	dt := now.Sub(m.lastT)
	if dt < gap || dt <= 0 {
		return
	}
	inst := float64(done-m.lastDone) / dt.Seconds()
	if m.rate < 0.01 {
		m.rate = inst // the first measure, or after a standstill
	} else {
		m.rate = 0.7*m.rate + 0.3*inst // smooth the display
	}
	m.lastDone, m.lastT = done, now
}

// eta is the time left at the current rate, or "…" while it is unknown.
func (m *progressMeter) eta(s progressSample) string {
	frac := s.fraction()
	if frac <= 0 || m.rate <= 0 {
		return "…"
	}
	rest := float64(s.done) * (1 - frac) / frac
	if s.total > 0 {
		rest = float64(s.total - s.done)
	}
	return time.Duration(max(rest/m.rate, 0) * float64(time.Second)).Round(time.Second).String()
}

// line is the terminal's progress line:
// "[######..................]  25%  620/2507 msg  310.2 msg/s  ETA 6s  (failed 1, …)".
func (m *progressMeter) line(s progressSample, unit string) string {
	count := fmt.Sprintf("%d %s", s.done, unit)
	if s.total > 0 {
		count = fmt.Sprintf("%d/%d %s", s.done, s.total, unit)
	}
	line := fmt.Sprintf("%s  %.1f %s/s", count, m.rate, unit)
	if frac := s.fraction(); frac >= 0 {
		// Rounded down, as the bar is: 100% only once it is all done.
		line = fmt.Sprintf("%s %3d%%  %s  ETA %s", bar(frac, progressBarWide), int(100*frac), line, m.eta(s))
	}
	if s.note != "" {
		line += "  " + s.note
	}
	return line
}

// attrs are the log line's attributes, the sample's own last.
func (m *progressMeter) attrs(campaign string, s progressSample) []any {
	attrs := []any{"campaign", campaign, "done", s.done}
	if s.total > 0 {
		attrs = append(attrs, "of", s.total)
	} else if frac := s.fraction(); frac >= 0 {
		attrs = append(attrs, "percent", int(100*frac))
	}
	attrs = append(attrs, "rate", fmt.Sprintf("%.1f", m.rate), "eta", m.eta(s))
	return append(attrs, s.attrs...)
}

// stop ends the display, clearing its line; it returns once it is gone.
func (p *progress) stop() {
	p.stopOnce.Do(func() {
		close(p.quit)
		<-p.done
	})
}

// bar draws frac (0 to 1) as a bar width characters wide.
func bar(frac float64, width int) string {
	n := int(frac * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// clearProgressLine clears the line a progress display may have drawn on
// w, so that the next output starts on a clean line.
func clearProgressLine(w io.Writer) {
	if isTerminal(w) {
		fmt.Fprint(w, "\r\033[K")
	}
}

// isTerminal reports whether w is a terminal (and not a test buffer).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
