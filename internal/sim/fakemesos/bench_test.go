package fakemesos_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
)

// bigCluster is 1,000 agents (8 cores, 30720 MiB each) running 20,000 tasks: 100 apps of 200
// tasks of 0.25 cores and 512 MiB. With the executor overhead a task takes 0.35 cores, so
// first fit puts 22 on an agent (7.7 cores) and fills 909 agents (20,000 = 909 × 22 + 2).
func bigCluster(tb testing.TB) *fakemesos.Cluster {
	tb.Helper()
	clk := testingclock.NewFakeClock(start)
	machines := make([]fakemesos.Machine, 1000)
	for i := range machines {
		machines[i] = fakemesos.Machine{
			InstanceID: fmt.Sprintf("i-%017x", i), Group: "mesos-agents-web",
			PrivateIP:    fmt.Sprintf("10.1.%d.%d", i/250, i%250+1),
			InstanceType: "m5.2xlarge", InService: true, InServiceSince: start.Add(-time.Hour),
		}
	}
	apps := make([]fakemesos.Application, 100)
	for i := range apps {
		apps[i] = fakemesos.Application{ID: fmt.Sprintf("/team%d/svc%d", i%10, i), CPUs: 0.25, MemMiB: 512,
			Schedule: []fakemesos.Step{{Instances: 200}}}
	}
	c, err := fakemesos.New(fakemesos.Options{
		Clock:        clk,
		Machines:     func() []fakemesos.Machine { return machines },
		Applications: apps,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestBigClusterPlacement(t *testing.T) {
	c := bigCluster(t)
	full, busy := 0, 0
	for _, a := range c.Agents() {
		switch a.Tasks {
		case 22:
			full++
		case 0:
		default:
			busy++
		}
	}
	// 909 agents with 22 tasks, one with the last 2, 90 empty.
	if full != 909 || busy != 1 {
		t.Errorf("%d full agents and %d partly used, want 909 and 1", full, busy)
	}
	for _, ap := range c.Apps() {
		if ap.Running != 200 || ap.Queued != 0 {
			t.Fatalf("app %+v, want 200 running", ap)
		}
	}
}

// BenchmarkStateAt1000Agents serves GET /master/state of the 1,000-agent, 20,000-task cluster
// over the loopback and decodes it with mesos.DecodeState ("serve+decode"), and renders it
// alone into a discarding writer ("serve").
func BenchmarkStateAt1000Agents(b *testing.B) {
	c := bigCluster(b)
	leader, _, stop := c.StartPair()
	defer stop()

	b.Run("serve+decode", func(b *testing.B) {
		b.ReportAllocs()
		var size int64
		for b.Loop() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, leader+"/master/state", nil)
			if err != nil {
				b.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			cr := &countingReader{r: resp.Body}
			snap, err := mesos.DecodeState(cr)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			if len(snap.Agents) != 1000 || len(snap.Tasks) != 20000 {
				b.Fatalf("decoded %d agents and %d tasks, want 1000 and 20000", len(snap.Agents), len(snap.Tasks))
			}
			size = cr.n
		}
		b.SetBytes(size)
	})

	b.Run("serve", func(b *testing.B) {
		b.ReportAllocs()
		m := c.Leader()
		req := httptest.NewRequest(http.MethodGet, "/master/state", nil)
		for b.Loop() {
			w := &discardResponse{h: http.Header{}}
			m.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			b.SetBytes(w.n)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// discardResponse is an http.ResponseWriter that counts and drops the body.
type discardResponse struct {
	h      http.Header
	status int
	n      int64
}

func (d *discardResponse) Header() http.Header { return d.h }
func (d *discardResponse) WriteHeader(s int)   { d.status = s }
func (d *discardResponse) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	d.n += int64(len(p))
	return len(p), nil
}
