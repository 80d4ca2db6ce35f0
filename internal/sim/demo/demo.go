// Package demo runs the embedded default of `make run`: the real controller against the
// simulated cluster (fake AWS endpoint, simulated Mesos masters and Marathon) under a workload
// that rises then falls, on a fake clock that compresses hours into seconds. It prints each
// decision as it happens and a summary at the end. Nothing leaves the loopback interface.
package demo

import (
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/planner"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"github.com/lambdascale/lambdascale/internal/store"
)

// Start is the simulated time the demo starts at: a fixed morning in the past, so that `get`
// and `describe` on the demo's status show ages rather than times in the future.
var Start = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

// Options configure Run.
type Options struct {
	// Policies are the loaded policies; their masters and Marathon URL are pointed at the
	// simulated cluster (in memory only).
	Policies []policy.Loaded
	// StatusDir receives the status files.
	StatusDir string
	// Duration is the simulated time to run (2 h when zero).
	Duration time.Duration
	// Out receives the decisions and the summary.
	Out io.Writer
	// Log receives the controller's logs.
	Log logr.Logger
}

// Summary is what the demo measured.
type Summary struct {
	// Reconciles is the number of policy reconciles; Rounds the number of reconcile rounds.
	Reconciles, Rounds int
	// Actions counts the AWS writes by policy ("general": 5).
	Actions map[string]int
	// Calls counts the AWS API calls the fake answered, by action.
	Calls map[string]int
	// SteadyRounds is the number of rounds with no AWS write, SteadyCalls the AWS calls in them.
	SteadyRounds, SteadyCalls int
	// Nodes samples each group's InService instance count every SampleEvery of simulated
	// time, and once more at the end.
	Nodes       map[string][]int
	SampleEvery time.Duration
	// MaxNodes and FinalNodes are per group.
	MaxNodes, FinalNodes map[string]int
	// TasksMoved counts the tasks frameworks moved off draining agents; TasksKilled the tasks
	// lost with their machine (none when every drain completed).
	TasksMoved, TasksKilled int
	// Real is the wall-clock time the demo took.
	Real time.Duration
}

// groupDefaults are the simulated groups, by name; a policy naming another group gets a group
// of 2 to 20 m5.2xlarge instances.
var groupDefaults = map[string]simenv.Group{
	"mesos-agents-general": {MinSize: 2, MaxSize: 20, DesiredCapacity: 3, InstanceType: "m5.2xlarge"},
	"mesos-agents-batch":   {MinSize: 0, MaxSize: 40, DesiredCapacity: 1, InstanceType: "m5.4xlarge"},
}

// workload rises from minute 10, peaks from minute 25 to 55, then falls back.
func workload() []fakemesos.Application {
	m := func(min int) time.Duration { return time.Duration(min) * time.Minute }
	general := [][]string{{"pool", "CLUSTER", "general"}}
	return []fakemesos.Application{
		{ID: "/web/frontend", CPUs: 1, MemMiB: 2048, Constraints: general,
			Schedule: []fakemesos.Step{{At: 0, Instances: 6}, {At: m(10), Instances: 20}, {At: m(25), Instances: 36}, {At: m(55), Instances: 12}, {At: m(70), Instances: 2}}},
		{ID: "/web/api", CPUs: 2, MemMiB: 4096, Constraints: general,
			Schedule: []fakemesos.Step{{At: 0, Instances: 3}, {At: m(10), Instances: 6}, {At: m(25), Instances: 12}, {At: m(55), Instances: 4}, {At: m(70), Instances: 1}}},
		// A long-running service started at the peak: its tasks land on the newest agents,
		// so shrinking the pool later drains busy agents and moves them.
		{ID: "/web/search", CPUs: 1, MemMiB: 2048, Constraints: general,
			Schedule: []fakemesos.Step{{At: 0, Instances: 0}, {At: m(40), Instances: 6}}},
		{ID: "/batch/report", CPUs: 4, MemMiB: 8192, Constraints: [][]string{{"pool", "CLUSTER", "batch"}},
			Schedule: []fakemesos.Step{{At: 0, Instances: 1}, {At: m(20), Instances: 8}, {At: m(50), Instances: 1}}},
	}
}

