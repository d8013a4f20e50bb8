//go:build linux

package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
	"github.com/smsblast/smsblast/twilio"
)

// BenchmarkScale is `make bench-scale`: the built binary, each command its
// own process, against its embedded PostgreSQL with the durable settings
// it ships with (fsync, synchronous_commit and full_page_writes on), in a
// throw-away home. It imports SMSBLAST_BENCH_SCALE rows and, for
// comparison, a tenth as many up to 1M; sends SMSBLAST_BENCH_SEND of them
// (1M) at full speed against `smsblast sim` running as its own process;
// reports the big campaign; and prints one table: wall time and peak RSS
// of each process (the child's own getrusage), the database's size by
// table, and the same-run baselines, a plain COPY of the same rows into
// the same table of a twin database and a plain COPY (SELECT …) TO STDOUT
// of the same report. It refuses to start when SMSBLAST_BENCH_DIR (the
// temporary directory by default) lacks the room, and removes what it made.
// Run it with -benchtime 1x: it does its work once, whatever b.N.
func BenchmarkScale(b *testing.B) {
	rows := envInt(b, "SMSBLAST_BENCH_SCALE", 0)
	if rows == 0 {
		b.Skip("set SMSBLAST_BENCH_SCALE=ROWS, or run make bench-scale")
	}
	if rows < 1000 {
		b.Fatalf("SMSBLAST_BENCH_SCALE=%d: give at least 1000 rows", rows)
	}
	small := min(1_000_000, rows/10)
	sends := min(envInt(b, "SMSBLAST_BENCH_SEND", 1_000_000), rows/2)
	dir := cmp.Or(os.Getenv("SMSBLAST_BENCH_DIR"), os.TempDir())
	checkScaleDisk(b, dir, rows+small)

	bin := os.Getenv("SMSBLAST_BENCH_BIN")
	if bin == "" {
		bin = buildBinary(b)
	}
	s := newScaleRun(b, bin, dir)
	s.note("bench-scale: %d rows (and %d), %d sends, in %s", rows, small, sends, s.home)
	load := startLoadSampler(dir)

	// The server, and a twin database for the baselines: the same
	// migrations, so the same table, indexes and triggers.
	s.smsblast("db", "sql", "SELECT 1")
	s.url = strings.TrimSpace(s.smsblast("db", "url"))
	s.exec(s.url, "CREATE DATABASE scale_baseline")
	twinURL := strings.Replace(s.url, "/smsblast?", "/scale_baseline?", 1)
	header := filepath.Join(s.home, "header.csv")
	if err := os.WriteFile(header, []byte("phone,first_name,plan\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"baseline-small", "baseline-scale"} {
		s.smsblast("import", name, header, "--db", twinURL, "--from", "+15005550006", "--body", scaleBody)
	}
	smallIDs, scaleIDs := s.campaignID(twinURL, "baseline-small"), s.campaignID(twinURL, "baseline-scale")

	s.note("writing %d + %d rows of CSV and of COPY text", rows, small)
	smallCSV, smallCopy, smallClean := writeScaleFiles(b, s.home, "small", small, smallIDs)
	scaleCSV, scaleCopy, scaleClean := writeScaleFiles(b, s.home, "scale", rows, scaleIDs)

	t := &scaleTable{rows: rows, small: small}
	// Each load starts after a checkpoint, so none pays for another's WAL.
	for _, run := range []struct {
		n, clean        int
		csv, copy, name string
		baseID          int64
	}{{small, smallClean, smallCSV, smallCopy, "small", smallIDs}, {rows, scaleClean, scaleCSV, scaleCopy, "scale", scaleIDs}} {
		s.note("import %d rows", run.n)
		s.exec(s.url, "CHECKPOINT")
		imp := s.measure("import", run.name, run.csv, "--from", "+15005550006", "--body", scaleBody, "--send-window", "any")
		s.note("plain COPY of the %d clean rows", run.clean)
		s.exec(twinURL, "CHECKPOINT")
		base := s.copyIn(twinURL, run.copy)
		t.imports = append(t.imports, scaleImport{rows: run.n, clean: run.clean, proc: imp, copy: base})
		if got := s.count(s.url, "SELECT count(*) FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1", run.name); got != int64(run.clean) {
			b.Fatalf("campaign %s has %d recipients; want %d", run.name, got, run.clean)
		}
	}
	s.exec(s.url, "DROP DATABASE scale_baseline")

	s.note("status")
	t.statusFirst = s.measure("status", "scale")
	t.statusAgain = s.measure("status", "scale")
	t.statsQuery = s.timeQuery(s.url, "SELECT * FROM campaign_stats")

	s.note("send %d at full speed", sends)
	s.smsblast("senders", "set", "+15005550006", "--mps", "10000")
	s.smsblast("set", "scale", "--budget-segments", strconv.Itoa(sends))
	sim := s.startSim()
	t.send = s.measure("send", "scale", "--rate", "10000", "--concurrency", "64")
	t.sim = sim.stop()
	t.sent = s.count(s.url, "SELECT count(*) FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = 'scale' AND r.status <> 'pending'")
	t.statusSent = s.measure("status", "scale")

	s.note("report %d rows", scaleClean)
	t.report = s.measure("report", "scale", "--output", "/dev/null")
	t.reportCopy = s.copyOut(s.url, "scale")

	t.dbSize, t.tables = s.sizes()
	t.server = s.serverSettings()
	t.load, t.diskPeak = load.stop()
	t.print(os.Stdout)

	b.ReportMetric(t.imports[1].proc.wall.Seconds()/t.imports[1].copy.Seconds(), "import-x-copy")
	b.ReportMetric(float64(t.imports[1].proc.maxRSS)/(1<<20), "import-peak-RSS-MB")
	b.ReportMetric(float64(t.imports[0].proc.maxRSS)/(1<<20), "import-small-peak-RSS-MB")
	b.ReportMetric(t.report.wall.Seconds()/t.reportCopy.Seconds(), "report-x-copy")
}

// scaleBody is one segment of GSM-7, reading both attributes.
const scaleBody = "Hi {{.first_name}}, your {{.plan}} plan renews soon."

// scaleAreaCodes are California's: every number in one time zone, and room
// for 80M numbers.
var scaleAreaCodes = []string{"415", "510", "650", "408", "707", "925", "916", "209", "559", "661"}

// scaleBytesPerRow is the disk a row of the run takes at its peak, with
// room to spare: measured, about 1 KB (the run's table says), for the
// recipient in the database (340 bytes with its indexes before a send;
// the README's 1.1 GB per million is after every message was sent and
// delivered) and again in the twin for the baseline, the CSV and COPY
// files, the report's sort, and WAL.
const scaleBytesPerRow = 2000

// checkScaleDisk refuses to start when dir has not the room for rows.
func checkScaleDisk(b *testing.B, dir string, rows int) {
	b.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		b.Fatalf("bench-scale: read the free space of %s: %v", dir, err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	need := int64(rows)*scaleBytesPerRow + 4<<30
	if free < need {
		fit := max((free-4<<30)/scaleBytesPerRow*10/11, 0)
		b.Fatalf("bench-scale: %d rows need about %.0f GB free in %s, which has %.0f GB: free some, "+
			"point SMSBLAST_BENCH_DIR (make bench-scale SCALE_DIR=…) at a bigger disk, or run fewer rows (SCALE=%d fits)",
			rows, float64(need)/1e9, dir, float64(free)/1e9, fit)
	}
}

// writeScaleFiles writes an n-row CSV (a phone and two attributes; 1% of
// numbers invalid, 1% repeating an earlier one, 1 in 10 in US national
// format, the rest E.164) and the same rows cleaned as the import stores
// them, as COPY text for campaign id: E.164, deduplicated, attrs as JSON,
// segments and time zones. It returns both paths and the clean rows.
func writeScaleFiles(b *testing.B, dir, name string, n int, campaignID int64) (csvPath, copyPath string, clean int) {
	b.Helper()
	csvPath, copyPath = filepath.Join(dir, name+".csv"), filepath.Join(dir, name+".copy")
	cf, err := os.Create(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	defer cf.Close()
	pf, err := os.Create(copyPath)
	if err != nil {
		b.Fatal(err)
	}
	defer pf.Close()
	cw, pw := bufio.NewWriterSize(cf, 1<<20), bufio.NewWriterSize(pf, 1<<20)
	tmpl, err := campaign.ParseTemplate(scaleBody)
	if err != nil {
		b.Fatal(err)
	}
	plans := []string{"basic", "premium", "family"}
	// Row i's number: its area code by i mod 10, its seven digits a
	// scramble of i / 10 (a multiplication modulo 8,000,000 by a number
	// prime to it, so one to one): a list in no order of its numbers, as
	// exports are, whose inserts land all over the phone index.
	number := func(i int) (area, local string) {
		k := i / len(scaleAreaCodes)
		return scaleAreaCodes[i%len(scaleAreaCodes)], strconv.Itoa(2000000 + k*2654435761%8000000)
	}
	cw.WriteString("phone,first_name,plan\n")
	attrs := map[string]string{}
	for i := range n {
		area, local := number(i)
		cell := "+1" + area + local
		switch {
		case i%100 == 37:
			cell = "555-" + strconv.Itoa(i%100) // invalid
		case i%100 == 73:
			area, local = number(i - 50) // an earlier number again
			cell = "+1" + area + local
		case i%10 == 5:
			cell = "(" + area + ") " + local[:3] + "-" + local[3:]
		}
		first, plan := "Name"+strconv.Itoa(i), plans[i%3]
		fmt.Fprintf(cw, "%s,%s,%s\n", cell, first, plan)
		if i%100 == 37 || i%100 == 73 {
			continue
		}
		clean++
		attrs["first_name"], attrs["plan"] = first, plan
		body, err := tmpl.Render(attrs)
		if err != nil {
			b.Fatal(err)
		}
		e164 := "+1" + area + local
		zones := cmp.Or(phone.TimeZones(e164), `\N`)
		fmt.Fprintf(pw, "%d\t%s\t{\"first_name\": %q, \"plan\": %q}\t%d\t%d\t%s\n",
			campaignID, e164, first, plan, i+2, twilio.SegmentCount(body), zones)
	}
	for _, w := range []*bufio.Writer{cw, pw} {
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	return csvPath, copyPath, clean
}

// scaleRun is one run's home, binary and environment.
type scaleRun struct {
	b    *testing.B
	bin  string
	home string
	env  []string
	url  string
	// token is the simulator's auth token; sid its account.
	token, sid string
}

func newScaleRun(b *testing.B, bin, dir string) *scaleRun {
	home, err := os.MkdirTemp(dir, "smsblast-scale-")
	if err != nil {
		b.Fatal(err)
	}
	// As root, the embedded server runs as another user, who must reach it.
	if err := os.Chmod(home, 0o711); err != nil {
		b.Fatal(err)
	}
	s := &scaleRun{b: b, bin: bin, home: home, token: randomHex(b), sid: "AC" + randomHex(b)}
	s.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "SMSBLAST_HOME=" + home}
	b.Cleanup(func() {
		// Stop the server even when a step failed; then remove everything.
		cmd := exec.Command(bin, "db", "stop")
		cmd.Env = s.env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Logf("smsblast db stop: %v: %s", err, out)
		}
		os.RemoveAll(home)
	})
	return s
}

func randomHex(b *testing.B) string {
	var k [16]byte
	if _, err := rand.Read(k[:]); err != nil {
		b.Fatal(err)
	}
	return hex.EncodeToString(k[:])
}

// note says on stderr what the run is doing: it takes a while.
func (s *scaleRun) note(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// procStat is what one child process took.
type procStat struct {
	wall   time.Duration
	maxRSS int64 // bytes
	cpu    time.Duration
}

// measure runs smsblast to its end and reads its time and peak memory
// from its own rusage (ru_maxrss: the child alone; the server it talks to
// is another process tree).
func (s *scaleRun) measure(args ...string) procStat {
	s.b.Helper()
	_, ps := s.run(args...)
	return ps
}

func rusageOf(ps *os.ProcessState, wall time.Duration) procStat {
	ru, _ := ps.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return procStat{wall: wall}
	}
	return procStat{wall: wall, maxRSS: ru.Maxrss << 10, // KiB on Linux
		cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

// smsblast runs a command that is not measured and returns its output.
func (s *scaleRun) smsblast(args ...string) string {
	s.b.Helper()
	out, _ := s.run(args...)
	return out
}

// run runs smsblast to its end, failing the benchmark if it fails, and
// returns its output and what it cost.
func (s *scaleRun) run(args ...string) (string, procStat) {
	s.b.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		s.b.Fatalf("smsblast %s: %v\n%s\n%s", strings.Join(args, " "), err, tail(out.String(), 2000), tail(errb.String(), 2000))
	}
	return out.String(), rusageOf(cmd.ProcessState, wall)
}

func (s *scaleRun) connect(url string) *pgx.Conn {
	s.b.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		s.b.Fatal(err)
	}
	return conn
}

func (s *scaleRun) exec(url, sql string) {
	s.b.Helper()
	conn := s.connect(url)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		s.b.Fatalf("%s: %v", sql, err)
	}
}

func (s *scaleRun) count(url, sql string, args ...any) int64 {
	s.b.Helper()
	conn := s.connect(url)
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		s.b.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (s *scaleRun) campaignID(url, name string) int64 {
	return s.count(url, "SELECT id FROM campaigns WHERE name = $1", name)
}

// timeQuery is how long one query takes, rows read, on an open connection.
func (s *scaleRun) timeQuery(url, sql string) time.Duration {
	s.b.Helper()
	conn := s.connect(url)
	defer conn.Close(context.Background())
	start := time.Now()
	rows, err := conn.Query(context.Background(), sql)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
	}
	if err != nil {
		s.b.Fatalf("%s: %v", sql, err)
	}
	return time.Since(start)
}

// copyIn is the import's baseline: COPY recipients FROM STDIN of the
// cleaned rows, in one transaction, committed (durably, as an import is).
func (s *scaleRun) copyIn(url, path string) time.Duration {
	s.b.Helper()
	f, err := os.Open(path)
	if err != nil {
		s.b.Fatal(err)
	}
	defer f.Close()
	conn := s.connect(url)
	defer conn.Close(context.Background())
	ctx := context.Background()
	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		s.b.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := conn.PgConn().CopyFrom(ctx, f,
		"COPY recipients (campaign_id, phone, attrs, source_line, segments, time_zones) FROM STDIN"); err != nil {
		s.b.Fatalf("baseline COPY: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		s.b.Fatal(err)
	}
	return time.Since(start)
}

// copyOut is the report's baseline: the report's query, its rows as CSV
// through COPY TO STDOUT, thrown away as they arrive.
func (s *scaleRun) copyOut(url, name string) time.Duration {
	s.b.Helper()
	id := s.campaignID(url, name)
	conn := s.connect(url)
	defer conn.Close(context.Background())
	start := time.Now()
	_, err := conn.PgConn().CopyTo(context.Background(), io.Discard, fmt.Sprintf(`
		COPY (SELECT recipient_id, campaign, phone, attrs, source_line, status, twilio_status, error_code,
		             error_description, message_sid, attempts, segments, sent_at, delivered_at, updated_at, opted_out_at
		      FROM recipient_results WHERE campaign_id = %d ORDER BY recipient_id) TO STDOUT (FORMAT csv)`, id))
	if err != nil {
		s.b.Fatalf("baseline COPY TO: %v", err)
	}
	return time.Since(start)
}

// simProc is `smsblast sim` running as its own process.
type simProc struct {
	s    *scaleRun
	cmd  *exec.Cmd
	errb bytes.Buffer
}

// startSim starts the simulator at full speed (no latency, no callbacks)
// and points the run's environment at it.
func (s *scaleRun) startSim() *simProc {
	s.b.Helper()
	p := &simProc{s: s, cmd: exec.Command(s.bin, "sim", "--addr", "127.0.0.1:0", "--callbacks=false", "--account-sid", s.sid)}
	p.cmd.Env = append(slices.Clone(s.env), "TWILIO_AUTH_TOKEN="+s.token)
	p.cmd.Stderr = &p.errb
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		s.b.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		s.b.Fatal(err)
	}
	s.b.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "export TWILIO_API_URL="); ok {
			s.env = append(s.env, "TWILIO_API_URL="+u, "TWILIO_ACCOUNT_SID="+s.sid, "TWILIO_AUTH_TOKEN="+s.token)
			go io.Copy(io.Discard, out)
			return p
		}
	}
	s.b.Fatalf("smsblast sim did not say where it listens: %s", p.errb.String())
	return nil
}

