package send

import (
	"errors"
	"math"
	"testing"
	"time"
)

// Settings that cannot work are refused before anything runs, never a
// panic later (a negative heartbeat used to reach time.NewTicker).
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bad := []Config{
		{Heartbeat: -time.Second},
		{Lease: -1},
		{RequestTimeout: -1},
		{SafetyWindow: -2 * time.Second},
		{ClockSkew: -1},
		{MaxBackoff: -1},
		{Rate: -1},
		{Rate: math.NaN()},
		{Rate: math.Inf(1)},
		{Concurrency: -1},
		{Heartbeat: 20 * time.Second}, // over a third of the default lease
		{RequestTimeout: 29 * time.Second},
	}
	for _, cfg := range bad {
		if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
	for _, cfg := range []Config{{}, {SafetyWindow: NoSafetyWindow}, {Heartbeat: 10 * time.Second}} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}
