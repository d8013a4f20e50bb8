package send

import (
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	tests := []struct {
		name      string
		requests  int   // answers in one window
		throttled []int // which of them were 429s
		want      bool  // whether any answer signalled an overload
	}{
		{"a stray 429 among many", 200, []int{10, 150}, false},
		{"2% of 429s", 200, []int{1, 50, 100, 150}, false},
		{"2% of 429s, early in the window", 200, []int{1, 2, 3, 150}, false},
		{"a burst of 429s", 100, []int{80, 81, 82, 83, 84, 85, 86, 87, 88, 89}, true},
		{"every request throttled", 5, []int{0, 1, 2, 3, 4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newThrottleGate()
			is := map[int]bool{}
			for _, i := range tt.throttled {
				is[i] = true
			}
			got := false
			for i := range tt.requests {
				got = g.observe(is[i], t0.Add(time.Duration(i)*time.Millisecond)) || got
			}
			// The window closes with the next answer.
			got = g.observe(false, t0.Add(2*time.Second)) || got
			if got != tt.want {
				t.Errorf("overload signalled: %v, want %v", got, tt.want)
			}
		})
	}
	// A new window forgets the old one.
	g := newThrottleGate()
	g.observe(true, t0)
	g.observe(true, t0)
	if g.observe(true, t0.Add(2*time.Second)) {
		t.Error("throttles from an earlier window counted")
	}
}

// An outage late in a busy window is caught by the run of lost answers, not
// a second later when the window closes.
func TestOutageGateFiresOnARun(t *testing.T) {
	t.Parallel()
	g := newOutageGate()
	t0 := time.Unix(0, 0)
	for i := range 200 { // a healthy start of the window
		if g.observe(false, t0.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatal("fired on good answers")
		}
	}
	for i := range 20 {
		fired := g.observe(true, t0.Add(time.Duration(200+i)*time.Millisecond))
		if fired != (i == 19) {
			t.Fatalf("lost answer %d in a row: fired %v; want to fire at the 20th", i+1, fired)
		}
	}
}
