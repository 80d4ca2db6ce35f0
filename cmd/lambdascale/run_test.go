package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"github.com/lambdascale/lambdascale/internal/store"
)

// TestRunOnce drives the binary's `run --once` against the simulated cluster through the real
// AWS SDK with credentials from the environment: 2 agents of 8 cores run 14 tasks of 1 core
// (15.4 of 16 cores with executors, 96 %), so the group grows from 2 to 3.
func TestRunOnce(t *testing.T) {
	env, err := simenv.New(simenv.Options{
		Start:        time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		Groups:       []simenv.Group{{Name: "mesos-agents-general", MinSize: 1, MaxSize: 10, DesiredCapacity: 2, InstanceType: "m5.2xlarge"}},
		Applications: []fakemesos.Application{{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 14}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	env.Advance(91*time.Second, time.Second)
	simenv.SetAWSEnv(t)

	policies, statusDir := t.TempDir(), filepath.Join(t.TempDir(), "status")
	yaml := fmt.Sprintf(`apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata:
  name: general
spec:
  mesos:
    masters: [%q, %q]
    marathonURL: %q
  autoScalingGroup:
    name: mesos-agents-general
  applicationHeadroomPercent: 0
`, env.StandbyURL, env.LeaderURL, env.MarathonURL)
	if err := os.WriteFile(filepath.Join(policies, "general.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second, invalid file is reported and skipped; the valid policy still runs.
	os.WriteFile(filepath.Join(policies, "broken.yaml"), []byte("apiVersion: lambdascale.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: broken}\nspec: {}\n"), 0o644)

	// --once exits 1 because a policy was skipped, after reconciling the valid one.
	code, _, errOut := runCLI(t, "run", "--policies", policies, "--status-dir", statusDir, "--once", "--aws-endpoint-url", env.AWSURL)
	if code != 1 || !strings.Contains(errOut, "1 of 2 policies were skipped or failed") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "broken.yaml") {
		t.Errorf("the invalid policy is not reported:\n%s", errOut)
	}
	if g, _ := env.AWS.Group("mesos-agents-general"); g.DesiredCapacity != 3 {
		t.Errorf("desired %d, want 3", g.DesiredCapacity)
	}
	st, _ := store.New(statusDir)
	p, err := st.Get("general")
	if err != nil || p == nil || p.Status.DesiredNodes != 3 || p.Status.LastDecision.Direction != "ScaleUp" {
		t.Fatalf("status %+v %v", p, err)
	}
	// The user's file is untouched.
	if b, _ := os.ReadFile(filepath.Join(policies, "general.yaml")); string(b) != yaml {
		t.Error("the policy file was rewritten")
	}
	// Without the broken file, a good reconcile exits 0.
	os.Remove(filepath.Join(policies, "broken.yaml"))
	if code, _, errOut := runCLI(t, "run", "--policies", policies, "--status-dir", statusDir, "--once", "--aws-endpoint-url", env.AWSURL); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}

	// With the masters down, --once exits 1 and writes nothing to AWS.
	env.Mesos.SetDown(true)
	before := env.AWS.CallCount("SetDesiredCapacity")
	if code, _, _ := runCLI(t, "run", "--policies", policies, "--status-dir", statusDir, "--once", "--aws-endpoint-url", env.AWSURL); code != 1 {
		t.Errorf("exit %d with the masters down, want 1", code)
	}
	if env.AWS.CallCount("SetDesiredCapacity") != before {
		t.Error("an AWS write was made without a Mesos view")
	}
	if code, _, _ := runCLI(t, "run", "--once"); code != 2 {
		t.Errorf("run without flags: exit %d, want 2", code)
	}
	// The status directory must not be the policies directory (status would replace policies).
	if code, _, errOut := runCLI(t, "run", "--policies", policies, "--status-dir", policies, "--once"); code != 2 || !strings.Contains(errOut, "policies directory") {
		t.Errorf("status dir = policies dir: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "demo", "--policies", policies, "--status-dir", policies); code != 2 || !strings.Contains(errOut, "policies directory") {
		t.Errorf("demo status dir = policies dir: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(policies, "general.yaml")); string(b) != yaml {
		t.Error("the policy file was rewritten")
	}
	if code, _, _ := runCLI(t, "run", "--policies", policies, "--status-dir", statusDir, "--once", "--aws-endpoint-url", "not a url"); code != 2 {
		t.Errorf("bad endpoint URL: exit %d, want 2", code)
	}
}
