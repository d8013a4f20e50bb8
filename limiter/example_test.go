package limiter_test

import (
	"context"
	"fmt"
	"time"

	"github.com/smsblast/smsblast/limiter"
)

// The send engine's loop, in outline: acquire before each request, release
// when its response (or failure) is in, report throttling.
func Example() {
	l, err := limiter.New(limiter.Config{Rate: 100, Concurrency: 10}) // --rate 100 --concurrency 10
	if err != nil {
		fmt.Println(err)
		return
	}
	l.SetSenderRate("+15005550006", 1) // a US long code: ~1 segment/s

	ctx := context.Background()
	release, err := l.Acquire(ctx, "+15005550010", 3) // a 3-segment body
	if err != nil {
		return // ctx ended: nothing is held
	}
	// ... POST the message; on 429/20429 or 21611:
	l.Throttled(2 * time.Second) // Retry-After: 2, or 0 without the header
	release()

	fmt.Printf("rate %.0f of %.0f segments/s, %d in flight\n", l.Rate(), l.Ceiling(), l.InFlight())
	// Output: rate 50 of 100 segments/s, 0 in flight
}
