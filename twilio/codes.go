package twilio

import (
	"maps"
	"slices"
)

// CodeInfo describes a Twilio error code smsblast knows. The store seeds its
// twilio_errors table from [Codes]; the engine uses [Describe] to explain a
// failure and `retry` uses Retryable to pick failures worth another try.
type CodeInfo struct {
	Code        int
	Description string
	// HTTPStatus is the status the API answers with; 0 for delivery codes.
	HTTPStatus int
	// Delivery marks 30xxx codes, which arrive later in status callbacks
	// (status failed or undelivered) rather than from the API.
	Delivery bool
	// Outcome is how a send with this code is treated. For delivery codes it
	// says whether the failure is the recipient's or the whole campaign's.
	Outcome Outcome
	// Retryable says whether sending the same message again later may succeed.
	Retryable bool
}

// codes is the table from shared/twilio.md. Classify consults it before
// falling back to the HTTP status, so it is the single place where a code's
// treatment is decided.
var codes = map[int]CodeInfo{
	20003: {20003, "Authentication failed", 401, false, OutcomeCampaignFatal, false},
	20404: {20404, "The requested resource was not found", 404, false, OutcomeCampaignFatal, false},
	20429: {20429, "Too many concurrent requests", 429, false, OutcomeRetryable, true},
	21211: {21211, "Invalid 'To' phone number", 400, false, OutcomeRecipientFailed, false},
	21212: {21212, "Invalid 'From' phone number", 400, false, OutcomeCampaignFatal, false},
	21408: {21408, "Permission to send an SMS has not been enabled for the region", 400, false, OutcomeRecipientFailed, false},
	21602: {21602, "Message body is required", 400, false, OutcomeRecipientFailed, false},
	21604: {21604, "A 'To' phone number is required", 400, false, OutcomeRecipientFailed, false},
	21606: {21606, "The 'From' phone number is not a valid, SMS-capable Twilio number for this account", 400, false, OutcomeCampaignFatal, false},
	21610: {21610, "Attempt to send to unsubscribed recipient", 400, false, OutcomeOptedOut, false},
	21611: {21611, "This 'From' number has exceeded the maximum number of queued messages", 400, false, OutcomeRetryable, true},
	21612: {21612, "The 'To' phone number is not reachable via SMS from this 'From' number", 400, false, OutcomeRecipientFailed, false},
	21614: {21614, "'To' number is not a valid mobile number", 400, false, OutcomeRecipientFailed, false},
	21617: {21617, "The concatenated message body exceeds the 1600 character limit", 400, false, OutcomeRecipientFailed, false},
	21619: {21619, "A text message body or media URL must be specified", 400, false, OutcomeRecipientFailed, false},
	21659: {21659, "The 'From' number is not a Twilio phone number or a verified sender for this account", 400, false, OutcomeCampaignFatal, false},

	30001: {30001, "Queue overflow", 0, true, OutcomeRecipientFailed, true},
	30002: {30002, "Account suspended", 0, true, OutcomeCampaignFatal, false},
	30003: {30003, "Unreachable destination handset", 0, true, OutcomeRecipientFailed, true},
	30004: {30004, "Message blocked", 0, true, OutcomeRecipientFailed, false},
	30005: {30005, "Unknown destination handset", 0, true, OutcomeRecipientFailed, false},
	30006: {30006, "Landline or unreachable carrier", 0, true, OutcomeRecipientFailed, false},
	30007: {30007, "Message filtered by the carrier", 0, true, OutcomeRecipientFailed, false},
	30008: {30008, "Unknown error", 0, true, OutcomeRecipientFailed, true},
	30032: {30032, "Toll-free number has not been verified", 0, true, OutcomeCampaignFatal, false},
	30034: {30034, "Message from an unregistered 10DLC number", 0, true, OutcomeCampaignFatal, false},
	30036: {30036, "Validity period expired before delivery", 0, true, OutcomeRecipientFailed, true},
}

// Describe returns what smsblast knows about a Twilio error code.
func Describe(code int) (CodeInfo, bool) {
	info, ok := codes[code]
	return info, ok
}

// Codes returns every known code, sorted by code. The slice is the caller's.
func Codes() []CodeInfo {
	out := slices.Collect(maps.Values(codes))
	slices.SortFunc(out, func(a, b CodeInfo) int { return a.Code - b.Code })
	return out
}
