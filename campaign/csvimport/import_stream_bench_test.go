package csvimport

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
)

// BenchmarkImportStream times the client side of an import alone — CSV
// reading, phone normalisation, attrs JSON, body rendering and segments,
// ordered deduplication — without the database, against the baseline of
// reading the same file with Reader only. It shows how much of a core the
// import leaves to PostgreSQL's COPY.
func BenchmarkImportStream(b *testing.B) {
	const rows = 200000
	var buf bytes.Buffer
	buf.WriteString("phone,first_name,city,plan\n")
	for i := range rows {
		phone := fmt.Sprintf("+1415%07d", 2000000+i)
		if i%10 == 5 {
			phone = fmt.Sprintf("(415) %03d-%04d", 200+i/10000, i%10000)
		}
		fmt.Fprintf(&buf, "%s,Name%d,\"Seattle, WA\",premium\n", phone, i)
	}
	data := buf.Bytes()
	tmpl, _ := campaign.ParseTemplate("Hi {{.first_name}}, your {{.plan}} plan renews soon. Reply STOP to opt out.")
	norm, _ := phone.NewNormalizer("US")
	var tStream, tRead time.Duration
	var cpuPerRow float64
	for b.Loop() {
		start := time.Now()
		cr, _ := NewReader(bytes.NewReader(data), 0)
		for {
			if _, err := cr.Read(); err != nil {
				break
			}
		}
		tRead += time.Since(start)

		start = time.Now()
		cr, _ = NewReader(bytes.NewReader(data), 0)
		cols, err := PlanColumns(cr.Header(), "")
		if err != nil {
			b.Fatal(err)
		}
		res := &Result{}
		rl := newRejectLog(100)
		cpu0 := processCPU()
		f := newPhoneFilter(32 << 20)
		s := newImportStream(context.Background(), Config{Workers: runtime.NumCPU(), BatchSize: 512}, cr,
			&importPlan{cols: cols, tmpl: tmpl, norm: norm}, f, newHeldRows(8192, 8192*512), rl, res, nil)
		drainStream(b, s, func(campaign.ImportRow) {})
		s.close()
		f.release()
		cpuPerRow = float64(processCPU()-cpu0) / rows
		tStream += time.Since(start)
		if s.Err() != nil || res.Read != rows {
			b.Fatalf("read %d: %v", res.Read, s.Err())
		}
	}
	b.ReportMetric(float64(tStream.Nanoseconds())/float64(b.N*rows), "ns/row")
	b.ReportMetric(cpuPerRow, "cpu-ns/row")
	b.ReportMetric(float64(tStream)/float64(tRead), "x-baseline")
}
