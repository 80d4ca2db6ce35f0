package fakemesos_test

import (
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
)

// TestAttributeConstraints: two groups, "mesos-agents-web" (pool=web, 2 instances) and
// "mesos-agents-batch" (pool=batch, 1 instance). /web/api is constrained to pool CLUSTER web,
// /batch/job to pool LIKE "bat.*": every /web/api task lands on a web agent and every
// /batch/job task on the batch agent. A /batch/job task needs 4 + 0.1 (executor) cores: one
// fits on the 8-core batch agent, two would need 8.2, so 2 of the 3 wait in the queue.
func TestAttributeConstraints(t *testing.T) {
	clk := testingclock.NewFakeClock(start)
	aws := fakeaws.New(fakeaws.Options{Clock: clk})
	for name, n := range map[string]int32{"mesos-agents-web": 2, "mesos-agents-batch": 1} {
		if err := aws.CreateGroup(fakeaws.GroupConfig{Name: name, MinSize: 0, MaxSize: 5, DesiredCapacity: n, InstanceType: "m5.2xlarge"}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := fakemesos.New(fakemesos.Options{
		Clock:    clk,
		Machines: fakemesos.FromFakeAWS(aws, "mesos-agents-web", "mesos-agents-batch"),
		Applications: []fakemesos.Application{
			{ID: "/web/api", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 6}}, Constraints: [][]string{{"pool", "CLUSTER", "web"}}},
			{ID: "/batch/job", CPUs: 4, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 3}}, Constraints: [][]string{{"pool", "LIKE", "bat.*"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Step(2 * time.Minute) // 30 s pending + 60 s registration
	pools := map[string]string{}
	for _, a := range c.Agents() {
		pools[a.ID] = a.Attributes["pool"]
	}
	if len(pools) != 3 {
		t.Fatalf("%d agents, want 3", len(pools))
	}
	running := map[string]int{}
	for _, a := range c.Agents() {
		for app, n := range a.TasksByApp {
			running[app+"@"+pools[a.ID]] += n
		}
	}
	if running["/web/api@web"] != 6 || running["/batch/job@batch"] != 1 || len(running) != 2 {
		t.Errorf("placement %v, want 6 /web/api on web agents and 1 /batch/job on the batch agent", running)
	}
	for _, ap := range c.Apps() {
		if ap.ID == "/batch/job" && ap.Queued != 2 {
			t.Errorf("/batch/job queued %d, want 2", ap.Queued)
		}
	}
}
