// Package delivery turns Twilio's webhooks into results: status callbacks
// become recipient states (through campaign.FromTwilioStatus and the store's
// never-backwards update), and STOP or START replies become opt-outs. It
// parses and decides; package store keeps, and cmd/smsblast serves HTTP.
package delivery
