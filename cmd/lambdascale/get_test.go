package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"github.com/lambdascale/lambdascale/internal/store"
)

var statusT0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// statusSim is one policy reconciled by the real controller against its own simulated
// cluster (one Auto Scaling group of m5.2xlarge agents: 8 cores, 30720 MiB; /web tasks of
// 1 core and 1024 MiB, each with 0.1 core and 32 MiB of executor), writing into a shared
// status directory.
type statusSim struct {
	env  *simenv.Env
	ctrl *controllers.Controller
}

// newStatusSim starts the cluster with desired instances and tasks, lets the instances
// register (91 s), and creates the controller for the policy name on group (in region, when
// set) with the extra spec lines.
func newStatusSim(t *testing.T, dir, name, group, region string, desired int32, tasks int, extra ...string) *statusSim {
	t.Helper()
	env, err := simenv.New(simenv.Options{
		Start:        statusT0,
		Groups:       []simenv.Group{{Name: group, MinSize: 1, MaxSize: 10, DesiredCapacity: desired, InstanceType: "m5.2xlarge"}},
		Applications: []fakemesos.Application{{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: tasks}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	env.Advance(91*time.Second, time.Second)
	yaml := `apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata:
  name: ` + name + `
spec:
  mesos:
    masters: ["http://127.0.0.1:1"]
  autoScalingGroup:
    name: ` + group + `
    region: "` + region + `"
  minNodes: 1
  maxNodes: 10
  applicationHeadroomPercent: 0
` + strings.Join(extra, "\n") + "\n"
	loaded, errs := policy.LoadData(name+".yaml", []byte(yaml))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	env.Rewire(loaded[0].Policy)
	st, err := store.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, perrs, err := controllers.New(controllers.Options{Clock: env.Clock, Log: logr.Discard(), Store: st, Provider: env.Provider}, loaded)
	if err != nil || len(perrs) > 0 {
		t.Fatal(err, perrs)
	}
	return &statusSim{env: env, ctrl: ctrl}
}

func (s *statusSim) reconcile(t *testing.T) controllers.Result {
	t.Helper()
	rs := s.ctrl.ReconcileAll(context.Background())
	if len(rs) != 1 {
		t.Fatalf("%d results", len(rs))
	}
	return rs[0]
}

// statusNow is the time get and describe are run at: 3 h after the first reconciles.
var statusNow = statusT0.Add(3*time.Hour + 91*time.Second)

// writeStatusDir runs three policies with the controller and returns their status directory:
//
//   - general: 2 agents run 14 tasks: 15.4 of 16 cores (96 %) → ScaleUp 2→3 at 08:01:31;
//     the new instance registers 90 s later: 15.4/24 cores = 64 %, mem 14 × 1056 = 14784 MiB
//     of 3 × 30720 MiB (90 GiB) = 16 %.
//   - batch (us-west-2, maxNodesPerStep 1, no stabilization): at 08:30:31, 3 agents, 7 tasks on
//     the first: 7.7/24 cores = 32 % < 40 % → ScaleDown 3→2, the idle agent drained; mem
//     7392 MiB of 90 GiB = 8 %.
//   - analytics (DryRun): the Mesos masters are down at its only reconcile → no decision,
//     Ready False (MesosUnavailable), no utilization.
func writeStatusDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "status")

	g := newStatusSim(t, dir, "general", "mesos-agents-general", "", 2, 14, "  scaleDown:\n    stabilizationSeconds: 0")
	if r := g.reconcile(t); r.Err != nil || r.Decision.DesiredCapacity != 3 {
		t.Fatalf("general: %v %+v", r.Err, r.Decision)
	}
	for range 3 {
		g.env.Advance(30*time.Second, time.Second)
		if r := g.reconcile(t); r.Err != nil {
			t.Fatalf("general: %v", r.Err)
		}
	}

	b := newStatusSim(t, dir, "batch", "mesos-agents-batch", "us-west-2", 3, 7,
		"  scaleDown:\n    stabilizationSeconds: 0\n    protectedApplications: [/db/]")
	b.env.Advance(29*time.Minute, time.Minute)
	if r := b.reconcile(t); r.Err != nil || r.Decision.DesiredCapacity != 2 {
		t.Fatalf("batch: %v %+v", r.Err, r.Decision)
	}

	a := newStatusSim(t, dir, "analytics", "mesos-agents-analytics", "", 2, 4, "  mode: DryRun")
	a.env.Mesos.SetDown(true)
	if r := a.reconcile(t); r.Err == nil {
		t.Fatal("analytics: reconciled with the masters down")
	}
	return dir
}

// statusCLI runs get or describe on dir at statusNow.
func statusCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, append(args, "--status-dir", dir, "--now", statusNow.Format(time.RFC3339))...)
}

