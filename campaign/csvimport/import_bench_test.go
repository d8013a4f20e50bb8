package csvimport_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/csvimport"
	"github.com/smsblast/smsblast/campaign/phone"
	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio"
)

const benchBody = "Hi {{.first_name}}, your {{.plan}} plan renews soon. Reply STOP to opt out."

// writeBenchFiles writes an n-row recipient CSV (phone + first_name, city,
// plan; ~1% invalid numbers, ~1% repeats of an earlier number, 1 in 10
// numbers in US national format, the rest E.164) and the same rows cleaned —
// E.164, deduplicated, attrs as JSON, segments counted — as COPY text for
// campaign id (with their time zones, as the import stores them), the
// baseline's input. It returns the number of clean rows.
func writeBenchFiles(b *testing.B, dir string, n int, campaignID int64) (csvPath, copyPath string, clean int) {
	b.Helper()
	csvPath, copyPath = filepath.Join(dir, "recipients.csv"), filepath.Join(dir, "clean.copy")
	cf, err := os.Create(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	pf, err := os.Create(copyPath)
	if err != nil {
		b.Fatal(err)
	}
	cw, pw := bufio.NewWriterSize(cf, 1<<20), bufio.NewWriterSize(pf, 1<<20)
	tmpl, err := campaign.ParseTemplate(benchBody)
	if err != nil {
		b.Fatal(err)
	}
	cities := []string{"Boston", "Denver", "Austin", "Seattle, WA"}
	plans := []string{"basic", "premium", "family"}
	cw.WriteString("phone,first_name,city,plan\n")
	var line []byte
	for i := range n {
		num := 2000000 + i
		cell := "+1415" + strconv.Itoa(num)
		switch {
		case i%100 == 37:
			cell = "555-" + strconv.Itoa(i%100) // invalid
		case i%100 == 73:
			cell = "+1415" + strconv.Itoa(num-50) // an earlier number again
		case i%10 == 5:
			cell = "(415) " + strconv.Itoa(num)[:3] + "-" + strconv.Itoa(num)[3:]
		}
		first, city, plan := "Name"+strconv.Itoa(i), cities[i%4], plans[i%3]
		line = append(line[:0], cell...)
		line = append(line, ',')
		line = append(line, first...)
		line = append(line, ',')
		line = strconv.AppendQuote(line, city)
		line = append(line, ',')
		line = append(line, plan...)
		line = append(line, '\n')
		cw.Write(line)
		if i%100 == 37 || i%100 == 73 {
			continue
		}
		clean++
		body, err := tmpl.Render(map[string]string{"first_name": first, "city": city, "plan": plan})
		if err != nil {
			b.Fatal(err)
		}
		e164 := "+1415" + strconv.Itoa(num)
		zones := phone.TimeZones(e164)
		if zones == "" {
			zones = `\N`
		}
		fmt.Fprintf(pw, "%d\t%s\t{\"first_name\":%q,\"city\":%q,\"plan\":%q}\t%d\t%d\t%s\n",
			campaignID, e164, first, city, plan, i+2, twilio.SegmentCount(body), zones)
	}
	for _, w := range []*bufio.Writer{cw, pw} {
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	cf.Close()
	pf.Close()
	return csvPath, copyPath, clean
}

// peakMemory samples the live heap while an import runs and reads the
// process's peak RSS (VmHWM, reset first through clear_refs; it includes the
// test binary and the benchmark's own buffers).
type peakMemory struct {
	stop     chan struct{}
	done     chan struct{}
	peakHeap atomic.Uint64
}

func startPeakMemory() *peakMemory {
	runtime.GC()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM; best effort
	p := &peakMemory{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > p.peakHeap.Load() {
				p.peakHeap.Store(v)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// finish returns the peak heap and the peak RSS in MB (RSS 0 if unknown).
func (p *peakMemory) finish() (heapMB, rssMB float64) {
	close(p.stop)
	<-p.done
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for l := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				rssMB = float64(kb) / 1024
			}
		}
	}
	return float64(p.peakHeap.Load()) / (1 << 20), rssMB
}

func BenchmarkImport100k(b *testing.B) { benchmarkImport(b, 100_000, csvimport.Config{}) }

// BenchmarkImport1M is the Performance benchmark: 1,000,000 rows.
// Measured figures are in the README's Performance section.
func BenchmarkImport1M(b *testing.B) { benchmarkImport(b, 1_000_000, csvimport.Config{}) }

// BenchmarkImport1MHeld is BenchmarkImport1M with a filter of one block:
// every row is held and inserted with ON CONFLICT DO NOTHING, a few
// thousand a statement, as after a concurrent import or in a re-import.
// It prices the way the filter spares most rows.
func BenchmarkImport1MHeld(b *testing.B) {
	benchmarkImport(b, 1_000_000, csvimport.Config{FilterBytes: 32})
}

// benchmarkImport imports an n-row CSV into a fresh database and, in the
// same run, times the baseline: a plain COPY of the same rows, already
// cleaned, into recipients of another fresh campaign in the same database.
func benchmarkImport(b *testing.B, n int, cfg csvimport.Config) {
	ctx := context.Background()
	st := pgtest.Store(b)
	im := csvimport.New(st, cfg)
	var tImport, tBase time.Duration
	var cpu int64
	b.ResetTimer()
	var heapMB, rssMB float64
	for i := range b.N {
		b.StopTimer()
		base := &campaign.Campaign{Name: fmt.Sprintf("baseline-%d", i), From: "+15005550006", BodyTemplate: benchBody}
		if err := st.CreateCampaign(ctx, base); err != nil {
			b.Fatal(err)
		}
		csvPath, copyPath, clean := writeBenchFiles(b, b.TempDir(), n, base.ID)

		// Baseline: COPY text straight from the cleaned file, one transaction.
		// Each load starts after a checkpoint, so neither pays for the
		// other's WAL.
		checkpoint(st.Pool())
		start := time.Now()
		copyFile(b, st.Pool(), copyPath)
		tBase += time.Since(start)

		req := fileRequest(fmt.Sprintf("import-%d", i), csvPath, benchBody)
		checkpoint(st.Pool())
		mem := startPeakMemory()
		b.StartTimer()
		start = time.Now()
		cpu0 := csvimport.ProcessCPU()
		res, err := im.Import(ctx, req)
		cpu += csvimport.ProcessCPU() - cpu0
		tImport += time.Since(start)
		b.StopTimer()
		heapMB, rssMB = mem.finish()
		if err != nil {
			b.Fatal(err)
		}
		if res.Imported != clean || res.Read != n {
			b.Fatalf("imported %d of %d rows; want %d", res.Imported, res.Read, clean)
		}
	}
	b.ReportMetric(float64(b.N*n)/tImport.Seconds(), "rows/s")
	b.ReportMetric(tImport.Seconds()/tBase.Seconds(), "x-baseline")
	b.ReportMetric(tBase.Seconds()/float64(b.N), "baseline-s")
	// The importer's own CPU per row (PostgreSQL's is not in it): steadier
	// than the times on a shared machine, and the most a change inside the
	// importer can take off the import's time.
	b.ReportMetric(float64(cpu)/float64(b.N*n), "client-cpu-ns/row")
	b.ReportMetric(heapMB, "peak-heap-MB")
	b.ReportMetric(rssMB, "peak-RSS-MB")
}

// copyFile runs COPY recipients FROM STDIN in one transaction with the file
// as its input: the fastest load of these rows Postgres offers.
func copyFile(b *testing.B, pool *pgxpool.Pool, path string) {
	b.Helper()
	ctx := context.Background()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	tx, err := pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, f,
		"COPY recipients (campaign_id, phone, attrs, source_line, segments, time_zones) FROM STDIN"); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}

// checkpoint flushes the WAL (best effort: it needs a superuser or pg_checkpoint).
func checkpoint(pool *pgxpool.Pool) { _, _ = pool.Exec(context.Background(), "CHECKPOINT") }
