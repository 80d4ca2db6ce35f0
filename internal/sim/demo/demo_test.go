package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/store"
)

// TestDemo runs `make run`'s scenario on config/samples: the general pool (Enforce) grows with
// the workload from 3 instances and shrinks back once it falls; the batch pool (DryRun) decides
// to grow but is never written to.
func TestDemo(t *testing.T) {
	loaded, errs := policy.Load("../../../config/samples")
	if len(errs) > 0 || len(loaded) != 2 {
		t.Fatalf("samples: %d loaded, errors %v", len(loaded), errs)
	}
	var out bytes.Buffer
	dir := t.TempDir()
	s, err := Run(context.Background(), Options{Policies: loaded, StatusDir: dir, Out: &out, Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	// Stopping the demo does not leave a failed observation behind: the last status is Ready.
	st, _ := store.New(dir)
	for _, name := range []string{"general", "batch"} {
		p, err := st.Get(name)
		if err != nil || p == nil {
			t.Fatalf("status of %s: %v", name, err)
		}
		if c := meta.FindStatusCondition(p.Status.Conditions, "Ready"); c == nil || c.Status != "True" {
			t.Errorf("%s: Ready %+v at the end of the demo", name, c)
		}
	}
	// Peak: 36 frontend (1.1 cores with executor) + 12 api (2.1) = 64.8 cores at 80 % and 20 %
	// headroom needs well over 9 nodes of 8 cores; after the fall (6 × 1.1 + 3 × 2.1 = 12.9
	// cores) the pool goes back to a handful of nodes, never below its minimum of 2.
	if m := s.MaxNodes["mesos-agents-general"]; m < 10 || m > 20 {
		t.Errorf("general peaked at %d instances, want 10-20", m)
	}
	if f := s.FinalNodes["mesos-agents-general"]; f < 2 || f > 6 {
		t.Errorf("general ended at %d instances, want 2-6", f)
	}
	// Busy agents are drained: their tasks move, none is killed.
	if s.TasksMoved == 0 || s.TasksKilled != 0 || !strings.Contains(text, "Drain ") {
		t.Errorf("tasks moved %d, killed %d", s.TasksMoved, s.TasksKilled)
	}
	if s.Actions["batch"] != 0 || s.FinalNodes["mesos-agents-batch"] != 1 {
		t.Errorf("DryRun batch: %d writes, %d instances", s.Actions["batch"], s.FinalNodes["mesos-agents-batch"])
	}
	if !strings.Contains(text, "(not applied: DryRun)") {
		t.Error("the batch policy's DryRun decision is not shown")
	}
	for _, want := range []string{"ScaleUp", "SetDesiredCapacity", "ScaleDown", "TerminateInstanceInAutoScalingGroup", "Summary", "Steady state"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// A round that writes nothing costs one DescribeAutoScalingGroups (plus DescribeInstances
	// only when new instances appeared).
	if s.SteadyRounds == 0 || float64(s.SteadyCalls)/float64(s.SteadyRounds) > 1.1 {
		t.Errorf("steady state: %d calls in %d rounds", s.SteadyCalls, s.SteadyRounds)
	}
	if s.Calls["SetDesiredCapacity"] != strings.Count(text, "→ SetDesiredCapacity") ||
		s.Calls["TerminateInstanceInAutoScalingGroup"] != strings.Count(text, "→ TerminateInstanceInAutoScalingGroup") {
		t.Errorf("calls %v differ from the writes shown: a write was repeated", s.Calls)
	}
}