// stop interrupts the simulator and returns what it took.
func (p *simProc) stop() procStat {
	p.s.b.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	err := p.cmd.Wait()
	if err != nil {
		p.s.b.Fatalf("smsblast sim: %v: %s", err, tail(p.errb.String(), 2000))
	}
	return rusageOf(p.cmd.ProcessState, 0)
}

// tableSize is one table's size with its indexes, TOAST and partitions.
type tableSize struct {
	name  string
	bytes int64
}

func (s *scaleRun) sizes() (int64, []tableSize) {
	s.b.Helper()
	conn := s.connect(s.url)
	defer conn.Close(context.Background())
	ctx := context.Background()
	var db int64
	if err := conn.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&db); err != nil {
		s.b.Fatal(err)
	}
	// A partitioned table's size is its partitions'.
	rows, err := conn.Query(ctx, `
		SELECT c.relname, CASE WHEN c.relkind = 'p'
		                       THEN (SELECT sum(pg_total_relation_size(p.relid)) FROM pg_partition_tree(c.oid) p)
		                       ELSE pg_total_relation_size(c.oid) END::bigint AS bytes
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY bytes DESC LIMIT 5`)
	if err != nil {
		s.b.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableSize, error) {
		var t tableSize
		return t, r.Scan(&t.name, &t.bytes)
	})
	if err != nil {
		s.b.Fatal(err)
	}
	return db, tables
}

