package twiliosim

import (
	"bytes"
	"encoding/json"
	"time"
)

// rfc2822 is the date format of every Twilio date field.
const rfc2822 = "Mon, 02 Jan 2006 15:04:05 -0700"

// wireMessage is Twilio's Message resource on the wire: every field present,
// in Twilio's order, nil pointers for its nulls.
type wireMessage struct {
	AccountSID          string          `json:"account_sid"`
	APIVersion          string          `json:"api_version"`
	Body                string          `json:"body"`
	DateCreated         *string         `json:"date_created"`
	DateSent            *string         `json:"date_sent"`
	DateUpdated         *string         `json:"date_updated"`
	Direction           string          `json:"direction"`
	ErrorCode           *int            `json:"error_code"`
	ErrorMessage        *string         `json:"error_message"`
	From                *string         `json:"from"`
	MessagingServiceSID *string         `json:"messaging_service_sid"`
	NumMedia            int             `json:"num_media,string"`
	NumSegments         int             `json:"num_segments,string"`
	Price               *string         `json:"price"`
	PriceUnit           string          `json:"price_unit"`
	SID                 string          `json:"sid"`
	Status              string          `json:"status"`
	SubresourceURIs     subresourceURIs `json:"subresource_uris"`
	To                  string          `json:"to"`
	URI                 string          `json:"uri"`
}

// subresourceURIs are the paths of a message's media and feedback.
type subresourceURIs struct {
	Media    string `json:"media"`
	Feedback string `json:"feedback"`
}

// wire is m as Twilio shows it.
func wire(m *Message) wireMessage {
	path := accountsPrefix + m.AccountSID + "/Messages/" + m.SID
	w := wireMessage{
		AccountSID:          m.AccountSID,
		APIVersion:          apiVersion,
		Body:                m.Body,
		DateCreated:         date(m.DateCreated),
		DateSent:            date(m.DateSent),
		DateUpdated:         date(m.DateUpdated),
		Direction:           "outbound-api",
		From:                nullable(m.From),
		MessagingServiceSID: nullable(m.MessagingServiceSID),
		NumMedia:            m.NumMedia,
		NumSegments:         m.NumSegments,
		Price:               nullable(m.Price),
		PriceUnit:           "USD",
		SID:                 m.SID,
		Status:              m.Status,
		SubresourceURIs:     subresourceURIs{Media: path + "/Media.json", Feedback: path + "/Feedback.json"},
		To:                  m.To,
		URI:                 path + ".json",
	}
	if m.ErrorCode != 0 {
		code, msg := m.ErrorCode, describe(m.ErrorCode)
		w.ErrorCode, w.ErrorMessage = &code, &msg
	}
	return w
}

// wireError is Twilio's error body.
type wireError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// wirePage is a page of the list, in Twilio's order.
type wirePage struct {
	End             int           `json:"end"`
	FirstPageURI    string        `json:"first_page_uri"`
	Messages        []wireMessage `json:"messages"` // [] when empty, never null
	NextPageURI     *string       `json:"next_page_uri"`
	Page            int           `json:"page"`
	PageSize        int           `json:"page_size"`
	PreviousPageURI *string       `json:"previous_page_uri"`
	Start           int           `json:"start"`
	URI             string        `json:"uri"`
}

// date is t in Twilio's format, or null for the zero time.
func date(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(rfc2822)
	return &s
}

// nullable is s, or null for "".
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// marshal encodes v as encoding/json does, except that <, > and & stay as
// they are, as in Twilio's answers.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the wire types above always encode
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
