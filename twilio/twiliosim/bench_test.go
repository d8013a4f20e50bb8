package twiliosim

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchWorkers is how many keep-alive clients hammer the server at once,
// about what the send engine runs.
const benchWorkers = 32

// hammer sends n creates from benchWorkers goroutines over keep-alive
// connections and returns the elapsed time.
func hammer(b *testing.B, url string, bodies []string, n int) time.Duration {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchWorkers, MaxConnsPerHost: benchWorkers}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchWorkers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				req, _ := http.NewRequest("POST", url, strings.NewReader(bodies[i%int64(len(bodies))]))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(testSID, testToken)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d creates failed", f, n)
	}
	return elapsed
}

// BenchmarkCreate measures creates per second through the simulator on
// loopback at zero latency, against a bare net/http handler that drains the
// request and answers a canned 201 message body, in the same run.
func BenchmarkCreate(b *testing.B) {
	sim := New(Options{AccountSID: testSID, AuthToken: testToken})
	defer sim.Close()
	simSrv := httptest.NewServer(sim)
	defer simSrv.Close()

	sample := Message{AccountSID: testSID, SID: "SM0123456789abcdef0123456789abcdef", To: "+14155550100", From: testFrom,
		Body: "Hi Ada, your appointment is tomorrow at 10:00. Reply STOP to opt out.", Status: "queued", NumSegments: 1,
		DateCreated: time.Now(), DateUpdated: time.Now()}
	canned := marshal(wire(&sample))
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(canned)
	}))
	defer bare.Close()

	bodies := make([]string, 1000)
	for i := range bodies {
		bodies[i] = form("To", fmt.Sprintf("+1415555%04d", i), "From", testFrom, "Body", sample.Body,
			"StatusCallback", "").Encode()
	}
	path := "/2010-04-01/Accounts/" + testSID + "/Messages.json"
	hammer(b, bare.URL+path, bodies, 2000) // warm both connection pools' code paths
	hammer(b, simSrv.URL+path, bodies, 2000)

	b.ResetTimer()
	b.StopTimer()
	base := hammer(b, bare.URL+path, bodies, b.N)
	b.StartTimer()
	elapsed := hammer(b, simSrv.URL+path, bodies, b.N)
	b.StopTimer()

	simRate := float64(b.N) / elapsed.Seconds()
	baseRate := float64(b.N) / base.Seconds()
	b.ReportMetric(simRate, "creates/s")
	b.ReportMetric(baseRate, "baseline-req/s")
	b.ReportMetric(simRate/baseRate, "x-baseline")
}

// BenchmarkListByTo pages one recipient's messages out of 100k stored,
// against fetching one message by SID (the cheapest request with the same
// auth, routing and encoding), in the same run.
func BenchmarkListByTo(b *testing.B) {
	sim := New(Options{AccountSID: testSID, AuthToken: testToken})
	defer sim.Close()
	fill(sim, 100_000)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	client := srv.Client()
	get := func(path string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.SetBasicAuth(testSID, testToken)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
	acct := "/2010-04-01/Accounts/" + testSID
	fetchPath := acct + "/Messages/" + sim.Messages()[0].SID + ".json"
	listPath := acct + "/Messages.json?To=%2B14155551234&PageSize=100"

	b.ResetTimer()
	b.StopTimer()
	start := time.Now()
	for range b.N {
		get(fetchPath)
	}
	base := time.Since(start)
	b.StartTimer()
	start = time.Now()
	for range b.N {
		get(listPath)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "lists/s")
	b.ReportMetric(elapsed.Seconds()/base.Seconds(), "x-fetch")
}
