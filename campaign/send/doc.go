// Package send is the send engine: it claims a campaign's recipients, sends
// each through Twilio at the campaign's rate, and records every answer, so
// that a send interrupted in any way resumes with nobody texted twice and
// nobody skipped. It needs a campaign.SendStore (package store) and a
// Messenger (*twilio.Client).
//
// # Exactly once, as far as the world allows
//
// Twilio has no idempotency key: a create request whose answer is lost may or
// may not have produced a message. The engine therefore never re-sends such a
// recipient blind. It keeps five invariants; every piece of the engine below
// exists to keep one of them.
//
//  1. Claim before send, durably. A recipient moves to 'sending' — with this
//     worker's id, a lease deadline and an incremented attempt number — in a
//     committed transaction (SendStore.Claim) before its request exists.
//
//  2. Send only under a live lease. Each claimed row carries a local deadline
//     computed from the instant before the claim (or renewal) was sent, so it
//     is never later than the lease in the database. A sender starts a
//     request only if the deadline is further away than the request timeout
//     plus a margin, and every request is cancelled at that timeout. The
//     heartbeat renews leases by id; if it cannot (the database is down), the
//     deadlines run out and sending stops before the leases expire. Hence,
//     once a lease has expired in the database, nobody is still sending that
//     recipient.
//
//  3. Fenced writes. Every outcome is written with a guard on (status
//     'sending', lease owner, attempt number) (SendStore.Record): a worker that
//     lost its lease cannot overwrite what another worker decided.
//
//  4. Reconcile, never guess. A row whose request may have reached Twilio
//     without a recorded answer — a 5xx, a timeout, a reset, a worker killed
//     with requests in flight — stays 'sending' with its lease ended and
//     in_doubt_since set. Any worker may then claim it (SendStore.ClaimInDoubt)
//     and look for the message in Twilio's Messages list: same To, same
//     sender, same rendered body, created no earlier than the claim (less a
//     clock-skew allowance). Found: the row takes the message's sid and
//     status. Not found and the safety window since in_doubt_since has
//     passed (time for Twilio's list to show a message created by a request
//     that was still being processed): back to 'pending'. Not found yet: look
//     again later. A row is never re-sent blind and never dropped.
//     Where the list cannot settle it — a message to the same recipient from
//     the same sender inside the window, whose body the account's message
//     redaction removed — the row goes, after the safety window, to
//     'review': neither re-sent nor counted as sent until a person decides
//     (smsblast resolve). A body that is there and differs is another
//     message; an exact match anywhere in the window still wins.
//
//  5. The database is the checkpoint. 'pending' rows are the work left and
//     'sending' rows the work in doubt; there is no cursor. Claims use the
//     partial index on pending rows, so a restart costs an index probe, not a
//     scan, and any number of restarts converge.
//
// At most Concurrency requests are in flight per worker, so at most that many
// recipients per worker can be in doubt while it runs. A worker killed outright
// also leaves its claimed but unsent rows looking in doubt; claims are kept
// small (a quarter second of sending, at most half a second claimed ahead)
// so that this costs a few list lookups.
//
// A worker on the same host as a dead worker (its pid is gone) ends the dead
// worker's leases at once instead of waiting for them to run out: a dead
// process sends nothing, and its requests still being processed by Twilio are
// covered by the safety window. Workers elsewhere are only ever presumed dead
// by their leases running out.
//
// # Shape
//
// One Run is one worker: a claimer keeps a short queue of claimed rows fed;
// Concurrency senders render, wait on the limiter and send; two recorders
// write outcomes in batches (one transaction per batch); a heartbeat renews
// leases, follows the campaign's state and rate, and splits the rate among
// live workers; a reconciler settles rows in doubt. The first cancellation of
// Run's context stops claiming: queued rows are given back, requests in
// flight finish and are recorded. Cancelling the hard context as well aborts
// requests in flight, which leaves them in doubt for the next run.
package send
