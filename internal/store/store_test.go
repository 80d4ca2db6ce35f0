package store

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
)

func policy(name string, desired int32) *v1alpha1.ScalingPolicy {
	p := &v1alpha1.ScalingPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "lambdascale.io/v1alpha1", Kind: "ScalingPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 2},
		Spec: v1alpha1.ScalingPolicySpec{
			Mesos:            v1alpha1.MesosSpec{Masters: []string{"http://10.0.0.5:5050"}},
			AutoScalingGroup: v1alpha1.AutoScalingGroupSpec{Name: "mesos-agents"},
		},
	}
	v1alpha1.SetDefaults(p)
	p.Status.ObservedGeneration = 2
	p.Status.DesiredNodes = desired
	p.Status.LastScaleTime = &metav1.Time{Time: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	return p
}

func TestPutGet(t *testing.T) {
	s, err := New(filepath.Join(t.TempDir(), "status"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("general"); got != nil || err != nil {
		t.Fatalf("empty store: %v %v", got, err)
	}
	if err := s.Put(policy("general", 7)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("general")
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != "ScalingPolicy" || got.APIVersion != "lambdascale.io/v1alpha1" || got.Generation != 2 ||
		got.Status.DesiredNodes != 7 || got.Status.ObservedGeneration != 2 || *got.Spec.IntervalSeconds != 60 ||
		!got.Status.LastScaleTime.Time.Equal(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("read back %+v", got)
	}
	b, _ := os.ReadFile(s.Path("general"))
	for _, want := range []string{"apiVersion: lambdascale.io/v1alpha1", "kind: ScalingPolicy", "name: general", "intervalSeconds: 60", "desiredNodes: 7"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("file lacks %q:\n%s", want, b)
		}
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(s.Dir())
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
	if !SameSpec(&got.Spec, &policy("x", 1).Spec) {
		t.Error("same spec compares different")
	}
	other := policy("x", 1)
	*other.Spec.IntervalSeconds = 30
	if SameSpec(&got.Spec, &other.Spec) {
		t.Error("different specs compare equal")
	}
}

func TestCorruptFile(t *testing.T) {
	s, _ := New(t.TempDir())
	os.WriteFile(s.Path("bad"), []byte("status: [unclosed"), 0o644)
	if _, err := s.Get("bad"); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("err = %v, want one naming bad.yaml", err)
	}
}

// TestCrashWhileWriting kills a process that rewrites a status file in a loop and checks the
// file always holds one whole object, the previous or the new one.
func TestCrashWhileWriting(t *testing.T) {
	if dir := os.Getenv("LAMBDASCALE_STORE_WRITER"); dir != "" {
		s, _ := New(dir)
		for i := int32(1); ; i++ {
			if err := s.Put(policy("general", i)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
	}
	dir := t.TempDir()
	s, _ := New(dir)
	if err := s.Put(policy("general", 0)); err != nil {
		t.Fatal(err)
	}
	progressed := false
	for round := 0; round < 5; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWhileWriting$")
		cmd.Env = append(os.Environ(), "LAMBDASCALE_STORE_WRITER="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+round*15) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		got, err := s.Get("general")
		if err != nil || got == nil || got.Name != "general" || got.Status.LastScaleTime == nil {
			t.Fatalf("round %d: after a kill the file is not a whole object: %v %+v", round, err, got)
		}
		progressed = progressed || got.Status.DesiredNodes > 0
	}
	if !progressed {
		t.Fatal("the writer never replaced the file: the test proved nothing")
	}
	// Killed writers may leave temporary files; opening the store removes them.
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left in the directory, want only general.yaml", len(entries))
	}
}
