package mesos

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	// synth1000 is a 1,000-agent cluster: 20,000 running tasks in 200 apps (about 15 MB).
	synth1000 = syntheticState{agents: 1000, tasks: 20_000, tasksPerApp: 100, completedTasks: 1000}
	// synth10000 is DESIGN.md §6's large cluster: 10,000 agents, 200,000 running tasks in 2,000
	// apps (about 150 MB).
	synth10000 = syntheticState{agents: 10_000, tasks: 200_000, tasksPerApp: 100, completedTasks: 1000}
)

func BenchmarkDecodeState1000(b *testing.B)  { benchmarkDecodeState(b, synth1000) }
func BenchmarkDecodeState10000(b *testing.B) { benchmarkDecodeState(b, synth10000) }

func benchmarkDecodeState(b *testing.B, s syntheticState) {
	var buf bytes.Buffer
	if err := s.write(&buf); err != nil {
		b.Fatal(err)
	}
	doc := buf.Bytes()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		// A bytes.Reader, not the bytes.Buffer: jsontext would take a Buffer's bytes without
		// copying, which an HTTP body never allows.
		snap, err := DecodeState(bytes.NewReader(doc))
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Tasks) != s.tasks || len(snap.Agents) != s.agents {
			b.Fatalf("decoded %d agents and %d tasks, want %d and %d", len(snap.Agents), len(snap.Tasks), s.agents, s.tasks)
		}
	}
}

// BenchmarkClientState10000 is the whole gather of DESIGN.md §6's large cluster: leader
// discovery, then the 150 MB state over HTTP on the loopback, read ahead and decoded.
func BenchmarkClientState10000(b *testing.B) {
	var buf bytes.Buffer
	if err := synth10000.write(&buf); err != nil {
		b.Fatal(err)
	}
	doc := buf.Bytes()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/master/redirect" {
			w.Header().Set("Location", "//"+strings.TrimPrefix(srv.URL, "http://"))
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		w.Write(doc)
	}))
	defer srv.Close()
	c, err := NewClient([]string{srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		snap, err := c.State(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Tasks) != synth10000.tasks {
			b.Fatalf("%d tasks, want %d", len(snap.Tasks), synth10000.tasks)
		}
	}
}

// peakHeap decodes s generated on the fly (so that the input never sits in memory) and returns
// the snapshot, the document size, the highest heap seen while decoding (live objects plus
// garbage not yet collected, sampled every millisecond without stopping the world) and the heap
// the snapshot retains once decoding is over.
func peakHeap(t testing.TB, s syntheticState) (snap *Snapshot, size int64, peak, retained uint64) {
	t.Helper()
	var count countingWriter
	if err := s.write(&count); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := read(); h > peak {
				peak = h
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	r := s.pipe()
	snap, err := DecodeState(r)
	r.Close()
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	after := read()
	runtime.KeepAlive(snap)
	return snap, count.n, max(peak, base) - base, max(after, base) - base
}

// TestDecodeStateMemory checks that decoding streams: the heap needed for a 10,000-agent,
// 200,000-task state stays far below the document's size, and that the completed-task history
// (which decoding must skip) does not change it.
func TestDecodeStateMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 150 MB of JSON; skipped with -short")
	}
	const mib = 1 << 20

	snap, size, peak, retained := peakHeap(t, synth10000)
	t.Logf("10,000 agents / 200,000 tasks: %.0f MiB of JSON, peak heap %.1f MiB, snapshot %.1f MiB",
		float64(size)/mib, float64(peak)/mib, float64(retained)/mib)
	if len(snap.Agents) != 10_000 || len(snap.Tasks) != 200_000 || len(snap.Applications) != 2_000 {
		t.Fatalf("decoded %d agents, %d tasks, %d apps; want 10000, 200000, 2000", len(snap.Agents), len(snap.Tasks), len(snap.Applications))
	}
	if size < 140*mib {
		t.Errorf("synthetic state is %d MiB, want the ~150 MB of DESIGN.md §6", size/mib)
	}
	// DESIGN.md §6 allows 150 MiB for gather and plan together. Decoding keeps about 30 MiB
	// (agents, 200,000 tasks, the task list being assembled); the garbage collector may let the
	// heap reach twice that before collecting. Holding the document would take over 159 MiB.
	if peak > 96*mib {
		t.Errorf("peak heap %.1f MiB while decoding, want ≤ 96 MiB", float64(peak)/mib)
	}
	// The snapshot itself: 200,000 tasks × 56 bytes = 11 MiB, 10,000 agents with their
	// attributes about 5 MiB. Nothing of the decoder may stay reachable from it.
	if retained > 24*mib {
		t.Errorf("snapshot retains %.1f MiB, want ≤ 24 MiB", float64(retained)/mib)
	}

	// Same cluster size (100 agents, 2,000 tasks), with 1,000 then 100,000 completed tasks:
	// about 0.6 MB then 60 MB more JSON, and the same heap.
	small := syntheticState{agents: 100, tasks: 2000, tasksPerApp: 100, completedTasks: 1000}
	_, size1, peak1, _ := peakHeap(t, small)
	small.completedTasks = 100_000
	_, size2, peak2, _ := peakHeap(t, small)
	t.Logf("100 agents: %.1f MiB of JSON → peak %.2f MiB; %.1f MiB → peak %.2f MiB",
		float64(size1)/mib, float64(peak1)/mib, float64(size2)/mib, float64(peak2)/mib)
	if size2 < size1+50*mib {
		t.Fatalf("completed tasks add %d MiB, want ≥ 50 MiB", (size2-size1)/mib)
	}
	if peak2 > 8*mib {
		t.Errorf("peak heap %.2f MiB for a 100-agent state with 100,000 completed tasks, want ≤ 8 MiB: completed tasks must be skipped, not kept", float64(peak2)/mib)
	}
}

// TestSyntheticStateDecodes checks the generator and the decoder agree on the small synthetic
// cluster's numbers.
func TestSyntheticStateDecodes(t *testing.T) {
	s := syntheticState{agents: 50, tasks: 1010, tasksPerApp: 100, completedTasks: 30}
	snap, err := DecodeState(readerOf(t, s))
	if err != nil {
		t.Fatal(err)
	}
	var used Resources
	for _, a := range snap.Agents {
		used = used.Add(a.Used)
	}
	// 1010 tasks × (0.5 + 0.125 executor) cpus = 631.25; × (512 + 32) MiB = 549,440.
	if used.CPUs != 631.25 || used.Mem != 549_440 {
		t.Errorf("Σ used = %+v, want 631.25 cpus, 549440 MiB", used)
	}
	// Apps 0..10: ten of 100 tasks, then app-10 with the last 10.
	if len(snap.Applications) != 11 {
		t.Fatalf("%d applications, want 11", len(snap.Applications))
	}
	app := findApp(t, snap, "/team-10/app-10")
	if app.Instances != 10 || len(app.Shapes) != 1 || app.Shapes[0].Resources != (Resources{CPUs: 0.5, Mem: 512}) {
		t.Errorf("/team-10/app-10 = %+v, want 10 tasks of 0.5 cpus, 512 MiB", app)
	}
	// Agent 0 gets tasks 0, 50, ..., 1000: 21 tasks; agent 49 gets 20.
	if snap.Agents[0].TaskCount != 21 || snap.Agents[49].TaskCount != 20 {
		t.Errorf("task counts %d, %d; want 21, 20", snap.Agents[0].TaskCount, snap.Agents[49].TaskCount)
	}
}

func readerOf(t testing.TB, s syntheticState) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	if err := s.write(&buf); err != nil {
		t.Fatal(err)
	}
	return &buf
}
