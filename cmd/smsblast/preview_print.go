package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// print writes the preview for a person: the totals, the samples, what
// send would skip, the segments and their encoding, and the cost.
func (pv *preview) print(w io.Writer) {
	fmt.Fprintf(w, "campaign %q: %d recipients pending, %d messages to send\n", pv.Campaign, pv.Pending, pv.ToSend)
	if len(pv.Samples) > 0 {
		fmt.Fprintln(w, "\nSamples:")
		for _, s := range pv.Samples {
			why := ""
			if s.Why != "first" {
				why = ", " + s.Why
			}
			fmt.Fprintf(w, "  line %d (%s)%s: %s, %s\n", s.Line, s.Phone, why, plural(s.Segments, "segment"), s.Encoding)
			for l := range strings.SplitSeq(s.Body, "\n") {
				fmt.Fprintf(w, "    │ %s\n", l)
			}
		}
	}

	fmt.Fprintf(w, "\nSegments: %d in %s", pv.Segments.Total, plural(int(pv.ToSend), "message"))
	ns := make([]int, 0, len(pv.Segments.PerMessage))
	for k := range pv.Segments.PerMessage {
		n, _ := strconv.Atoi(k)
		ns = append(ns, n)
	}
	slices.Sort(ns)
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprintf("%s: %d", plural(n, "segment"), pv.Segments.PerMessage[strconv.Itoa(n)])
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Encoding: %d GSM-7, %d UCS-2 (70 characters a segment instead of 160)\n", pv.Encoding.GSM7, pv.Encoding.UCS2)
	if len(pv.Encoding.Culprits) > 0 {
		fmt.Fprintln(w, "  forced into UCS-2 by:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, cu := range pv.Encoding.Culprits {
			lines := make([]string, len(cu.FirstLines))
			for i, l := range cu.FirstLines {
				lines[i] = strconv.Itoa(l)
			}
			note := ""
			if cu.SmartEncodable {
				note = "--smart-encode replaces it"
			}
			fmt.Fprintf(tw, "    %s\t%s\tin %s\tfirst on line %s\t%s\n", quoteChar(cu.Char), cu.Code,
				plural(int(cu.Messages), "message"), strings.Join(lines, ", "), note)
		}
		tw.Flush()
	}
	sm := pv.SmartEncode
	saving := fmt.Sprintf("%d segments (%d → %d UCS-2 messages)", sm.SegmentsWithout-sm.SegmentsWith, sm.UCS2Without, sm.UCS2With)
	switch {
	case sm.On && sm.UCS2Without > sm.UCS2With:
		fmt.Fprintf(w, "Smart encoding: on; it saves %s\n", saving)
	case sm.On:
		fmt.Fprintln(w, "Smart encoding: on; it changes no message's encoding here")
	case sm.UCS2With < sm.UCS2Without:
		fmt.Fprintf(w, "Smart encoding: off; --smart-encode would save %s\n", saving)
	}

	sk := pv.Skips
	fmt.Fprintln(w, "\nSend would skip:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  opted out\t%d\t\n", sk.OptedOut)
	if sk.FrequencyCap != "none" {
		fmt.Fprintf(tw, "  frequency-capped (cap %s)\t%d\t\n", sk.FrequencyCap, sk.FrequencyCapped)
	}
	fmt.Fprintf(tw, "  bodies that cannot be sent\t%d\t\n", sk.Unsendable)
	printByKind(tw, "    ", sk.UnsendableBy)
	tw.Flush()
	if len(pv.HeldByWindow) > 0 {
		fmt.Fprintln(w, "Held now by send windows (sent when they open):")
		for _, h := range pv.HeldByWindow {
			fmt.Fprintf(w, "  %d: %s\n", h.Recipients, h)
		}
	}

	cost := pv.Cost
	fmt.Fprintf(w, "\nCost estimate (%s):\n", cost.Source)
	if len(cost.ByCountry) == 0 {
		fmt.Fprintln(w, "  nothing to send")
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, cc := range cost.ByCountry {
		country := cmp.Or(cc.Country, "unknown")
		if cc.Price == nil {
			fmt.Fprintf(tw, "  %s\t%s\t%s\tno price: not counted\n", country, plural(int(cc.Messages), "message"), plural(int(cc.Segments), "segment"))
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t× %g = %.2f %s\n", country, plural(int(cc.Messages), "message"),
			plural(int(cc.Segments), "segment"), *cc.Price, *cc.Cost, cost.Currency)
	}
	tw.Flush()
	switch {
	case len(cost.ByCountry) > 0 && cost.Currency == "":
		fmt.Fprintln(w, "  no prices: give --price 0.0083USD or --prices prices.csv (here, or to import/set to keep them)")
	case !cost.Complete:
		fmt.Fprintf(w, "  total %.2f %s, without the countries that have no price (add them with --prices)\n", cost.Total, cost.Currency)
	case len(cost.ByCountry) > 0:
		fmt.Fprintf(w, "  total %.2f %s\n", cost.Total, cost.Currency)
	}
	if b := pv.Budget; b != nil {
		var parts []string
		if b.Segments > 0 {
			parts = append(parts, fmt.Sprintf("%d segments (%d spent)", b.Segments, b.SpentSegments))
		}
		if b.Amount > 0 {
			parts = append(parts, fmt.Sprintf("%.2f %s (%.2f spent)", b.Amount, cost.Currency, b.SpentAmount))
		}
		verdict := "enough for these messages"
		if !b.Enough {
			verdict = "not enough for these messages: send pauses when it is reached (raise it with smsblast set)"
		}
		fmt.Fprintf(w, "Budget: %s: %s\n", strings.Join(parts, ", "), verdict)
	}
}

// quoteChar quotes a character for a terminal: spaces and invisible
// characters (a no-break space, a tab) as escapes, the rest as they look.
func quoteChar(c string) string {
	r, _ := utf8.DecodeRuneInString(c)
	if unicode.IsSpace(r) || !unicode.IsGraphic(r) {
		return strconv.QuoteToASCII(c)
	}
	return strconv.Quote(c)
}

// plural is "1 segment", "3 segments".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
