// Package twilio is smsblast's thin client for Twilio's Programmable
// Messaging API (the 2010-04-01 Messages resource): create, fetch and list
// messages, classify every outcome of a send, count SMS segments and validate
// the signatures on Twilio's webhooks.
//
// It is our own client rather than the official SDK because the send engine
// needs things the SDK does not give: a configurable base URL (for the
// simulator in twilio/twiliosim), one keep-alive pool sized to the engine's
// concurrency, and a classifier that tells "nothing was sent, retry" from
// "it may have been sent, reconcile first". The wire facts it relies on come
// from Twilio's published OpenAPI description, its official Go SDK and its
// error pages; where those leave a fact unsure, the code says so.
//
// # Outcomes
//
// Twilio has no idempotency key for creating messages, so the one question
// that matters after a failed send is whether the message may exist. [Classify]
// answers it for any error [Client.CreateMessage] returns:
//
//   - [ClassRetryable]: it cannot exist (429/20429, 21611, or a transport
//     failure before any of the request left); retry after back-off,
//     honouring [RetryAfterOf].
//   - [ClassInDoubt]: it may exist (5xx, a timeout or reset after the
//     request was written, an unreadable 2xx); look for it with
//     [Client.ListMessages] before sending again.
//   - [ClassRecipient], [ClassOptOut]: this recipient is done.
//   - [ClassCampaign]: every send would fail alike; pause.
//
// [Describe] and [Codes] expose the table of Twilio error codes behind it,
// delivery (30xxx) codes included.
//
// A [Client] is safe for concurrent use and meant to be shared; so are the
// package's functions.
package twilio
