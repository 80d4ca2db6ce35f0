package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line in-process and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const repo = "../.."

type planJSON struct {
	Policy           string `json:"policy"`
	AutoScalingGroup string `json:"autoScalingGroup"`
	CurrentCapacity  int32  `json:"currentCapacity"`
	DesiredCapacity  int32  `json:"desiredCapacity"`
	Direction        string `json:"direction"`
	PoolAgents       int    `json:"poolAgents"`
	UpcomingNodes    int    `json:"upcomingNodes"`
	Utilization      []struct {
		Resource string  `json:"resource"`
		Used     float64 `json:"used"`
		Total    float64 `json:"total"`
		Percent  float64 `json:"percent"`
	} `json:"utilization"`
	Reasons []struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"reasons"`
	ScaleDownAgents []string `json:"scaleDownAgents"`
	Unschedulable   []string `json:"unschedulable"`
}

func (p planJSON) hasReason(r string) bool {
	for _, x := range p.Reasons {
		if x.Reason == r {
			return true
		}
	}
	return false
}

func planDemo(t *testing.T, extra ...string) planJSON {
	t.Helper()
	args := append([]string{"plan", "-f", repo + "/config/samples/general.yaml",
		"--mesos-state", repo + "/testdata/demo/state.json",
		"--asg", repo + "/testdata/demo/asg.json",
		"--ec2-instances", repo + "/testdata/demo/instances.json",
		"--marathon-queue", repo + "/testdata/demo/queue.json",
		"--now", "2026-11-30T12:00:00Z", "-o", "json"}, extra...)
	code, out, errOut := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return p
}

func TestPlanDemo(t *testing.T) {
	// testdata/demo (hack/gen-demo-cluster.py): 5 pool=general agents of 8 cores / 30720 MiB
	// matched to 5 InService instances, a 6th instance Pending (upcoming), desired 6.
	// Used cpus (tasks + 0.1 per executor): 7.5 + 7.5 + 6.4 + 4.3 + 4.9 = 30.6;
	// total 5·8 + 1·8 (upcoming) = 48 → 63.75 %. Marathon queues 6 copies of /web/api (2 cores,
	// hostname:MAX_PER:2): the first three agents already run 2 each, the last two 1 each, so
	// they take 1 each, the upcoming node 2, and the last 2 need 1 new node. Headroom 20 %:
	// 2 /web/api copies fit on the upcoming node (4 cores left; without /v2/apps no constraint
	// is known for running apps), 3 /web/frontend copies and the 0.5-core backup copy fit in the
	// holes. Utilization counting the queued copies: (30.6 + 12)/(48 + 8n) ≤ 0.8 → n ≥ 0.66 → 1.
	// max(1, 1) = 1 → 7.
	p := planDemo(t)
	if p.Policy != "general" || p.AutoScalingGroup != "mesos-agents-general" {
		t.Errorf("policy %q group %q", p.Policy, p.AutoScalingGroup)
	}
	if p.PoolAgents != 5 || p.UpcomingNodes != 1 || p.CurrentCapacity != 6 || p.DesiredCapacity != 7 || p.Direction != "ScaleUp" {
		t.Errorf("agents=%d upcoming=%d %d→%d %s, want 5, 1, 6→7 ScaleUp", p.PoolAgents, p.UpcomingNodes, p.CurrentCapacity, p.DesiredCapacity, p.Direction)
	}
	if u := p.Utilization[0]; u.Resource != "cpus" || u.Used != 30.6 || u.Total != 48 || u.Percent != 63.75 {
		t.Errorf("cpus %+v, want 30.6/48 = 63.75%%", u)
	}
	for _, r := range []string{"UpcomingCapacity", "PendingTasks", "HeadroomMet", "UtilizationHigh"} {
		if !p.hasReason(r) {
			t.Errorf("reasons %+v lack %s", p.Reasons, r)
		}
	}
}

func TestPlanWithMarathonApps(t *testing.T) {
	// With /v2/apps, the running /web/api is known to be hostname:MAX_PER:2: after the queued
	// copies (see TestPlanDemo) every agent, the upcoming node and the new node hold 2, so the
	// 2 headroom copies need one more node: demand 2, utilization 1 → 8.
	p := planDemo(t, "--marathon-apps", repo+"/testdata/demo/apps.json")
	if p.DesiredCapacity != 8 || p.Direction != "ScaleUp" {
		t.Errorf("%d→%d %s, want 6→8 ScaleUp; %+v", p.CurrentCapacity, p.DesiredCapacity, p.Direction, p.Reasons)
	}
	if code, _, errOut := runCLI(t, "plan", "-f", repo+"/config/samples/general.yaml", "--mesos-state", repo+"/testdata/demo/state.json",
		"--marathon-apps", repo+"/testdata/demo/queue.json"); code != 1 || !strings.Contains(errOut, "/v2/apps") {
		t.Errorf("a queue given as apps: exit %d %s", code, errOut)
	}
}

func TestPlanTextAndYAML(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "-f", repo+"/config/samples/general.yaml",
		"--mesos-state", repo+"/testdata/demo/state.json", "--now", "2026-11-30T12:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Without --asg and the queue: 5 pool agents, current 5; cpus 30.6/40 = 76.5 %; the 6
	// headroom copies fit in the free holes (see TestPlanDemo): nothing to do.
	for _, want := range []string{"POLICY", "general", "NoChange", "76.5% (30.6/40)", "REASON", "HeadroomMet"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "plan", "-f", repo+"/config/samples/general.yaml",
		"--mesos-state", repo+"/testdata/demo/state.json", "--now", "2026-11-30T12:00:00Z", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "direction: NoChange") || !strings.Contains(out, "currentCapacity: 5") {
		t.Errorf("yaml output (exit %d):\n%s", code, out)
	}
}

func TestPlanExitCodes(t *testing.T) {
	good := []string{"-f", repo + "/config/samples/general.yaml", "--mesos-state", repo + "/testdata/demo/state.json"}
	cases := []struct {
		name     string
		args     []string
		code     int
		errorHas string
	}{
		{"no policy", []string{"plan", "--mesos-state", "x.json"}, 2, "plan needs -f"},
		{"no state", []string{"plan", "-f", "p.yaml"}, 2, "--mesos-state"},
		{"unknown flag", append([]string{"plan", "--bogus"}, good...), 2, "unknown flag: --bogus"},
		{"bad output", append([]string{"plan", "-o", "xml"}, good...), 2, `--output "xml"`},
		{"bad now", append([]string{"plan", "--now", "yesterday"}, good...), 2, "RFC 3339"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"missing state file", []string{"plan", "-f", repo + "/config/samples/general.yaml", "--mesos-state", "testdata/nope.json"}, 1, "nope.json"},
		{"truncated state", []string{"plan", "-f", repo + "/config/samples/general.yaml", "--mesos-state", "testdata/truncated-state.json"}, 1, "truncated-state.json"},
		{"binary state", []string{"plan", "-f", repo + "/config/samples/general.yaml", "--mesos-state", "testdata/binary.json"}, 1, "binary.json"},
		{"queue as state", []string{"plan", "-f", repo + "/config/samples/general.yaml", "--mesos-state", repo + "/testdata/demo/queue.json"}, 1, "queue.json"},
		{"state as queue", append([]string{"plan", "--marathon-queue", repo + "/testdata/demo/state.json"}, good...), 1, "not a Marathon /v2/queue response"},
		{"instances as asg", append([]string{"plan", "--asg", repo + "/testdata/demo/instances.json"}, good...), 1, "describe-instances"},
		{"invalid policy", []string{"plan", "-f", "testdata/invalid-policy.yaml", "--mesos-state", repo + "/testdata/demo/state.json"}, 1, "spec.utilization.scaleDownPercent"},
		{"group not in asg file", []string{"plan", "-f", repo + "/testdata/policies/all-agents.yaml", "--mesos-state", repo + "/testdata/demo/state.json", "--asg", repo + "/testdata/demo/asg.json"}, 1, "mesos-agents"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.errorHas) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.errorHas)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 3 {
				t.Errorf("error is not short:\n%s", errOut)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", repo+"/config/samples/")
	if code != 0 || strings.Count(out, "is valid") != 2 {
		t.Fatalf("samples: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "validate", "testdata/invalid-policy.yaml", repo+"/config/samples/general.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"testdata/invalid-policy.yaml: spec.mesos.masters[0]",
		"testdata/invalid-policy.yaml: spec.utilization.scaleDownPercent: Invalid value: 90: must be less than spec.utilization.scaleUpPercent (80)",
		"2 problems found",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, _ := runCLI(t, "validate"); code != 2 {
		t.Errorf("no argument: exit %d, want 2", code)
	}
}

// TestPlanOnCaptures decides on every real capture in ../shared/fixtures/master-state with a
// policy that counts every agent (role "*", headroom 20 %, thresholds 80/40, min 1).
func TestPlanOnCaptures(t *testing.T) {
	dir := filepath.Join(repo, "..", "shared", "fixtures", "master-state")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("../shared/fixtures not found (%v); real-capture plan tests skipped", err)
	}
	cases := map[string]struct {
		agents    int
		cpusUsed  float64
		cpusTotal float64
		desired   int32
		direction string
	}{
		// 2 agents of 2 cores; no used_resources in 0.19: used = Σ tasks = 2 × 0.1.
		// 5 % < 40 %: one agent goes (step 1), leaving 0.2/2 = 10 %.
		"mesos-0.19.0-mesoscli-marathon06.json":  {2, 0.2, 4, 1, "ScaleDown"},
		"mesos-0.19.1-mesosdns-fake-edited.json": {4, 5.3, 32, 3, "ScaleDown"},
		// One agent: at the minimum.
		"mesos-0.23.0-dcosui-1agent-completed-tasks.json": {1, 0.1, 4, 1, "NoChange"},
		"mesos-0.25.0-1agent-no-agent-version.json":       {1, 0.4, 8, 1, "NoChange"},
		// 6 agents; the public one is all reserved to slave_public and cassandra's dynamic
		// reservations do not count for role "*": 17 usable cores.
		"mesos-0.27.0-dcosui-6agents-reservations.json": {6, 2, 17, 5, "ScaleDown"},
		// 3 agents of 24 cores, the public one reserved to slave_public: 48 usable cores;
		// 12.1 used (the master's 0.0999999999999994 and 12.1000000000002 are noise).
		"mesos-0.27.0-gaal-102tasks-1000completed.json": {3, 12.1, 48, 2, "ScaleDown"},
		// 2 agents of 4 cores, all 8 used: 8/(8+4n) ≤ 0.8 → n = 1; headroom needs 2 → 4.
		"mesos-0.29.0-overlay-mesos-execute.json":          {2, 8, 8, 4, "ScaleUp"},
		"mesos-1.0.0-calico-etcd-marathon-metronome.json":  {2, 0.9, 2, 3, "ScaleUp"},
		"mesos-1.2.0-dcosui-kafka-marathon-metronome.json": {2, 1.51, 2.5, 3, "ScaleUp"},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		want, ok := cases[e.Name()]
		if !ok {
			t.Errorf("%s: new capture without expected values", e.Name())
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			code, out, errOut := runCLI(t, "plan", "-f", repo+"/testdata/policies/all-agents.yaml",
				"--mesos-state", filepath.Join(dir, e.Name()), "--now", "2026-11-30T12:00:00Z", "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var p planJSON
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatal(err)
			}
			u := p.Utilization[0]
			if p.PoolAgents != want.agents || u.Used != want.cpusUsed || u.Total != want.cpusTotal || p.DesiredCapacity != want.desired || p.Direction != want.direction {
				t.Errorf("agents=%d cpus %v/%v →%d %s; want %d, %v/%v →%d %s\n%+v", p.PoolAgents, u.Used, u.Total, p.DesiredCapacity, p.Direction,
					want.agents, want.cpusUsed, want.cpusTotal, want.desired, want.direction, p.Reasons)
			}
		})
	}
}
