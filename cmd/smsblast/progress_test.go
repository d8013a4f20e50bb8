package main

import (
	"fmt"
	"testing"
	"time"
)

// TestProgressMeter checks the one progress display of import and send: the
// terminal line and the log line, with a count, a share or neither.
func TestProgressMeter(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	tests := []struct {
		name      string
		unit      string
		s         progressSample
		wantLine  string
		wantAttrs string
	}{
		{
			name:      "send: a count of a known total",
			unit:      "msg",
			s:         progressSample{done: 600, total: 2400, note: "(failed 1, skipped 0, in doubt 2)", attrs: []any{"failed", 1, "in_doubt", 2}},
			wantLine:  "[######..................]  25%  600/2400 msg  300.0 msg/s  ETA 6s  (failed 1, skipped 0, in doubt 2)",
			wantAttrs: "[campaign c done 600 of 2400 rate 300.0 eta 6s failed 1 in_doubt 2]",
		},
		{
			name:      "import of a file: a share by bytes",
			unit:      "rows",
			s:         progressSample{done: 600, read: 1 << 20, size: 4 << 20},
			wantLine:  "[######..................]  25%  600 rows  300.0 rows/s  ETA 6s",
			wantAttrs: "[campaign c done 600 percent 25 rate 300.0 eta 6s]",
		},
		{
			name:      "import of standard input: no share",
			unit:      "rows",
			s:         progressSample{done: 600},
			wantLine:  "600 rows  300.0 rows/s",
			wantAttrs: "[campaign c done 600 rate 300.0 eta …]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := &progressMeter{lastT: t0}
			m.observe(t0.Add(2*time.Second), tt.s.done, time.Second)
			if got := m.line(tt.s, tt.unit); got != tt.wantLine {
				t.Errorf("line\n got %q\nwant %q", got, tt.wantLine)
			}
			if got := fmt.Sprint(m.attrs("c", tt.s)); got != tt.wantAttrs {
				t.Errorf("attrs\n got %s\nwant %s", got, tt.wantAttrs)
			}
		})
	}

	// Nothing done yet: no rate, so no ETA; and a sample within the gap
	// does not move the rate.
	m := &progressMeter{lastT: t0}
	s := progressSample{total: 100}
	m.observe(t0.Add(time.Second), 0, time.Second)
	if eta := m.eta(s); eta != "…" {
		t.Errorf("ETA with nothing done = %q, want …", eta)
	}
	m.observe(t0.Add(1500*time.Millisecond), 50, time.Second)
	if m.rate != 0 {
		t.Errorf("rate %v after a sample within the gap, want 0", m.rate)
	}
}
