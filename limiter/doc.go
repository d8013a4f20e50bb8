// Package limiter paces the requests of one smsblast campaign so that Twilio
// accepts them: a token-bucket rate in SMS segments, an optional per-sender
// rate, a cap on requests in flight, and an adaptive rate that backs off
// when Twilio pushes back. It is built on golang.org/x/time/rate.
//
// # Model
//
// Tokens are segments. Twilio meters throughput in segments, so a message
// of n segments takes n tokens from the campaign bucket (Config.Rate
// segments/s) and, when the sender has a cap ([Limiter.SetSenderRate]),
// from that sender's bucket as well. A user's "--rate N messages/s" is
// N segments/s: exact for single-segment messages, and for longer ones the
// message rate drops so that Twilio's segment budget holds.
//
// Concurrency is capped separately (Config.Concurrency, default 10), because
// Twilio limits concurrent API requests per account (429 / 20429) whatever
// the rate. [Limiter.Acquire] takes an in-flight slot first, then waits out
// any pause, then takes tokens; the returned release frees the slot.
//
// Throttling is AIMD, as in TCP congestion control. A 429/20429 or 21611
// reported with [Limiter.Throttled] multiplies the rate by Config.Decrease
// (0.5), never below Config.MinRate, and at most once per Config.Cooldown
// so that the many 429s of one overload count once: no 429 storms, and no
// collapse to the floor either. After Config.RecoverEvery without a signal
// the rate climbs by Config.Increase per period back to the ceiling, never
// above it. Recovery is computed lazily on the next call from the time
// elapsed, so there is no goroutine and nothing to close. A Retry-After
// duration pauses every acquisition until it has passed; callers already
// holding tokens wait too and then take fresh tokens, so sending resumes at
// the (reduced) rate rather than in a burst.
//
// # Why the burst is small
//
// A token bucket only fills while demand falls short of the rate: at the
// start, after a pause, or while the engine stalls (claiming a batch,
// waiting on Postgres). Whatever it holds then is sent on top of the
// steady rate, so the burst B is the most any window of W seconds can
// exceed R·W by. The default B = max(1, ceil(R/20)) — 50 ms of tokens —
// keeps that to 0.5% of a 10-second window (and 5% of a single second),
// leaving most of the ±2% budget for timer and scheduling jitter, and it
// keeps the restart after a pause gentle. It is not smaller because, under
// full demand, 50 ms of slack absorbs scheduler hiccups without losing
// tokens. Messages with more segments than B (a 1600-character UCS-2 body
// is 24 segments) are charged in full in B-sized chunks: the bucket goes
// into debt and later callers wait it off. That is why B needs no floor at
// the largest message size, which would let a 1-segment/s sender burst a
// dozen messages after every idle spell.
//
// Waiting for tokens uses reservations taken while holding the slot, so at
// most Concurrency reservations are outstanding: a rate change or pause
// reaches every caller within one round of requests.
//
// # Several workers
//
// The engine splits a campaign's rate among its live workers and calls
// [Limiter.SetRate] when that share changes; the adaptive state keeps its
// proportion across the change.
//
// A [Limiter] is safe for concurrent use by any number of goroutines. The
// unlimited, unpaused path of Acquire takes no lock.
package limiter