func (s *scaleRun) serverSettings() string {
	s.b.Helper()
	conn := s.connect(s.url)
	defer conn.Close(context.Background())
	var v, fsync, syncCommit, fpw, buffers string
	err := conn.QueryRow(context.Background(), `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('full_page_writes'), current_setting('shared_buffers')`).
		Scan(&v, &fsync, &syncCommit, &fpw, &buffers)
	if err != nil {
		s.b.Fatal(err)
	}
	return fmt.Sprintf("embedded PostgreSQL %s (fsync %s, synchronous_commit %s, full_page_writes %s, shared_buffers %s)",
		v, fsync, syncCommit, fpw, buffers)
}

// loadSampler reads the 1-minute load average and the free space of the
// run's disk every 5 s during the run.
type loadSampler struct {
	dir       string
	stopc     chan struct{}
	done      chan struct{}
	mu        sync.Mutex
	sum       float64
	n         int
	peak      float64
	freeMax   int64 // free space at the start (or more, if others freed some)
	freeLeast int64
}

func startLoadSampler(dir string) *loadSampler {
	l := &loadSampler{dir: dir, stopc: make(chan struct{}), done: make(chan struct{}), freeLeast: -1}
	go func() {
		defer close(l.done)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			l.sample()
			select {
			case <-l.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return l
}

func (l *loadSampler) sample() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if v, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64); err == nil {
			l.sum, l.n, l.peak = l.sum+v, l.n+1, max(l.peak, v)
		}
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(l.dir, &fs) == nil {
		free := int64(fs.Bavail) * int64(fs.Bsize)
		l.freeMax = max(l.freeMax, free)
		if l.freeLeast < 0 || free < l.freeLeast {
			l.freeLeast = free
		}
	}
}

