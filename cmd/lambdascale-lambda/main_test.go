package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lambdascale/lambdascale/internal/oneshot"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"github.com/lambdascale/lambdascale/internal/store"
)

// scheduledEvent is what an EventBridge schedule rule sends (the example of the EventBridge
// documentation).
const scheduledEvent = `{
  "version": "0",
  "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  "source": "aws.events",
  "account": "123456789012",
  "time": "2026-11-30T08:01:31Z",
  "region": "us-east-1",
  "resources": ["arn:aws:events:us-east-1:123456789012:rule/lambdascale-every-minute"],
  "detail": {}
}`

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := configFromEnv(env(nil))
	if err != nil || c.policies != "/var/task/policies" || c.statusDir != "/tmp/lambdascale-status" || c.verbosity != 0 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = configFromEnv(env(map[string]string{
		"LAMBDASCALE_POLICIES": "/var/task/pools", "LAMBDASCALE_STATUS_DIR": "/mnt/efs/status", "LAMBDASCALE_VERBOSITY": "2",
	}))
	if err != nil || c.policies != "/var/task/pools" || c.statusDir != "/mnt/efs/status" || c.verbosity != 2 {
		t.Errorf("overrides: %+v, %v", c, err)
	}
	for _, v := range []string{"-1", "two"} {
		if _, err := configFromEnv(env(map[string]string{"LAMBDASCALE_VERBOSITY": v})); err == nil || !strings.Contains(err.Error(), "LAMBDASCALE_VERBOSITY") {
			t.Errorf("verbosity %q: %v", v, err)
		}
	}
}

// TestHandler invokes the handler as the runtime would, without the runtime: 2 agents of 8
// cores run 14 tasks of 1 core (15.4 of 16 cores with executors, 96 % > 80 %), so the first
// invocation grows the group from 2 to 3. The AWS endpoint comes from AWS_ENDPOINT_URL, the
// only way to point a deployed function elsewhere.
func TestHandler(t *testing.T) {
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
	t.Setenv("AWS_ENDPOINT_URL", env.AWSURL)

	task := t.TempDir() // the unpacked deployment package
	policies, statusDir := filepath.Join(task, "policies"), filepath.Join(t.TempDir(), "lambdascale-status")
	if err := os.Mkdir(policies, 0o755); err != nil {
		t.Fatal(err)
	}
	policyYAML := fmt.Sprintf(`apiVersion: lambdascale.io/v1alpha1
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
	if err := os.WriteFile(filepath.Join(policies, "general.yaml"), []byte(policyYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{"LAMBDASCALE_POLICIES": policies, "LAMBDASCALE_STATUS_DIR": statusDir}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := &handler{cfg: cfg, log: newLogger(&logs, 0)}

	var ev events.EventBridgeEvent
	if err := json.Unmarshal([]byte(scheduledEvent), &ev); err != nil {
		t.Fatal(err)
	}
	resp, err := h.handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("handle: %v\n%s", err, logs.String())
	}
	if len(resp.Policies) != 1 || resp.Skipped != 0 || resp.Failed != 0 {
		t.Fatalf("response %+v", resp)
	}
	if p := resp.Policies[0]; p.Policy != "general" || p.Direction != "ScaleUp" || p.CurrentNodes != 2 || p.DesiredNodes != 3 ||
		p.Error != "" || len(p.Actions) == 0 || !strings.Contains(strings.Join(p.Actions, " "), "SetDesiredCapacity") {
		t.Errorf("policy result %+v", p)
	}
	if g, _ := env.AWS.Group("mesos-agents-general"); g.DesiredCapacity != 3 {
		t.Errorf("desired capacity %d, want 3", g.DesiredCapacity)
	}
	st, err := store.New(statusDir)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := st.Get("general"); err != nil || p == nil || p.Status.DesiredNodes != 3 {
		t.Fatalf("status %+v, %v", p, err)
	}
	if !strings.Contains(logs.String(), `"eventID":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"`) {
		t.Errorf("the invocation's event is not logged:\n%s", logs.String())
	}

	// The same handler behind the library's JSON adapter (what lambda.Start wraps): the raw
	// scheduled event in, the JSON response out. The group is not grown again for the
	// instance already asked for.
	out, err := lambda.NewHandler(h.handle).Invoke(context.Background(), []byte(scheduledEvent))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(out, &decoded); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	pols, _ := decoded["policies"].([]any)
	if len(pols) != 1 || decoded["failed"] != float64(0) || decoded["skipped"] != float64(0) {
		t.Fatalf("response %s", out)
	}
	if p, _ := pols[0].(map[string]any); p["policy"] != "general" || p["desiredNodes"] != float64(3) || p["error"] != nil {
		t.Errorf("response %s", out)
	}

	// With the masters down the invocation fails (so Lambda's Errors metric and alarms see it)
	// and says which policy failed; nothing is written to AWS.
	env.Mesos.SetDown(true)
	writes := env.AWS.CallCount("SetDesiredCapacity")
	resp, err = h.handle(context.Background(), events.EventBridgeEvent{ID: "second"})
	var incomplete *oneshot.IncompleteError
	if !errors.As(err, &incomplete) || !strings.Contains(err.Error(), "1 of 1 policies were skipped or failed") {
		t.Fatalf("masters down: %v", err)
	}
	if len(resp.Policies) != 1 || resp.Failed != 1 || resp.Policies[0].Error == "" || resp.Policies[0].Direction != "" {
		t.Errorf("masters down: response %+v", resp)
	}
	if env.AWS.CallCount("SetDesiredCapacity") != writes {
		t.Error("an AWS write was made without a Mesos view")
	}
}

// TestHandlerNoPolicies: a deployment package without policies fails every invocation with
// an error that names the path.
func TestHandlerNoPolicies(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "policies")
	h := &handler{cfg: config{policies: missing, statusDir: filepath.Join(t.TempDir(), "status")}, log: newLogger(&bytes.Buffer{}, 0)}
	resp, err := h.handle(context.Background(), events.EventBridgeEvent{})
	if !errors.Is(err, oneshot.ErrNoPolicy) || !strings.Contains(err.Error(), missing) || len(resp.Policies) != 0 || resp.Skipped != 1 {
		t.Errorf("handle = %+v, %v", resp, err)
	}
}
