// Package twilio is smsblast's thin client for Twilio's Programmable
// Messaging API (the 2010-04-01 Messages resource): create, fetch and list
// messages, classify every outcome of a send, count SMS segments and validate
// the signatures on Twilio's webhooks.
//
// It is our own client rather than the official SDK because the send engine
// needs things the SDK does not give: a configurable base URL (for the
// simulator in twilio/twiliosim), one keep-alive pool sized to the engine's
// concurrency, and a classifier that tells "nothing was sent, retry" from
// "it may have been sent, reconcile first" (see [Classify]). The wire facts it
// relies on are collected in shared/twilio.md.
//
// A [Client] is safe for concurrent use; so are the package's functions.
package twilio