// tableRows splits a get table into its header and rows of fields, by name.
func tableRows(t *testing.T, out string) (header string, rows map[string][]string, order []string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		t.Fatalf("no table:\n%s", out)
	}
	rows = map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
		order = append(order, f[0])
	}
	return strings.Join(strings.Fields(lines[0]), " "), rows, order
}

// copyFiles copies the named files (paths) into dir.
func copyFiles(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGetFromControllerStatus(t *testing.T) {
	dir := writeStatusDir(t)

	t.Run("table", func(t *testing.T) {
		code, out, errOut := statusCLI(t, dir, "get")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d:\n%s", code, errOut)
		}
		header, rows, order := tableRows(t, out)
		if header != "NAME GROUP CURRENT DESIRED CPUS% MEM% READY LAST SCALE AGE" {
			t.Errorf("header %q", header)
		}
		if strings.Join(order, " ") != "analytics batch general" {
			t.Errorf("rows not sorted by name: %v", order)
		}
		// LAST SCALE: general scaled at 08:01:31, 3 h before; batch at 08:30:31 (151 minutes,
		// which kubectl prints as 151m); analytics never scaled. AGE: every policy was first
		// seen by the controller (metadata.creationTimestamp) at 08:01:31, 3 h before.
		for name, want := range map[string]string{
			"general":   "general mesos-agents-general 3 3 64% 16% True 3h 3h",
			"batch":     "batch mesos-agents-batch 3 2 32% 8% True 151m 3h",
			"analytics": "analytics mesos-agents-analytics - - - - False <none> 3h", // never decided: counts unknown
		} {
			if got := strings.Join(rows[name], " "); got != want {
				t.Errorf("%s row\n got %s\nwant %s", name, got, want)
			}
		}
	})

	t.Run("wide", func(t *testing.T) {
		code, out, _ := statusCLI(t, dir, "get", "-o", "wide")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		header, rows, _ := tableRows(t, out)
		if header != "NAME GROUP CURRENT DESIRED CPUS% MEM% READY LAST SCALE AGE MODE UPCOMING DRAINING REASON" {
			t.Errorf("header %q", header)
		}
		for name, want := range map[string]string{
			"general":   "Enforce 0 0 Reconciled",
			"batch":     "Enforce 0 1 Reconciled", // the idle agent is being removed
			"analytics": "DryRun 0 0 MesosUnavailable",
		} {
			if got := strings.Join(rows[name][len(rows[name])-4:], " "); got != want {
				t.Errorf("%s wide columns %q, want %q", name, got, want)
			}
		}
	})

	t.Run("names", func(t *testing.T) {
		// Rows come in the order of the names, as with kubectl.
		code, out, _ := statusCLI(t, dir, "get", "general", "batch")
		if _, _, order := tableRows(t, out); code != 0 || strings.Join(order, " ") != "general batch" {
			t.Errorf("get general batch: exit %d, rows %v", code, order)
		}
		code, out, errOut := statusCLI(t, dir, "get", "general", "nosuch")
		if code != 1 || !strings.Contains(errOut, `no status for policy "nosuch" in `+dir+`; it holds the status of analytics, batch, general`) {
			t.Errorf("unknown name: exit %d\n%s", code, errOut)
		}
		if _, rows, _ := tableRows(t, out); len(rows) != 1 || rows["general"] == nil {
			t.Errorf("the known name is not listed with the unknown one:\n%s", out)
		}
	})

	t.Run("json and yaml", func(t *testing.T) {
		code, out, _ := statusCLI(t, dir, "get", "-o", "json")
		var list struct {
			Kind  string                   `json:"kind"`
			Items []v1alpha1.ScalingPolicy `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || list.Kind != "List" || len(list.Items) != 3 ||
			list.Items[2].Name != "general" || list.Items[2].Status.DesiredNodes != 3 {
			t.Fatalf("get -o json: exit %d, %v, %+v", code, err, list)
		}
		code, out, _ = statusCLI(t, dir, "get", "batch", "-o", "yaml")
		var p v1alpha1.ScalingPolicy
		if err := yaml.Unmarshal([]byte(out), &p); code != 0 || err != nil || p.Kind != v1alpha1.Kind || p.Name != "batch" || len(p.Status.Drains) != 1 {
			t.Fatalf("get batch -o yaml: exit %d, %v, %+v", code, err, p)
		}
	})

	t.Run("default directory", func(t *testing.T) {
		t.Setenv(statusDirEnv, dir)
		if code, out, _ := runCLI(t, "get"); code != 0 || !strings.Contains(out, "mesos-agents-batch") {
			t.Errorf("$%s: exit %d\n%s", statusDirEnv, code, out)
		}
		t.Setenv(statusDirEnv, "")
		t.Chdir(filepath.Dir(dir)) // dir is .../status
		if code, out, _ := runCLI(t, "get"); code != 0 || !strings.Contains(out, "mesos-agents-batch") {
			t.Errorf("./status: exit %d\n%s", code, out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		// The real files plus a truncated status file and a non-status YAML file.
		mixed := t.TempDir()
		copyFiles(t, mixed, filepath.Join(dir, "general.yaml"), filepath.Join(dir, "batch.yaml"),
			filepath.Join("testdata", "status", "corrupt.yaml"), filepath.Join("testdata", "status", "configmap.yaml"))
		code, out, errOut := statusCLI(t, mixed, "get")
		if _, _, order := tableRows(t, out); code != 1 || strings.Join(order, " ") != "batch general" {
			t.Errorf("mixed: exit %d, rows %v", code, order)
		}
		for _, want := range []string{
			filepath.Join(mixed, "corrupt.yaml") + ": not a status file",
			filepath.Join(mixed, "configmap.yaml") + `: not a status file: apiVersion "v1", kind "ConfigMap"`,
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
		// Naming a policy reports only its own file's problem.
		code, _, errOut = statusCLI(t, mixed, "get", "corrupt")
		if code != 1 || !strings.Contains(errOut, "corrupt.yaml") || strings.Contains(errOut, "configmap.yaml") {
			t.Errorf("get corrupt: exit %d\n%s", code, errOut)
		}
		// Only bad files: errors, exit 1, and no "No status found".
		code, out, errOut = statusCLI(t, filepath.Join("testdata", "status"), "get")
		if code != 1 || out != "" || strings.Count(errOut, "Error: ") != 2 || strings.Contains(errOut, "No status found") {
			t.Errorf("testdata/status: exit %d\n%s%s", code, out, errOut)
		}
		// An empty directory is not an error, as with kubectl.
		empty := t.TempDir()
		code, out, errOut = statusCLI(t, empty, "get")
		if code != 0 || out != "" || errOut != "No status found in "+empty+".\n" {
			t.Errorf("empty: exit %d %q %q", code, out, errOut)
		}
		code, out, _ = statusCLI(t, empty, "get", "-o", "json")
		if code != 0 || !strings.Contains(out, `"items": []`) {
			t.Errorf("empty -o json: exit %d %q", code, out)
		}
		if code, _, errOut := statusCLI(t, filepath.Join(empty, "missing"), "get"); code != 1 || !strings.Contains(errOut, "reading status directory") {
			t.Errorf("missing directory: exit %d %s", code, errOut)
		}
		if code, _, _ := statusCLI(t, dir, "get", "-o", "table"); code != 2 {
			t.Errorf("-o table: exit %d, want 2", code)
		}
		if code, _, _ := runCLI(t, "get", "--status-dir", dir, "--now", "yesterday"); code != 2 {
			t.Errorf("--now yesterday: exit %d, want 2", code)
		}
	})

	t.Run("help", func(t *testing.T) {
		_, out, _ := runCLI(t, "get", "--help")
		if !strings.Contains(out, "$LAMBDASCALE_STATUS_DIR") || !strings.Contains(out, "earliest") || strings.Contains(out, "--now") {
			t.Errorf("get --help:\n%s", out)
		}
	})
}

// describeSections returns the unindented lines of a describe output, up to their colon.
func describeSections(out string) []string {
	var keys []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && l[0] != ' ' {
			k, _, _ := strings.Cut(l, ":")
			keys = append(keys, k)
		}
	}
	return keys
}

// describeBlock returns the lines after the line starting with header up to the next
// unindented line.
func describeBlock(out, header string) []string {
	var block []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, header):
			in = true
		case in && (l == "" || l[0] != ' '):
			return block
		case in:
			block = append(block, l)
		}
	}
	return block
}

func TestDescribeFromControllerStatus(t *testing.T) {
	dir := writeStatusDir(t)
	st, err := store.New(dir)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("general", func(t *testing.T) {
		code, out, errOut := statusCLI(t, dir, "describe", "general")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		want := "Name Status File Auto Scaling Group Region Mode Interval Masters Marathon Credentials File Generation Observed Generation " +
			"Pool Bounds Thresholds Scale Up Scale Down Status Conditions Recent Decisions (oldest first)"
		if got := strings.Join(describeSections(out), " "); got != want {
			t.Errorf("sections\n got %s\nwant %s", got, want)
		}
		for _, want := range []string{
			"Region:                <AWS default chain>",
			"  Scale Up Above:         80%",
			"  Application Headroom:   0% (disabled)",
			"  Stabilization:            0s",
			"  Drain Timeout:            10m0s",
			"  Current Nodes:                  3",
			"  Last Scale Time:                2026-11-30T08:01:31Z (3h ago)",
			"    cpus:  64% (15.4/24 cores)",
			"    mem:   16% (14784Mi/90Gi)",
			"  Drains:  <none>",
		} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("no line %q in\n%s", want, out)
			}
		}

		// Conditions: every stored condition, in the stored order.
		p, err := st.Get("general")
		if err != nil || p == nil {
			t.Fatal(err)
		}
		conds := describeBlock(out, "Conditions:")
		if len(conds) != len(p.Status.Conditions)+1 || strings.Join(strings.Fields(conds[0]), " ") != "TYPE STATUS REASON AGE MESSAGE" {
			t.Fatalf("conditions:\n%s", strings.Join(conds, "\n"))
		}
		for i, c := range p.Status.Conditions {
			f := strings.Fields(conds[i+1])
			if f[0] != c.Type || f[1] != string(c.Status) || f[2] != c.Reason || f[3] != "3h" || !strings.HasSuffix(conds[i+1], c.Message) {
				t.Errorf("condition %d: %q, want %s %s %s", i, conds[i+1], c.Type, c.Status, c.Reason)
			}
		}
		if f := strings.Fields(conds[len(conds)-1]); f[0] != controllers.ConditionReady || f[1] != "True" || f[2] != "Reconciled" {
			t.Errorf("Ready: %v", f)
		}

		// Decisions, oldest first: the scale-up with its action and reasons, then the
		// reconciles while the new instance registered and once it had.
		dec := describeBlock(out, "Recent Decisions")
		var rows [][]string
		detailsOfFirst := ""
		for _, l := range dec[1:] {
			if strings.HasPrefix(l, "    ") {
				if len(rows) == 1 {
					detailsOfFirst += strings.TrimSpace(l) + "\n"
				}
				continue
			}
			rows = append(rows, strings.Fields(l))
		}
		wantRows := []string{
			"2026-11-30T08:01:31Z 3h ScaleUp 2→3 1",
			"2026-11-30T08:02:01Z 179m NoChange 3→3 0",
			"2026-11-30T08:03:01Z 178m NoChange 3→3 0",
		}
		if len(rows) != len(wantRows) {
			t.Fatalf("decisions:\n%s", strings.Join(dec, "\n"))
		}
		for i, w := range wantRows {
			if got := strings.Join(rows[i], " "); got != w {
				t.Errorf("decision %d\n got %s\nwant %s", i, got, w)
			}
		}
		if !strings.Contains(detailsOfFirst, "UtilizationHigh: cpus is 96.2% used (15.4 cores of 16 cores), above the scale-up threshold 80%") ||
			!strings.HasSuffix(detailsOfFirst, "UtilizationHigh: cpus is 96.2% used (15.4 cores of 16 cores), above the scale-up threshold 80%; 1 more node brings it to 64.2%\nAction: SetDesiredCapacity 2→3\n") {
			t.Errorf("details of the scale-up:\n%s", detailsOfFirst)
		}
	})

	t.Run("drain and region", func(t *testing.T) {
		p, err := st.Get("batch")
		if err != nil || p == nil || len(p.Status.Drains) != 1 {
			t.Fatalf("%v %+v", err, p)
		}
		d := p.Status.Drains[0]
		code, out, _ := statusCLI(t, dir, "describe", "batch")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{"Region:                us-west-2", "  Protected Applications:   /db/",
			"    cpus:  32% (7.7/24 cores)", "    mem:   8% (7392Mi/90Gi)"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("no line %q in\n%s", want, out)
			}
		}
		drains := describeBlock(out, "  Drains:")
		if len(drains) != 2 || strings.Join(strings.Fields(drains[0]), " ") != "AGENT INSTANCE MACHINE UNITS PHASE STARTED DEADLINE" {
			t.Fatalf("drains:\n%s", strings.Join(drains, "\n"))
		}
		want := d.AgentID + " " + d.InstanceID + " " + d.Hostname + " 1 Terminating 2026-11-30T08:30:31Z (151m ago) 2026-11-30T08:40:31Z (141m ago)"
		if got := strings.Join(strings.Fields(drains[1]), " "); got != want {
			t.Errorf("drain\n got %s\nwant %s", got, want)
		}
		if !strings.Contains(out, "    Agents to remove: "+d.AgentID+"\n") ||
			!strings.Contains(out, "    Action: TerminateInstanceInAutoScalingGroup "+d.InstanceID+" (agent "+d.AgentID+")\n") {
			t.Errorf("the scale-down decision does not name the agent and its termination:\n%s", out)
		}
	})

	t.Run("no decision", func(t *testing.T) {
		code, out, _ := statusCLI(t, dir, "describe", "analytics")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{"  Utilization:  <none>", "Recent Decisions:  <none>", "  Last Scale Time:                <none>"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("no line %q in\n%s", want, out)
			}
		}
		if !strings.Contains(out, "Mode:                  DryRun (") {
			t.Errorf("mode:\n%s", out)
		}
		conds := describeBlock(out, "Conditions:")
		if len(conds) != 3 || !strings.HasPrefix(strings.Join(strings.Fields(conds[2]), " "), "Ready False MesosUnavailable 3h no decision: reading Mesos state") {
			t.Errorf("conditions:\n%s", strings.Join(conds, "\n"))
		}
	})

	t.Run("several names", func(t *testing.T) {
		code, out, _ := statusCLI(t, dir, "describe", "general", "batch")
		if code != 0 || strings.Count(out, "\nName:  ") != 1 || !strings.HasPrefix(out, "Name:                  general\n") || !strings.Contains(out, "\n\nName:                  batch\n") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		code, out, errOut := statusCLI(t, dir, "describe", "nosuch")
		if code != 1 || out != "" || !strings.Contains(errOut, `no status for policy "nosuch" in `+dir+`; it holds the status of analytics, batch, general`) {
			t.Errorf("unknown name: exit %d\n%s%s", code, out, errOut)
		}
		code, _, errOut = statusCLI(t, filepath.Join("testdata", "status"), "describe", "corrupt")
		if code != 1 || !strings.Contains(errOut, "corrupt.yaml: not a status file") || strings.Contains(errOut, "configmap") {
			t.Errorf("corrupt: exit %d\n%s", code, errOut)
		}
		if code, _, errOut := statusCLI(t, dir, "describe"); code != 2 || !strings.Contains(errOut, "describe needs the NAME") {
			t.Errorf("no NAME: exit %d %s", code, errOut)
		}
	})
}

func TestStatusWhen(t *testing.T) {
	now := statusNow
	for _, c := range []struct {
		t    *metav1.Time
		want string
	}{
		{nil, "<none>"},
		{&metav1.Time{Time: now.Add(-90 * time.Second)}, "2026-11-30T11:00:01Z (90s ago)"},
		{&metav1.Time{Time: now.Add(5 * time.Minute)}, "2026-11-30T11:06:31Z (in 5m)"},
		{&metav1.Time{Time: now.Add(-50 * time.Hour)}, "2026-11-28T09:01:31Z (2d2h ago)"},
	} {
		if got := statusWhen(now, c.t); got != c.want {
			t.Errorf("statusWhen(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}
