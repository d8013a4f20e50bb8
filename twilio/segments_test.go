package twilio

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSegments(t *testing.T) {
	t.Parallel()
	a := func(n int) string { return strings.Repeat("a", n) }
	const emoji = "😀" // outside the BMP: a surrogate pair, 2 UTF-16 units
	tests := []struct {
		name string
		body string
		want int
		enc  Encoding
	}{
		{"empty counts as one", "", 1, GSM7},
		{"short", "Hello, world!", 1, GSM7},
		{"gsm basic non-ascii", "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà@$_\n\r", 1, GSM7},
		{"gsm 160", a(160), 1, GSM7},
		{"gsm 161", a(161), 2, GSM7},
		{"gsm 306", a(306), 2, GSM7},
		{"gsm 307", a(307), 3, GSM7},
		{"extension chars count 2: 80 fit one segment", strings.Repeat("€", 80), 1, GSM7},
		{"extension chars count 2: 81 do not", strings.Repeat("{", 81), 2, GSM7},
		{"each extension char", "^{}\\[~]|€\f", 1, GSM7},
		{"extension 158+2", a(158) + "^", 1, GSM7},
		{"extension 159+2", a(159) + "^", 2, GSM7},
		// 152 septets then an escape pair: 154 would straddle the first
		// boundary, so the pair moves whole to segment two (152 | 2+...).
		{"escape pair not split", a(152) + "€" + a(152), 3, GSM7},
		{"escape pair fits exactly", a(151) + "€" + a(153), 2, GSM7},
		{"backtick forces ucs2", "a`b", 1, UCS2},
		{"lowercase c cedilla forces ucs2", "ç", 1, UCS2},
		{"ucs2 70", "é" + strings.Repeat("ж", 69), 1, UCS2},
		{"ucs2 71", strings.Repeat("ж", 71), 2, UCS2},
		{"ucs2 134", strings.Repeat("ж", 134), 2, UCS2},
		{"ucs2 135", strings.Repeat("ж", 135), 3, UCS2},
		{"ascii plus one non-gsm char", a(70) + "ж", 2, UCS2},
		{"emoji", "hi " + emoji, 1, UCS2},
		{"35 emoji = 70 units", strings.Repeat(emoji, 35), 1, UCS2},
		{"36 emoji = 72 units", strings.Repeat(emoji, 36), 2, UCS2},
		// 66 units then a surrogate pair: it moves whole to segment two.
		{"surrogate pair not split", strings.Repeat("ж", 66) + emoji + strings.Repeat("ж", 66), 3, UCS2},
		{"surrogate pair fits exactly", strings.Repeat("ж", 65) + emoji + strings.Repeat("ж", 67), 2, UCS2},
		{"invalid utf-8 forces ucs2", "a\xffb", 1, UCS2},
		{"1600 chars gsm", a(1600), 11, GSM7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, enc := Segments(tt.body)
			if n != tt.want || enc != tt.enc {
				t.Errorf("Segments(%d chars) = %d, %v; want %d, %v", utf8.RuneCountInString(tt.body), n, enc, tt.want, tt.enc)
			}
			if got := SegmentCount(tt.body); got != tt.want {
				t.Errorf("SegmentCount = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEncodingString(t *testing.T) {
	t.Parallel()
	for enc, want := range map[Encoding]string{GSM7: "GSM-7", UCS2: "UCS-2", 7: "Encoding(7)"} {
		if got := enc.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(enc), got, want)
		}
	}
}

func TestSegmentsAllocationFree(t *testing.T) {
	bodies := []string{"Hi Ann, your appointment is at 10:00.", strings.Repeat("€a", 200), strings.Repeat("ж😀", 100)}
	for _, b := range bodies {
		if n := testing.AllocsPerRun(100, func() { SegmentCount(b) }); n != 0 {
			t.Errorf("SegmentCount allocates %v times per call", n)
		}
	}
}

// BenchmarkSegmentCount times a typical one-segment reminder and a
// three-segment UCS-2 body against a baseline that only ranges over the runes
// (the least any counter must do), reporting the ratio as x-baseline.
func BenchmarkSegmentCount(b *testing.B) {
	bodies := map[string]string{
		"gsm-1":  "Hi Ann, your appointment at Main St Clinic is tomorrow at 10:00. Reply STOP to opt out.",
		"ucs2-3": strings.Repeat("Привет 😀 ", 20),
		"gsm-5":  strings.Repeat("Long message with {braces} ", 25),
	}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			var sink int
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				sink += SegmentCount(body)
			}
			// The baseline runs as many iterations, timed by hand, in the
			// same run so the ratio does not depend on the machine.
			start := time.Now()
			for range b.N {
				for _, r := range body {
					sink += int(r)
				}
			}
			base := time.Since(start)
			b.ReportMetric(float64(b.Elapsed())/float64(max(base, 1)), "x-baseline")
			_ = sink
		})
	}
}
