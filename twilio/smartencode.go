package twilio

import (
	"strings"
	"unicode/utf8"
)

// lookalikes is the one table of smart encoding: typographic characters
// that GSM-7 cannot carry, each with the GSM-7 text that looks like it.
// Every key forces UCS-2 on its own and every replacement is GSM-7 (the
// tests check both against gsmCost), so replacing them never makes a body
// dearer. Letters are left alone: "ç" becomes "c" only by changing what the
// message says; these are punctuation and spacing, which word processors
// and phones put in for their looks.
var lookalikes = map[rune]string{
	// Double quotation marks.
	'\u00AB': `"`, '\u00BB': `"`, '\u201C': `"`, '\u201D': `"`, '\u201E': `"`, '\u201F': `"`,
	'\u2033': `"`, '\u2036': `"`, '\u02BA': `"`, '\u02EE': `"`, '\u275D': `"`, '\u275E': `"`,
	'\u301D': `"`, '\u301E': `"`, '\u301F': `"`, '\uFF02': `"`,
	// Single quotation marks, apostrophes, primes and accents used as them.
	'\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'", '\u2032': "'", '\u2035': "'",
	'\u02B9': "'", '\u02BB': "'", '\u02BC': "'", '\u02BD': "'", '\u02C8': "'", '\u02CA': "'",
	'\u02CB': "'", '\u00B4': "'", '`': "'", '\u275B': "'", '\u275C': "'", '\uFF07': "'",
	'\u2039': "<", '\u203A': ">",
	// Hyphens, dashes and minus signs.
	'\u2010': "-", '\u2011': "-", '\u2012': "-", '\u2013': "-", '\u2014': "-", '\u2015': "-",
	'\u2043': "-", '\u2212': "-", '\uFE58': "-", '\uFE63': "-", '\uFF0D': "-",
	// Dots.
	'\u2026': "...", '\u2024': ".", '\u2025': "..",
	// Spaces of other widths, and the tab.
	'\t': " ", '\u00A0': " ", '\u2000': " ", '\u2001': " ", '\u2002': " ", '\u2003': " ",
	'\u2004': " ", '\u2005': " ", '\u2006': " ", '\u2007': " ", '\u2008': " ", '\u2009': " ",
	'\u200A': " ", '\u202F': " ", '\u205F': " ", '\u3000': " ",
	// Invisible characters: dropped. (The zero-width joiner is kept: it
	// builds emoji, which need UCS-2 anyway.)
	'\u200B': "", '\u2060': "", '\uFEFF': "", '\u00AD': "",
	// Other look-alikes.
	'\u2044': "/", '\u2215': "/", '\u00B8': ",", '\u02C6': "^", '\u02DC': "~", '\u2022': "-",
	'\uFF0C': ",", '\uFF0E': ".", '\uFF1A': ":", '\uFF1B': ";", '\uFF01': "!", '\uFF1F': "?",
}

// SmartEncode replaces the characters of body that have a GSM-7 look-alike
// (curly quotes, long dashes, the ellipsis, non-breaking and other spaces …)
// with it, so that a body whose only non-GSM-7 characters are such
// typography travels as GSM-7. smsblast does this itself, before counting
// segments, rather than asking Twilio to (its SmartEncoded parameter): the
// count it reserves, budgets and shows is then the count Twilio bills.
// Other characters (emoji, letters of other alphabets) are kept, and keep
// the body UCS-2, and bytes that are not UTF-8 are copied as they are. A
// body with nothing to replace is returned as is, without allocating. Safe for concurrent use.
func SmartEncode(body string) string {
	first := -1
	for i := 0; i < len(body); {
		c := body[i]
		if c < utf8.RuneSelf {
			if c == '`' || c == '\t' {
				first = i
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(body[i:])
		if _, ok := lookalikes[r]; ok {
			first = i
			break
		}
		i += size
	}
	if first < 0 {
		return body
	}
	var b strings.Builder
	b.Grow(len(body))
	b.WriteString(body[:first])
	for i := first; i < len(body); {
		r, size := utf8.DecodeRuneInString(body[i:])
		if s, ok := lookalikes[r]; ok {
			b.WriteString(s)
		} else {
			b.WriteString(body[i : i+size]) // invalid UTF-8 too, byte for byte
		}
		i += size
	}
	return b.String()
}

// IsGSM7 reports whether r travels in GSM-7: one that is not forces the
// whole message into UCS-2.
func IsGSM7(r rune) bool { return gsmCost(r) > 0 }

// SmartEncodes reports whether SmartEncode replaces r.
func SmartEncodes(r rune) bool {
	_, ok := lookalikes[r]
	return ok
}
