package twiliosim

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The JSON here is appended by hand into pooled buffers: encoding/json's
// reflection would be most of the cost of a create, and the simulator must
// not be the bottleneck of the engine's benchmark.

// rfc2822 is the date format of every Twilio date field.
const rfc2822 = "Mon, 02 Jan 2006 15:04:05 -0700"

func appendError(b []byte, code int, msg string) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, `,"more_info":"https://www.twilio.com/docs/errors/`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(codeStatus(code)), 10)
	return append(b, '}')
}

// appendMessage appends m as Twilio's Message resource, every field present.
func appendMessage(b []byte, m *Message) []byte {
	b = append(b, `{"account_sid":`...)
	b = appendString(b, m.AccountSID)
	b = append(b, `,"api_version":"`+apiVersion+`","body":`...)
	b = appendString(b, m.Body)
	b = append(b, `,"date_created":`...)
	b = appendDate(b, m.DateCreated)
	b = append(b, `,"date_sent":`...)
	b = appendDate(b, m.DateSent)
	b = append(b, `,"date_updated":`...)
	b = appendDate(b, m.DateUpdated)
	b = append(b, `,"direction":"outbound-api","error_code":`...)
	if m.ErrorCode != 0 {
		b = strconv.AppendInt(b, int64(m.ErrorCode), 10)
		b = append(b, `,"error_message":`...)
		b = appendString(b, describe(m.ErrorCode))
	} else {
		b = append(b, `null,"error_message":null`...)
	}
	b = append(b, `,"from":`...)
	b = appendNullable(b, m.From)
	b = append(b, `,"messaging_service_sid":`...)
	b = appendNullable(b, m.MessagingServiceSID)
	b = append(b, `,"num_media":"`...)
	b = strconv.AppendInt(b, int64(m.NumMedia), 10)
	b = append(b, `","num_segments":"`...)
	b = strconv.AppendInt(b, int64(m.NumSegments), 10)
	b = append(b, `","price":`...)
	b = appendNullable(b, m.Price)
	b = append(b, `,"price_unit":"USD","sid":"`...)
	b = append(b, m.SID...)
	b = append(b, `","status":"`...)
	b = append(b, m.Status...)
	b = append(b, `","subresource_uris":{"media":"`...)
	b = appendMessagePath(b, m, "/Media.json")
	b = append(b, `","feedback":"`...)
	b = appendMessagePath(b, m, "/Feedback.json")
	b = append(b, `"},"to":`...)
	b = appendString(b, m.To)
	b = append(b, `,"uri":"`...)
	b = appendMessagePath(b, m, ".json")
	return append(b, `"}`...)
}

// appendMessagePath appends /2010-04-01/Accounts/AC…/Messages/SM…{suffix}.
// SIDs are alphanumeric, so no escaping is needed.
func appendMessagePath(b []byte, m *Message, suffix string) []byte {
	b = append(b, accountsPrefix...)
	b = append(b, m.AccountSID...)
	b = append(b, "/Messages/"...)
	b = append(b, m.SID...)
	return append(b, suffix...)
}

func appendDate(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, rfc2822)
	return append(b, '"')
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; U+2028 and U+2029 are escaped so the output is also
// valid JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case '\u2028':
				b = append(b, `\u2028`...)
			case '\u2029':
				b = append(b, `\u2029`...)
			default:
				b = append(b, `\ufffd`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
