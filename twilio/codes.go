package twilio

import (
	"maps"
	"slices"
)

// CodeInfo describes a Twilio error code smsblast knows. This table is the
// one source: Classify decides with it, and the twilio_errors table is
// filled from it (store.SyncErrorCodes, called at start-up), so SQL shows
// the same words and `retry` picks the same codes.
type CodeInfo struct {
	Code        int
	Description string
	// HTTPStatus is the status the API answers with; 0 for delivery codes.
	HTTPStatus int
	// Delivery marks 30xxx codes, which arrive later in status callbacks
	// (status failed or undelivered) rather than from the API.
	Delivery bool
	// Class is how a send with this code is treated. For delivery codes it
	// says whether the failure is the recipient's or the whole campaign's.
	Class Class
	// Retryable says whether sending the same message again later may succeed.
	Retryable bool
}

// TableClass is the code's twilio_errors.class: "delivery" for codes that
// arrive in status callbacks, else its Class's name.
func (c CodeInfo) TableClass() string {
	if c.Delivery {
		return "delivery"
	}
	return c.Class.String()
}

// codes is Twilio's published error table, with smsblast's treatment of each
// code. Classify consults it before falling back to the HTTP status.
var codes = map[int]CodeInfo{
	20003: {20003, "Authentication failed: check the account SID and auth token or API key", 401, false, ClassCampaign, false},
	20404: {20404, "Resource not found (wrong account SID in the URL, or unknown message)", 404, false, ClassCampaign, false},
	20429: {20429, "Too many concurrent requests; not processed, safe to retry", 429, false, ClassRetryable, true},
	21211: {21211, "Invalid 'To' phone number", 400, false, ClassRecipient, false},
	21212: {21212, "Invalid 'From' phone number", 400, false, ClassCampaign, false},
	21408: {21408, "Permission to send an SMS has not been enabled for the region (geo permissions)", 400, false, ClassRecipient, false},
	21602: {21602, "Message body is required", 400, false, ClassRecipient, false},
	21604: {21604, "'To' phone number is required", 400, false, ClassRecipient, false},
	21606: {21606, "The 'From' phone number is not a valid, SMS-capable inbound number for your account", 400, false, ClassCampaign, false},
	21610: {21610, "Attempt to send to unsubscribed recipient (replied STOP)", 400, false, ClassOptOut, false},
	21611: {21611, "This 'From' number has exceeded the maximum number of queued messages", 400, false, ClassRetryable, true},
	21612: {21612, "The 'To' phone number is not currently reachable via SMS from this sender", 400, false, ClassRecipient, false},
	21614: {21614, "'To' number is not a valid mobile number", 400, false, ClassRecipient, false},
	21617: {21617, "The concatenated message body exceeds the 1600 character limit", 400, false, ClassRecipient, false},
	21619: {21619, "A text message body or media URL must be specified", 400, false, ClassRecipient, false},
	21659: {21659, "The 'From' number is not a Twilio phone number or verified caller ID", 400, false, ClassCampaign, false},

	30001: {30001, "Queue overflow: the sender's queue was full", 0, true, ClassRecipient, true},
	30002: {30002, "Account suspended", 0, true, ClassCampaign, false},
	30003: {30003, "Unreachable destination handset (switched off or out of coverage)", 0, true, ClassRecipient, true},
	30004: {30004, "Message blocked (the recipient blocked the sender, or carrier block)", 0, true, ClassRecipient, false},
	30005: {30005, "Unknown destination handset (number does not exist)", 0, true, ClassRecipient, false},
	30006: {30006, "Landline or unreachable carrier", 0, true, ClassRecipient, false},
	30007: {30007, "Message filtered by the carrier", 0, true, ClassRecipient, false},
	30008: {30008, "Unknown error from the carrier", 0, true, ClassRecipient, true},
	30032: {30032, "Toll-free number has not been verified", 0, true, ClassCampaign, false},
	30034: {30034, "Message from an unregistered 10DLC number", 0, true, ClassCampaign, false},
	30036: {30036, "Validity period expired before the message was sent", 0, true, ClassRecipient, true},
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
