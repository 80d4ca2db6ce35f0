package controllers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/store"
)

func TestSyncEditsAndDeletion(t *testing.T) {
	s := newScenario(t, 10, 2, 14, policyYAML())
	dir := t.TempDir()
	file := filepath.Join(dir, "general.yaml")
	write := func(yaml string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func() ([]policy.Loaded, []error) {
		loaded, errs := policy.Load(dir)
		for _, l := range loaded {
			s.env.Rewire(l.Policy)
		}
		return loaded, errs
	}
	write(policyYAML())
	loaded, errs := load()
	st, _ := store.New(t.TempDir())
	ctrl, perrs, err := controllers.New(controllers.Options{Clock: s.env.Clock, Log: logr.Discard(), Store: st, Provider: s.env.Provider}, loaded)
	if err != nil || len(perrs)+len(errs) > 0 {
		t.Fatal(err, perrs, errs)
	}
	ctrl.ReconcileAll(context.Background())
	get := func() *metav1.Condition {
		p, _ := st.Get("general")
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == controllers.ConditionSpecAccepted {
				return &p.Status.Conditions[i]
			}
		}
		return nil
	}

	// A valid edit: maxNodes 10 → 2 takes effect at once, the generation goes up.
	write(strings.Replace(policyYAML(), "maxNodes: 10", "maxNodes: 2", 1))
	loaded, errs = load()
	if e := ctrl.Sync(loaded, errs); len(e) > 0 {
		t.Fatal(e)
	}
	r := ctrl.ReconcileAll(context.Background())[0]
	p, _ := st.Get("general")
	if p.Generation != 2 || p.Status.ObservedGeneration != 2 || r.Decision.MaxCapacity != 2 {
		t.Fatalf("after a valid edit: generation %d observed %d max %d", p.Generation, p.Status.ObservedGeneration, r.Decision.MaxCapacity)
	}

	// An invalid edit keeps the last good spec and says why, with the field path.
	write(strings.Replace(policyYAML(), "maxNodes: 10", "maxNodes: -3", 1))
	loaded, errs = load()
	ctrl.Sync(loaded, errs)
	r = ctrl.ReconcileAll(context.Background())[0]
	if c := get(); c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "spec.maxNodes") || r.Decision.MaxCapacity != 2 {
		t.Fatalf("after an invalid edit: %+v, max %d", c, r.Decision.MaxCapacity)
	}
	if p, _ := st.Get("general"); p.Generation != 2 {
		t.Errorf("generation %d after an invalid edit, want 2", p.Generation)
	}

	// Deleting the file stops the policy; its status says so.
	os.Remove(file)
	loaded, errs = load()
	ctrl.Sync(loaded, errs)
	if names := ctrl.Policies(); len(names) != 0 {
		t.Fatalf("still reconciling %v", names)
	}
	p, _ = st.Get("general")
	if c := condition(t, p, controllers.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != "PolicyDeleted" {
		t.Errorf("Ready %s %s", c.Status, c.Reason)
	}
	if rs := ctrl.ReconcileAll(context.Background()); len(rs) != 0 {
		t.Errorf("%d reconciles after deletion", len(rs))
	}

	// Restoring it brings it back.
	write(policyYAML())
	loaded, errs = load()
	ctrl.Sync(loaded, errs)
	if names := ctrl.Policies(); len(names) != 1 {
		t.Fatalf("policies %v after restore", names)
	}
}
