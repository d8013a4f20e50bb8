// Package twiliosim is a local stand-in for Twilio's Programmable Messaging
// API (the 2010-04-01 Messages resource), faithful enough that smsblast's
// tests, benchmarks and demo never need the real thing.
//
// A [Server] is an [net/http.Handler]: mount it on an [net/http/httptest.Server]
// in a test, or run it with `smsblast sim`. It speaks the same paths, form
// encoding, Basic auth (account SID + auth token, or API key + secret),
// status codes, JSON shapes and error bodies as Twilio (the client in package twilio is tested against it),
// validates creates the way Twilio does (including the magic test numbers),
// lists and fetches messages with Twilio's filters and paging, moves every
// accepted message through queued → sent → delivered (or undelivered/failed
// with a 30xxx code) and POSTs signed status callbacks for each transition.
//
// The point of a simulator is the failures, so every awkward thing Twilio
// does can be dialled in through [Options]: latency, a concurrency limit
// answered with 429/20429, injected 5xx and 429 answers (which create
// nothing), responses lost after the message was created (the case that makes
// resuming hard), per-sender throughput with a queue that overflows into
// 21611, an eventually consistent list, an account with Message Redaction
// (bodies and recipients' numbers hidden from list and fetch answers),
// callbacks that fail, retry and arrive out of order. All randomness comes
// from [Options.Seed].
//
// Where Twilio's behaviour is not documented, the simulator picks the reading
// that is harder on the client (fewer matches from a list filter, stricter
// number validation, …); each such place says so in a comment.
//
// Every message it ever accepted stays in memory and can be inspected with
// [Server.Messages] and [Server.MessagesTo], so tests can count exactly what
// was "sent" to each recipient.
package twiliosim
