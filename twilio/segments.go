package twilio

import (
	"strconv"
	"unicode/utf8"
)

// Encoding is the character encoding an SMS body travels in. Twilio picks it
// from the body: GSM-7 when every character is in the GSM 03.38 alphabet,
// UCS-2 (in practice UTF-16) otherwise.
type Encoding int

const (
	// GSM7 packs characters into 7-bit septets: 160 in a single segment, 153
	// per segment once split (the rest of each 140-byte segment carries the
	// concatenation header).
	GSM7 Encoding = iota
	// UCS2 uses 16-bit units: 70 in a single segment, 67 per segment once split.
	UCS2
)

// String returns the encoding's conventional name, "GSM-7" or "UCS-2".
func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "GSM-7"
	case UCS2:
		return "UCS-2"
	default:
		return "Encoding(" + strconv.Itoa(int(e)) + ")"
	}
}

// Segment capacities, in septets (GSM-7) or UTF-16 units (UCS-2).
const (
	gsmSingle  = 160
	gsmPerPart = 153
	ucsSingle  = 70
	ucsPerPart = 67
)

// gsmASCII gives the septet cost of each ASCII byte: 1 for the GSM 03.38
// basic set, 2 for the extension set (sent as ESC + char), 0 for characters
// GSM-7 cannot carry (which force UCS-2). A table rather than a switch because
// this runs per message in the send loop and nearly every byte is ASCII.
var gsmASCII = [128]uint8{
	'\n': 1, '\r': 1, '\f': 2,
	' ': 1, '!': 1, '"': 1, '#': 1, '%': 1, '&': 1, '\'': 1, '(': 1, ')': 1,
	'*': 1, '+': 1, ',': 1, '-': 1, '.': 1, '/': 1, ':': 1, ';': 1, '<': 1,
	'=': 1, '>': 1, '?': 1, '@': 1, '$': 1, '_': 1,
	'^': 2, '{': 2, '}': 2, '\\': 2, '[': 2, '~': 2, ']': 2, '|': 2,
	// '`' is not in GSM 03.38: it forces UCS-2.
}

func init() {
	for c := '0'; c <= '9'; c++ {
		gsmASCII[c] = 1
	}
	for c := 'A'; c <= 'Z'; c++ {
		gsmASCII[c] = 1
		gsmASCII[c+'a'-'A'] = 1
	}
}

// gsmCost returns the septets r takes in GSM-7, or 0 when GSM-7 cannot carry it.
func gsmCost(r rune) int {
	if r < 0x80 {
		return int(gsmASCII[r])
	}
	switch r {
	// The non-ASCII part of the GSM 03.38 basic set.
	case '£', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', 'Ø', 'ø', 'Å', 'å',
		'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ',
		'Æ', 'æ', 'ß', 'É', '¤', '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
		'¿', 'ä', 'ö', 'ñ', 'ü', 'à':
		return 1
	case '€': // the only non-ASCII character of the extension set
		return 2
	}
	return 0
}

// ucsCost returns the UTF-16 units r takes: 2 for characters outside the
// Basic Multilingual Plane (most emoji), which travel as a surrogate pair.
func ucsCost(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// Segments reports how many SMS segments Twilio bills for body and the
// encoding it travels in, following Twilio's published segment rules: GSM-7 when
// every character is in the GSM 03.38 alphabet (extension characters
// ^ { } \ [ ~ ] | € and form feed cost two septets), UCS-2 otherwise.
//
// A split message is cut greedily, never inside an escape pair or a
// surrogate pair, so a long body can need one segment more than its length
// divided by 153 (or 67) suggests.
//
// An empty body counts as 1 GSM-7 segment: the API refuses empty bodies
// (21602), so this never reaches Twilio, and counting 1 keeps rate limiters
// that wait for Segments tokens from ever waiting for zero.
//
// Invalid UTF-8 is counted as U+FFFD, which forces UCS-2. Segments does not
// allocate and is safe for concurrent use.
func Segments(body string) (n int, enc Encoding) {
	septets, units := 0, 0
	enc = GSM7
	for i := 0; i < len(body); i++ {
		// ASCII fast path: one table lookup per byte, no rune decoding.
		if b := body[i]; b < utf8.RuneSelf {
			c := int(gsmASCII[b])
			if c == 0 {
				enc = UCS2
			}
			septets += c
			units++
			continue
		}
		r, size := utf8.DecodeRuneInString(body[i:])
		i += size - 1
		if enc == GSM7 {
			c := gsmCost(r)
			if c == 0 {
				enc = UCS2
			}
			septets += c
		}
		units += ucsCost(r)
	}
	if enc == GSM7 {
		if septets <= gsmSingle {
			return 1, GSM7
		}
		return splitGSM(body), GSM7
	}
	if units <= ucsSingle {
		return 1, UCS2
	}
	return splitUCS(body), UCS2
}

// SegmentCount is Segments without the encoding.
func SegmentCount(body string) int {
	n, _ := Segments(body)
	return n
}

// splitGSM and splitUCS count segments of a split message, filling each
// greedily and moving a character that would not fit whole to the next
// segment, as handsets and Twilio do, so no escape pair or surrogate pair is
// torn in two. They are two loops rather than one taking a cost function
// because an indirect call per character doubled the time of long bodies.
func splitGSM(body string) int {
	n, used := 1, 0
	for _, r := range body {
		c := gsmCost(r)
		if used+c > gsmPerPart {
			n++
			used = 0
		}
		used += c
	}
	return n
}

func splitUCS(body string) int {
	n, used := 1, 0
	for _, r := range body {
		c := ucsCost(r)
		if used+c > ucsPerPart {
			n++
			used = 0
		}
		used += c
	}
	return n
}
