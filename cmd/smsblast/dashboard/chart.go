package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// Charts of a campaign's last hour, as SVG written on the server: no
// script, no library, readable by screen readers through their title and
// description, and backed by a table of the same numbers on the page. SVG
// attributes carry the geometry; colours come from the style sheet's
// classes (the CSP allows no inline style).

const (
	chartWindow      = time.Hour
	sendStep         = 10 * time.Second // messages per second, averaged over 10 s
	verdictStep      = time.Minute
	chartW, chartH   = 720, 180
	plotX, plotY     = 48, 10
	plotW, plotH     = chartW - plotX - 8, chartH - plotY - 26
	chartTicksMinute = 15
)

// series is a chart's input: one value per step over the window, oldest first.
type series struct {
	start time.Time // of the first bucket
	step  time.Duration
	vals  []float64
}

// bucketIndex is the index of t's bucket in a window of n steps starting at start.
func bucketIndex(start, t time.Time, step time.Duration, n int) int {
	i := int(t.Sub(start) / step)
	if i < 0 || i >= n {
		return -1
	}
	return i
}

// windowStart is the start of the first of the n buckets of step that end
// with the bucket holding now, aligned as the store aligns them (to the
// Unix epoch).
func windowStart(now time.Time, step time.Duration, n int) time.Time {
	last := now.Truncate(step)
	return last.Add(-time.Duration(n-1) * step)
}

// sendSeries turns SendSeries' buckets into messages per second per 10 s.
func sendSeries(now time.Time, buckets []campaign.SendBucket) series {
	n := int(chartWindow / sendStep)
	s := series{start: windowStart(now, sendStep, n), step: sendStep, vals: make([]float64, n)}
	for _, b := range buckets {
		if i := bucketIndex(s.start, b.Start, sendStep, n); i >= 0 {
			s.vals[i] = float64(b.Accepted) / sendStep.Seconds()
		}
	}
	return s
}

