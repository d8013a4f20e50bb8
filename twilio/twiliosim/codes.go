package twiliosim

import "strconv"

// Twilio error codes the simulator answers with. The HTTP status of each is
// in codeStatus; the messages follow Twilio's wording where it is published.
const (
	codeUnknownParam    = 20001 // used for malformed list parameters: Twilio's exact code is undocumented
	codeAuth            = 20003
	codeMethod          = 20004
	codeNotFound        = 20404
	codeTooMany         = 20429
	codeInternal        = 20500
	codeUnavailable     = 20503
	codeInvalidTo       = 21211
	codeInvalidFrom     = 21212
	codeSameToFrom      = 21266
	codeRegion          = 21408
	codeNoBody          = 21602
	codeNoFrom          = 21603
	codeNoTo            = 21604
	codeFromNotUsable   = 21606
	codeBadCallback     = 21609
	codeUnsubscribed    = 21610
	codeQueueFull       = 21611
	codeCannotRoute     = 21612
	codeNotMobile       = 21614
	codeBodyTooLong     = 21617
	codeNoBodyOrMedia   = 21619
	codeValidity        = 21624
	codeBadService      = 21705
	codeSendAtMissing   = 35111
	codeSendAtRange     = 35114
	codeScheduleService = 35118
)

// Delivery (30xxx) codes.
const (
	codeQueueOverflow = 30001
	codeValidityGone  = 30036
)

// undeliveredCodes are the codes drawn for the Options.Undelivered fraction:
// the carrier-reported ones a bulk sender meets most.
var undeliveredCodes = [...]int{30003, 30005, 30006, 30007, 30008}

// failedCodes end a message as "failed" — Twilio gave up before handing it
// to a carrier, so there is no "sent" step and no date_sent. Every other
// delivery code ends it as "undelivered" after "sent": the carrier reported it.
var failedCodes = map[int]bool{
	30001: true, // queue overflow
	30002: true, // account suspended
	30032: true, // toll-free number not verified
	30034: true, // unregistered 10DLC number
	30036: true, // validity period expired
}

// errorText is the description used in error bodies and, for 30xxx codes,
// in a message's error_message.
var errorText = map[int]string{
	20003: "Authenticate",
	20004: "Method not allowed",
	20429: "Too Many Requests",
	20500: "Internal Server Error",
	20503: "Service Unavailable",
	21211: "The 'To' number is not a valid phone number.",
	21212: "The 'From' number is not a valid phone number, shortcode, or alphanumeric sender ID.",
	21266: "'To' and 'From' number cannot be the same.",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
	21602: "Message body is required.",
	21603: "A 'From' phone number is required.",
	21604: "A 'To' phone number is required.",
	21606: "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account.",
	21609: "Invalid StatusCallback URL.",
	21610: "Attempt to send to unsubscribed recipient.",
	21611: "This 'From' number has exceeded the maximum number of queued messages.",
	21612: "The 'To' phone number is not currently reachable using the 'From' phone number via SMS.",
	21614: "The 'To' number is not a valid mobile number.",
	21617: "The concatenated message body exceeds the 1600 character limit.",
	21619: "A text message body or media url must be specified.",
	21624: "Invalid validity period value.",
	21705: "The Messaging Service is invalid.",
	35111: "SendAt timestamp is missing.",
	35114: "Scheduling does not support this timestamp.",
	35118: "MessagingServiceSid is required to schedule a message.",
	30001: "Queue overflow",
	30002: "Account suspended",
	30003: "Unreachable destination handset",
	30004: "Message blocked",
	30005: "Unknown destination handset",
	30006: "Landline or unreachable carrier",
	30007: "Message filtered",
	30008: "Unknown error",
	30032: "Toll-free number has not been verified",
	30034: "Message from an unregistered number",
	30036: "Validity period expired",
}

// codeStatus is the HTTP status Twilio answers a request-time error with.
func codeStatus(code int) int {
	switch code {
	case codeAuth:
		return 401
	case codeNotFound:
		return 404
	case codeMethod:
		return 405
	case codeTooMany:
		return 429
	case codeInternal:
		return 500
	case codeUnavailable:
		return 503
	}
	return 400
}

// describe returns the text for code, or a generic one for codes the table
// does not know (a Fail map may name any code).
func describe(code int) string {
	if t, ok := errorText[code]; ok {
		return t
	}
	return "Error " + strconv.Itoa(code)
}