// Run runs the demo until Duration of simulated time has passed.
func Run(ctx context.Context, o Options) (Summary, error) {
	if o.Duration == 0 {
		o.Duration = 2 * time.Hour
	}
	began := time.Now()
	sum := Summary{Actions: map[string]int{}, Calls: map[string]int{}, Nodes: map[string][]int{}, MaxNodes: map[string]int{}, FinalNodes: map[string]int{}}

	var groups []simenv.Group
	seen := map[string]bool{}
	for _, l := range o.Policies {
		name := l.Policy.Spec.AutoScalingGroup.Name
		if seen[name] {
			continue
		}
		seen[name] = true
		g, ok := groupDefaults[name]
		if !ok {
			g = simenv.Group{MinSize: 2, MaxSize: 20, DesiredCapacity: 3, InstanceType: "m5.2xlarge"}
		}
		g.Name = name
		groups = append(groups, g)
	}
	env, err := simenv.New(simenv.Options{
		Start: Start, Groups: groups, Applications: workload(), Log: o.Log,
		Shapes: map[string]mesos.Resources{"m5.4xlarge": {CPUs: 16, Mem: 62464, Disk: 190000}},
	})
	if err != nil {
		return sum, err
	}
	defer env.Close()
	for _, l := range o.Policies {
		env.Rewire(l.Policy)
	}
	st, err := store.New(o.StatusDir)
	if err != nil {
		return sum, err
	}

	// Let the initial instances boot and register before the controller starts.
	env.Advance(2*time.Minute, time.Second)

	var mu sync.Mutex
	last := map[string]string{}
	ctrl, policyErrs, err := controllers.New(controllers.Options{
		Clock: env.Clock, Log: o.Log, Store: st, Provider: env.Provider,
		OnDecision: func(r controllers.Result) {
			mu.Lock()
			defer mu.Unlock()
			sum.Reconciles++
			sum.Actions[r.Policy] += len(r.Acted)
			printResult(o.Out, r, last)
		},
	}, o.Policies)
	if err != nil {
		return sum, err
	}
	for _, err := range policyErrs {
		fmt.Fprintf(o.Out, "Skipping policy: %v\n", err)
	}
	fmt.Fprintf(o.Out, "Lambda Scale demo: %d policies (%s) on a simulated Mesos cluster and Auto Scaling endpoint.\n",
		len(o.Policies), strings.Join(ctrl.Policies(), ", "))
	begin := env.Clock.Now()
	fmt.Fprintf(o.Out, "Simulated time runs from %s for %s; instances boot in 30 s and register as agents 60 s later.\n\n", begin.Format("15:04"), o.Duration)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(runCtx) }()

	end := begin.Add(o.Duration)
	sum.SampleEvery = max(o.Duration/12, time.Minute).Round(time.Minute)
	nextSample := begin
	sample := func() {
		for _, g := range groups {
			sum.Nodes[g.Name] = append(sum.Nodes[g.Name], inService(env, g.Name))
		}
	}
	for env.Clock.Now().Before(end) {
		if ctx.Err() != nil {
			break
		}
		if now := env.Clock.Now(); !now.Before(nextSample) {
			sample()
			nextSample = nextSample.Add(sum.SampleEvery)
		}
		if env.Clock.HasWaiters() {
			env.Clock.Step(time.Second)
			for _, g := range groups {
				if n := inService(env, g.Name); n > sum.MaxNodes[g.Name] {
					sum.MaxNodes[g.Name] = n
				}
			}
		} else {
			time.Sleep(50 * time.Microsecond)
		}
	}
	cancel()
	if err := <-done; err != nil {
		return sum, err
	}
	sample()
	for _, g := range groups {
		sum.FinalNodes[g.Name] = inService(env, g.Name)
	}

	// AWS calls per round: the controller's rounds happen at distinct simulated times.
	rounds := map[time.Time][]string{}
	for _, c := range env.AWS.Calls() {
		sum.Calls[c.Action]++
		rounds[c.Time] = append(rounds[c.Time], c.Action)
	}
	sum.Rounds = len(rounds)
	for _, actions := range rounds {
		write := false
		for _, a := range actions {
			if a == "SetDesiredCapacity" || a == "TerminateInstanceInAutoScalingGroup" {
				write = true
			}
		}
		if !write {
			sum.SteadyRounds++
			sum.SteadyCalls += len(actions)
		}
	}
	for _, n := range env.Mesos.MovedTasks() {
		sum.TasksMoved += n
	}
	for _, n := range env.Mesos.KilledTasks() {
		sum.TasksKilled += n
	}
	sum.Real = time.Since(began)
	printSummary(o.Out, sum, groups, o.StatusDir, ctrl.Policies())
	return sum, nil
}