// verdictSeries turns VerdictSeries' buckets into two per-minute series.
func verdictSeries(now time.Time, buckets []campaign.VerdictBucket) (delivered, undelivered series) {
	n := int(chartWindow / verdictStep)
	start := windowStart(now, verdictStep, n)
	delivered = series{start: start, step: verdictStep, vals: make([]float64, n)}
	undelivered = series{start: start, step: verdictStep, vals: make([]float64, n)}
	for _, b := range buckets {
		if i := bucketIndex(start, b.Start, verdictStep, n); i >= 0 {
			delivered.vals[i] = float64(b.Delivered)
			undelivered.vals[i] = float64(b.Undelivered)
		}
	}
	return delivered, undelivered
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, at least 1.
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// axisLabel writes a y-axis value: integers plainly, else one decimal.
func axisLabel(v float64) string {
	if v == math.Trunc(v) {
		return fmtInt(int64(v))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// frame writes the chart's opening tag, title, description, grid and axes.
func frame(b *strings.Builder, id, title, desc string, ymax float64) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d">`, chartW, chartH, id, id)
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, template.HTMLEscapeString(title), id, template.HTMLEscapeString(desc))
	for _, f := range []float64{0, 0.5, 1} {
		y := plotY + plotH - f*plotH
		fmt.Fprintf(b, `<line class="grid" x1="%d" y1="%s" x2="%d" y2="%s"/>`, plotX, num(y), plotX+plotW, num(y))
		fmt.Fprintf(b, `<text class="tick" x="%d" y="%s" text-anchor="end">%s</text>`, plotX-6, num(y+4), axisLabel(f*ymax))
	}
	minutes := int(chartWindow / time.Minute)
	for m := 0; m <= minutes; m += chartTicksMinute {
		x := plotX + float64(m)/float64(minutes)*plotW
		label, anchor := "now", "end"
		switch {
		case m == 0:
			label, anchor = fmt.Sprintf("−%d min", minutes), "start"
		case m < minutes:
			label, anchor = fmt.Sprintf("−%d min", minutes-m), "middle"
		}
		fmt.Fprintf(b, `<text class="tick" x="%s" y="%d" text-anchor="%s">%s</text>`, num(x), chartH-6, anchor, label)
	}
}

// sendChart draws messages per second over the last hour as an area.
func sendChart(s series) template.HTML {
	peak, sum := 0.0, 0.0
	for _, v := range s.vals {
		peak = math.Max(peak, v)
		sum += v
	}
	ymax := niceCeil(peak)
	var b strings.Builder
	frame(&b, "sends", "Messages per second, last hour",
		fmt.Sprintf("Messages Twilio accepted per second, averaged over 10 seconds: peak %.1f, average %.1f over the hour.",
			peak, sum/float64(len(s.vals))), ymax)
	dx := float64(plotW) / float64(len(s.vals))
	var pts strings.Builder
	for i, v := range s.vals {
		x := plotX + (float64(i)+0.5)*dx
		y := plotY + plotH - v/ymax*plotH
		fmt.Fprintf(&pts, "%s,%s ", num(x), num(y))
	}
	base := num(plotY + plotH)
	fmt.Fprintf(&b, `<path class="area" d="M%s,%s L%s L%s,%s Z"/>`, num(plotX+0.5*dx), base,
		strings.TrimSpace(pts.String()), num(plotX+(float64(len(s.vals))-0.5)*dx), base)
	fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.TrimSpace(pts.String()))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// verdictChart draws delivered and undelivered per minute as stacked bars.
func verdictChart(delivered, undelivered series) template.HTML {
	peak, nd, nu := 0.0, 0.0, 0.0
	for i := range delivered.vals {
		peak = math.Max(peak, delivered.vals[i]+undelivered.vals[i])
		nd += delivered.vals[i]
		nu += undelivered.vals[i]
	}
	ymax := niceCeil(peak)
	var b strings.Builder
	frame(&b, "verdicts", "Delivered and undelivered per minute, last hour",
		fmt.Sprintf("Delivery receipts recorded per minute: %s delivered and %s undelivered in the hour.",
			fmtInt(int64(nd)), fmtInt(int64(nu))), ymax)
	dx := float64(plotW) / float64(len(delivered.vals))
	for i := range delivered.vals {
		d, u := delivered.vals[i], undelivered.vals[i]
		if d+u == 0 {
			continue
		}
		x := plotX + float64(i)*dx + 1
		hd, hu := d/ymax*plotH, u/ymax*plotH
		y := plotY + plotH - hd
		fmt.Fprintf(&b, `<rect class="s-delivered" x="%s" y="%s" width="%s" height="%s"/>`, num(x), num(y), num(dx-2), num(hd))
		if u > 0 {
			fmt.Fprintf(&b, `<rect class="s-undelivered" x="%s" y="%s" width="%s" height="%s"/>`, num(x), num(y-hu), num(dx-2), num(hu))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// minuteRow is one minute of the charts' table.
type minuteRow struct {
	Minute                 string
	Accepted               int64
	Rate                   string
	Delivered, Undelivered int64
}

// minuteTable lists the minutes with any activity, newest first: the
// charts' numbers for those who cannot see them.
func minuteTable(sends series, delivered, undelivered series) []minuteRow {
	perMinute := int(verdictStep / sendStep)
	var rows []minuteRow
	for i := len(delivered.vals) - 1; i >= 0; i-- {
		start := delivered.start.Add(time.Duration(i) * verdictStep)
		var accepted float64
		for j := range perMinute {
			if k := bucketIndex(sends.start, start.Add(time.Duration(j)*sendStep), sendStep, len(sends.vals)); k >= 0 {
				accepted += sends.vals[k] * sendStep.Seconds()
			}
		}
		d, u := delivered.vals[i], undelivered.vals[i]
		if accepted == 0 && d == 0 && u == 0 {
			continue
		}
		rows = append(rows, minuteRow{
			Minute: start.UTC().Format("15:04"), Accepted: int64(math.Round(accepted)),
			Rate: fmtRate(accepted / verdictStep.Seconds()), Delivered: int64(d), Undelivered: int64(u),
		})
	}
	return rows
}