// stop ends the sampling and says what it saw: the load, and the most disk
// the run took (other users of the disk count in it too).
func (l *loadSampler) stop() (load string, diskPeak int64) {
	close(l.stopc)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("load average (1 min) %.1f mean, %.1f peak", l.sum/float64(max(l.n, 1)), l.peak), l.freeMax - l.freeLeast
}

// scaleTable is what the run measured.
type scaleTable struct {
	rows, small                          int
	imports                              []scaleImport
	statusFirst, statusAgain, statusSent procStat
	statsQuery                           time.Duration
	send, sim                            procStat
	sent                                 int64
	report                               procStat
	reportCopy                           time.Duration
	dbSize, diskPeak                     int64
	tables                               []tableSize
	server, load                         string
}

type scaleImport struct {
	rows, clean int
	proc        procStat
	copy        time.Duration
}

// print writes the table, in Markdown for the README.
func (t *scaleTable) print(w io.Writer) {
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf("%.0f GiB", kb/(1<<20))
		}
	}
	fmt.Fprintf(w, "\nmake bench-scale, %s: %d CPUs, %s of memory, %s;\n%s; the simulator as its own process.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), mem, t.load, t.server)
	fmt.Fprintln(w, "| step | wall time | peak RSS | baseline in the same run | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, im := range t.imports {
		fmt.Fprintf(w, "| `import` %s rows (%s new) | %s (its own CPU: %s) | %s | plain `COPY recipients FROM` of the %s clean rows: %s | %.2f× |\n",
			group(im.rows), group(im.clean), secs(im.proc.wall), secs(im.proc.cpu), mb(im.proc.maxRSS), group(im.clean), secs(im.copy),
			im.proc.wall.Seconds()/im.copy.Seconds())
	}
	if len(t.imports) == 2 {
		a, b := t.imports[0].proc.maxRSS, t.imports[1].proc.maxRSS
		fmt.Fprintf(w, "| import's peak RSS, %s rows against %s | | %+.1f%% | | |\n", group(t.imports[1].rows), group(t.imports[0].rows),
			100*(float64(b)/float64(a)-1))
	}
	fmt.Fprintf(w, "| `status` of the %s-row campaign, after import: first call, again | %s, %s | %s | `SELECT * FROM campaign_stats`: %s | |\n",
		group(t.rows), ms(t.statusFirst.wall), ms(t.statusAgain.wall), mb(t.statusFirst.maxRSS), ms(t.statsQuery))
	fmt.Fprintf(w, "| `send` %s of them, `--rate 10000` (the most it takes), concurrency 64, to the simulator | %s (%s msg/s) | send %s, sim %s | — | |\n",
		group(int(t.sent)), secs(t.send.wall), group(int(float64(t.sent)/t.send.wall.Seconds())), mb(t.send.maxRSS), mb(t.sim.maxRSS))
	fmt.Fprintf(w, "| `status` after the send | %s | %s | | |\n", ms(t.statusSent.wall), mb(t.statusSent.maxRSS))
	clean := t.imports[len(t.imports)-1].clean
	fmt.Fprintf(w, "| `report` %s rows (CSV, to /dev/null) | %s | %s | `COPY (SELECT …) TO STDOUT` of the same rows: %s | %.2f× |\n",
		group(clean), secs(t.report.wall), mb(t.report.maxRSS), secs(t.reportCopy), t.report.wall.Seconds()/t.reportCopy.Seconds())
	var parts []string
	for _, ts := range t.tables {
		parts = append(parts, fmt.Sprintf("`%s` %s", ts.name, gb(ts.bytes)))
	}
	fmt.Fprintf(w, "| database size at the end | %s | | %s | |\n", gb(t.dbSize), strings.Join(parts, ", "))
	fmt.Fprintf(w, "| disk the run took at its peak (both databases, files, WAL) | %s | | | |\n", gb(t.diskPeak))
}

func secs(d time.Duration) string {
	if d >= 100*time.Second {
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func mb(b int64) string { return group(int((b+1<<19)>>20)) + " MB" }

func gb(b int64) string {
	if b < 1<<30 {
		return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
}

// group writes n with thousands separators.
func group(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || n < 0 {
		b.Fatalf("%s=%q: want a number of rows", name, v)
	}
	return n
}
