package campaign

import (
	"testing"
	"time"
)

// A campaign is not done before the holds on its last recipients lift,
// however fast it sends the others.
func TestETA(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	london8 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		p     Progress
		until []time.Time
		want  time.Duration
	}{
		{"done", Progress{Counts: map[RecipientStatus]int64{Delivered: 5}}, []time.Time{london8}, 0},
		{"current rate", Progress{Counts: map[RecipientStatus]int64{Pending: 100}, CurrentRate: 10, AverageRate: 1}, nil, 10 * time.Second},
		{"average when idle", Progress{Counts: map[RecipientStatus]int64{Pending: 100}, AverageRate: 4}, nil, 25 * time.Second},
		{"unknown", Progress{Counts: map[RecipientStatus]int64{Pending: 100}}, nil, 0},
		{"held until the window opens", Progress{Counts: map[RecipientStatus]int64{Pending: 1}, CurrentRate: 0.4}, []time.Time{london8}, 6 * time.Hour},
		{"held, nothing sent yet", Progress{Counts: map[RecipientStatus]int64{Pending: 3}}, []time.Time{now.Add(time.Minute), london8}, 6 * time.Hour},
		{"a hold already lifted", Progress{Counts: map[RecipientStatus]int64{Pending: 100}, CurrentRate: 10}, []time.Time{now.Add(-time.Hour)}, 10 * time.Second},
	} {
		if got := tt.p.ETA(now, tt.until...); got != tt.want {
			t.Errorf("%s: ETA = %v, want %v", tt.name, got, tt.want)
		}
	}
}
