package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// BenchmarkSendMemory runs the real binary over a campaign of 10,000
// recipients (and 1,000,000 with SMSBLAST_BENCH_1M=1), at the highest
// --rate smsblast takes, and reports the sender's peak resident memory: it
// should not grow with the campaign, because the database, not the
// process, holds the work.
func BenchmarkSendMemory(b *testing.B) {
	sizes := []int{10_000}
	if os.Getenv("SMSBLAST_BENCH_1M") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				bb := newBlackBox(b, pgtest.URL(b), twiliosim.Options{NoCallbacks: true})
				csv := filepath.Join(b.TempDir(), "r.csv")
				var sb strings.Builder
				sb.WriteString("phone,name\n")
				for i := range n {
					sb.WriteString("+1415" + strconv.Itoa(2000000+i) + ",N" + strconv.Itoa(i) + "\n")
				}
				if err := os.WriteFile(csv, []byte(sb.String()), 0o644); err != nil {
					b.Fatal(err)
				}
				bb.run("import", "mem", csv, "--from", "+15005550006", "--body", "Hi {{.name}}", "--send-window", "any")
				cmd := bb.command("send", "mem", "--rate", "10000", "--concurrency", "32", "--log-format", "json")
				var errb bytes.Buffer
				cmd.Stderr = &errb
				b.StartTimer()
				start := time.Now()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				peak := 0
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
			poll:
				for {
					if kb := vmHWM(cmd.Process.Pid); kb > peak {
						peak = kb
					}
					select {
					case err := <-done:
						if err != nil {
							b.Fatalf("send: %v\n%s", err, tail(errb.String(), 3000))
						}
						break poll
					case <-time.After(50 * time.Millisecond):
					}
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
				b.StartTimer()
			}
		})
	}
}

// vmHWM reads a process's peak resident set size in KiB (0 if gone).
func vmHWM(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb
		}
	}
	return 0
}
