package limiter

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		field string // the error must name it
	}{
		{"negative rate", Config{Rate: -1}, "Rate"},
		{"NaN rate", Config{Rate: math.NaN()}, "Rate"},
		{"negative burst", Config{Rate: 10, Burst: -1}, "Burst"},
		{"negative concurrency", Config{Concurrency: -3}, "Concurrency"},
		{"negative min rate", Config{Rate: 10, MinRate: -1}, "MinRate"},
		{"min rate above rate", Config{Rate: 10, MinRate: 11}, "MinRate"},
		{"decrease of one", Config{Rate: 10, Decrease: 1}, "Decrease"},
		{"negative decrease", Config{Rate: 10, Decrease: -0.5}, "Decrease"},
		{"infinite increase", Config{Rate: 10, Increase: math.Inf(1)}, "Increase"},
		{"negative recover every", Config{RecoverEvery: -time.Second}, "RecoverEvery"},
		{"negative cooldown", Config{Cooldown: -time.Second}, "Cooldown"},
		{"negative max pause", Config{MaxPause: -time.Second}, "MaxPause"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := New(tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: got (%v, %v), want ErrInvalidConfig", l, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	tests := []struct {
		name        string
		cfg         Config
		rate        float64
		burst       int // -1: not checked (unlimited)
		concurrency int
	}{
		{"zero config is unlimited", Config{}, inf, -1, DefaultConcurrency},
		{"+Inf is unlimited", Config{Rate: inf, Concurrency: 3}, inf, -1, 3},
		{"burst is 50 ms of tokens", Config{Rate: 2000}, 2000, 100, DefaultConcurrency},
		{"burst rounds up", Config{Rate: 30}, 30, 2, DefaultConcurrency},
		{"burst at least one", Config{Rate: 1}, 1, 1, DefaultConcurrency},
		{"explicit burst kept", Config{Rate: 2000, Burst: 7}, 2000, 7, DefaultConcurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := mustNew(t, tt.cfg)
			if got := l.Rate(); got != tt.rate {
				t.Errorf("Rate() = %v, want %v", got, tt.rate)
			}
			if got := l.Ceiling(); got != tt.rate {
				t.Errorf("Ceiling() = %v, want %v", got, tt.rate)
			}
			if got := cap(l.free); got != tt.concurrency {
				t.Errorf("concurrency = %d, want %d", got, tt.concurrency)
			}
			if tt.burst >= 0 {
				if got := l.campaign.lim.Burst(); got != tt.burst {
					t.Errorf("burst = %d, want %d", got, tt.burst)
				}
			}
		})
	}
}
