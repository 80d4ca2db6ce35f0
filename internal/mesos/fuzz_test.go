package mesos

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeState checks that no input makes DecodeState panic, and that whatever it accepts
// keeps the Snapshot's promises (indices in range, applications sorted, counts consistent).
func FuzzDecodeState(f *testing.F) {
	// Seeds: this package's test states and the captured ones, except the two over 128 KB: the
	// fuzzer minimizes every new input it finds, which takes minutes from a 300 KB seed, and
	// they hold no shape the smaller captures lack.
	var files []string
	for _, pattern := range []string{filepath.Join("testdata", "*"), filepath.Join(*realCaptures, "*.json")} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	for _, file := range files {
		if info, err := os.Stat(file); err != nil || info.IsDir() {
			continue // testdata/fuzz holds the fuzzer's own corpus
		}
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 128<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"slaves":[{"id":"S0","resources":{"cpus":1,"mem":2}}],"frameworks":[{"tasks":[{"id":"a.41fef02d-fcba-11e3-8b67-b6f6cc110ef2","slave_id":"S0"}],"name":"marathon"}]}`))
	f.Add([]byte(`{"frameworks":[{"name":"x","tasks":[{"id":"1"},{"id":"1"}],"unreachable_tasks":[{"id":"2","slave_id":"S9"}]}]}`))

	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := DecodeState(bytes.NewReader(doc))
		if err != nil {
			if s != nil {
				t.Fatal("DecodeState returned a snapshot and an error")
			}
			return
		}
		checkInvariants(t, s)
		for _, task := range s.Tasks {
			if task.AgentIndex < -1 || int(task.AgentIndex) >= len(s.Agents) {
				t.Fatalf("task AgentIndex %d out of range", task.AgentIndex)
			}
		}
	})
}