func inService(env *simenv.Env, group string) int {
	g, ok := env.AWS.Group(group)
	if !ok {
		return 0
	}
	n := 0
	for _, i := range g.Instances {
		if i.LifecycleState == "InService" {
			n++
		}
	}
	return n
}

// printResult prints a decision that changed something, failed, or gave new reasons.
func printResult(w io.Writer, r controllers.Result, last map[string]string) {
	ts := r.Time.Format("15:04:05")
	if r.Decision == nil {
		msg := fmt.Sprintf("observation failed: %v", r.Err)
		if last[r.Policy] != msg {
			fmt.Fprintf(w, "%s  %-8s %s\n", ts, r.Policy, msg)
		}
		last[r.Policy] = msg
		return
	}
	d := r.Decision
	var reasons []string
	for _, x := range d.Reasons {
		if x.Reason != planner.ReasonNodeShapeInferred && x.Reason != planner.ReasonNodeShapeFromType {
			reasons = append(reasons, x.Reason)
		}
	}
	key := string(d.Direction) + strings.Join(reasons, ",")
	if len(r.Acted) == 0 && r.Err == nil && last[r.Policy] == key {
		return
	}
	last[r.Policy] = key
	var util []string
	for _, u := range d.Utilization {
		util = append(util, fmt.Sprintf("%s %3.0f%%", u.Resource, math.Floor(u.Percent)))
	}
	line := fmt.Sprintf("%s  %-8s %-9s %2d → %-2d  %s  %s", ts, r.Policy, d.Direction, d.CurrentCapacity, d.DesiredCapacity, strings.Join(util, " "), strings.Join(reasons, ", "))
	if len(r.Acted) > 0 {
		for _, a := range r.Acted {
			line += "\n" + strings.Repeat(" ", 20) + "→ " + shortIDs(a)
		}
	}
	if d.Direction != planner.NoChange && len(r.Acted) == 0 && r.Err == nil {
		line += "  (not applied: DryRun)"
	}
	if r.Err != nil {
		line += "\n" + strings.Repeat(" ", 20) + "error: " + r.Err.Error()
	}
	fmt.Fprintln(w, line)
}

func printSummary(w io.Writer, s Summary, groups []simenv.Group, statusDir string, policies []string) {
	fmt.Fprintf(w, "\nSummary\n")
	fmt.Fprintf(w, "  InService instances every %s of simulated time, and at the end:\n", s.SampleEvery)
	for _, g := range groups {
		var cells []string
		for _, n := range s.Nodes[g.Name] {
			cells = append(cells, fmt.Sprintf("%2d", n))
		}
		fmt.Fprintf(w, "    %-22s %s   (max %d, final %d)\n", g.Name, strings.Join(cells, " "), s.MaxNodes[g.Name], s.FinalNodes[g.Name])
	}
	names := make([]string, 0, len(s.Actions))
	for p := range s.Actions {
		names = append(names, p)
	}
	sort.Strings(names)
	var acts []string
	for _, p := range names {
		acts = append(acts, fmt.Sprintf("%s %d", p, s.Actions[p]))
	}
	fmt.Fprintf(w, "  Actions by policy (AWS writes and Mesos maintenance calls): %s\n", strings.Join(acts, ", "))
	actions := make([]string, 0, len(s.Calls))
	total := 0
	for a, n := range s.Calls {
		actions = append(actions, fmt.Sprintf("%s %d", a, n))
		total += n
	}
	sort.Strings(actions)
	fmt.Fprintf(w, "  AWS calls: %s (total %d)\n", strings.Join(actions, ", "), total)
	fmt.Fprintf(w, "  Tasks moved off draining agents by their frameworks: %d; tasks killed by a removal: %d\n", s.TasksMoved, s.TasksKilled)
	if s.SteadyRounds > 0 {
		fmt.Fprintf(w, "  Steady state: %.2f AWS calls per reconcile round without a write (%d rounds)\n", float64(s.SteadyCalls)/float64(s.SteadyRounds), s.SteadyRounds)
	}
	fmt.Fprintf(w, "  %d reconciles in %d rounds, %s of real time\n", s.Reconciles, s.Rounds, s.Real.Round(time.Millisecond))
	var files []string
	for _, p := range policies {
		files = append(files, statusDir+"/"+p+".yaml")
	}
	fmt.Fprintf(w, "  Status files: %s\n", strings.Join(files, ", "))
}

// shortIDs shortens the simulated cluster's agent ids ("5ca1ab1e-...-S10" → "S10") for display.
func shortIDs(s string) string {
	return agentIDPrefix.ReplaceAllString(s, "")
}

var agentIDPrefix = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-`)
