package oneshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascale/lambdascale/internal/planner"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"github.com/lambdascale/lambdascale/internal/store"
)

// newCluster starts the simulated cluster of cmd/lambdascale's TestRunOnce: a group of 2
// m5.2xlarge agents (8 cores each) running 14 tasks of 1 core, 15.4 of 16 cores with the
// executors (96 % > 80 %), so one reconcile grows the group from 2 to 3. AWS credentials come
// from the environment, as on a real host; nothing is read from the user's AWS files.
func newCluster(t *testing.T) *simenv.Env {
	t.Helper()
	env, err := simenv.New(simenv.Options{
		Start:        time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		Groups:       []simenv.Group{{Name: "mesos-agents-general", MinSize: 1, MaxSize: 10, DesiredCapacity: 2, InstanceType: "m5.2xlarge"}},
		Applications: []fakemesos.Application{{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 14}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	env.Advance(91*time.Second, time.Second) // instances boot and their agents register
	simenv.SetAWSEnv(t)
	return env
}

// generalPolicy is a policy for the simulated group, its masters listed standby first.
func generalPolicy(env *simenv.Env) string {
	return fmt.Sprintf(`apiVersion: lambdascale.io/v1alpha1
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
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRun(t *testing.T) {
	env := newCluster(t)
	policies, statusDir := t.TempDir(), filepath.Join(t.TempDir(), "status")
	writeFile(t, filepath.Join(policies, "general.yaml"), generalPolicy(env))
	// An invalid second document is skipped (and makes the run incomplete); the valid one runs.
	writeFile(t, filepath.Join(policies, "broken.yaml"), "apiVersion: lambdascale.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: broken}\nspec: {}\n")
	opts := Options{Policies: policies, StatusDir: statusDir, EndpointURL: env.AWSURL}

	sum, err := Run(context.Background(), opts)
	var incomplete *IncompleteError
	if !errors.As(err, &incomplete) || incomplete.Failed != 1 || incomplete.Total != 2 {
		t.Fatalf("Run = %v, want an IncompleteError of 1 of 2", err)
	}
	if got := err.Error(); !strings.Contains(got, "1 of 2 policies were skipped or failed to reconcile") || !strings.Contains(got, statusDir) {
		t.Errorf("error %q", got)
	}
	if sum.Total != 2 || sum.Skipped != 1 || sum.Failed != 0 || len(sum.Results) != 1 {
		t.Fatalf("summary total %d skipped %d failed %d results %d, want 2 1 0 1", sum.Total, sum.Skipped, sum.Failed, len(sum.Results))
	}
	if len(sum.LoadErrors) == 0 || !strings.Contains(sum.LoadErrors[0].Error(), "broken.yaml") {
		t.Errorf("load errors %v do not name broken.yaml", sum.LoadErrors)
	}
	r := sum.Results[0]
	if r.Policy != "general" || r.Err != nil || r.Decision == nil || r.Decision.Direction != planner.ScaleUp ||
		r.Decision.CurrentCapacity != 2 || r.Decision.DesiredCapacity != 3 {
		t.Fatalf("result %+v decision %+v", r, r.Decision)
	}
	if g, _ := env.AWS.Group("mesos-agents-general"); g.DesiredCapacity != 3 {
		t.Errorf("desired capacity %d, want 3", g.DesiredCapacity)
	}
	st, err := store.New(statusDir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Get("general")
	if err != nil || p == nil || p.Status.DesiredNodes != 3 || p.Status.LastDecision == nil || p.Status.LastDecision.Direction != "ScaleUp" {
		t.Fatalf("status %+v, %v", p, err)
	}

	// Without the broken file every policy reconciles: no error. The group, at 3 of 10 with a
	// third instance booting, is not grown again for capacity already asked for.
	os.Remove(filepath.Join(policies, "broken.yaml"))
	sum, err = Run(context.Background(), opts)
	if err != nil || sum.Total != 1 || sum.Skipped != 0 || sum.Failed != 0 || len(sum.Results) != 1 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	if g, _ := env.AWS.Group("mesos-agents-general"); g.DesiredCapacity != 3 {
		t.Errorf("desired capacity %d after a second run, want 3", g.DesiredCapacity)
	}

	// With the masters down the reconcile fails, and nothing is written to AWS.
	env.Mesos.SetDown(true)
	writes := env.AWS.CallCount("SetDesiredCapacity")
	sum, err = Run(context.Background(), opts)
	if !errors.As(err, &incomplete) || incomplete.Failed != 1 || incomplete.Total != 1 || sum.Failed != 1 || sum.Results[0].Err == nil {
		t.Fatalf("masters down: Run = %+v, %v", sum, err)
	}
	if env.AWS.CallCount("SetDesiredCapacity") != writes {
		t.Error("an AWS write was made without a Mesos view")
	}
}

func TestRunNoPolicy(t *testing.T) {
	policies, statusDir := t.TempDir(), filepath.Join(t.TempDir(), "status")
	writeFile(t, filepath.Join(policies, "broken.yaml"), "apiVersion: lambdascale.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: broken}\nspec: {}\n")
	sum, err := Run(context.Background(), Options{Policies: policies, StatusDir: statusDir})
	if !errors.Is(err, ErrNoPolicy) || sum.Total != 1 || sum.Skipped != 1 || len(sum.Results) != 0 {
		t.Fatalf("Run = %+v, %v; want ErrNoPolicy with 1 skipped", sum, err)
	}
	if _, err := os.Stat(statusDir); !os.IsNotExist(err) {
		t.Errorf("status directory created with nothing to run: %v", err)
	}
}

func TestRunInvalidOptions(t *testing.T) {
	policies := t.TempDir()
	writeFile(t, filepath.Join(policies, "general.yaml"), "not read")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no policies", Options{StatusDir: t.TempDir()}, "required"},
		{"no status directory", Options{Policies: policies}, "required"},
		{"status in the policies directory", Options{Policies: policies, StatusDir: policies + "/"}, "is the policies directory"},
		{"status beside a policies file", Options{Policies: filepath.Join(policies, "general.yaml"), StatusDir: policies}, "is the policies directory"},
		{"endpoint without a scheme", Options{Policies: policies, StatusDir: t.TempDir(), EndpointURL: "127.0.0.1:4566"}, "want an http(s)://host[:port] URL"},
		{"endpoint of another scheme", Options{Policies: policies, StatusDir: t.TempDir(), EndpointURL: "ftp://127.0.0.1"}, "want an http(s)://host[:port] URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.opts)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want ErrInvalidOptions saying %q", err, tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(policies, "general.yaml")); string(b) != "not read" {
		t.Error("the policy file was changed")
	}
}

func TestRunStatusDirUnusable(t *testing.T) {
	policies, dir := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(policies, "general.yaml"), `apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata: {name: general}
spec:
  mesos: {masters: ["http://127.0.0.1:5050"]}
  autoScalingGroup: {name: mesos-agents-general}
`)
	statusDir := filepath.Join(dir, "status")
	writeFile(t, statusDir, "a file, not a directory")
	sum, err := Run(context.Background(), Options{Policies: policies, StatusDir: statusDir})
	if err == nil || errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "opening status directory") || len(sum.Results) != 0 {
		t.Fatalf("Run = %+v, %v; want a status directory error and no reconcile", sum, err)
	}
}
