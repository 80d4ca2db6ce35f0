package leader

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"github.com/lambdascale/lambdascale/internal/store"
)

// TestTwoControllersOneWriter runs two controllers on the same simulated cluster, each with
// its own elector on the real ZooKeeper: only the leader writes to AWS; when it stops, the
// other takes over and acts. The pool (2 agents, 14 one-core tasks: 96 % cpus) wants 3 nodes,
// and an AWS write then proves who acts.
func TestTwoControllersOneWriter(t *testing.T) {
	requireZK(t)
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
	yaml := `apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata: {name: general}
spec:
  mesos: {masters: ["http://127.0.0.1:1"]}
  autoScalingGroup: {name: mesos-agents-general}
  applicationHeadroomPercent: 0
`
	path := testPath(t)
	newController := func(m *member) *controllers.Controller {
		loaded, errs := policy.LoadData("general.yaml", []byte(yaml))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		env.Rewire(loaded[0].Policy)
		st, _ := store.New(t.TempDir())
		c, perrs, err := controllers.New(controllers.Options{Clock: env.Clock, Log: logr.Discard(), Store: st, Provider: env.Provider, IsLeader: m.IsLeader}, loaded)
		if err != nil || len(perrs) > 0 {
			t.Fatal(err, perrs)
		}
		return c
	}
	a := startMember(t, zkServers, path, "a")
	b := startMember(t, zkServers, path, "b")
	waitFor(t, 10*time.Second, "a leader", func() bool { return a.IsLeader() || b.IsLeader() })
	lead, follow := a, b
	if b.IsLeader() {
		lead, follow = b, a
	}
	cl, cf := newController(lead), newController(follow)

	// The follower observes nothing and writes nothing.
	rf := cf.ReconcileAll(context.Background())[0]
	if rf.Err == nil || !strings.Contains(rf.Err.Error(), "not the leader") || env.AWS.CallCount("SetDesiredCapacity") != 0 {
		t.Fatalf("follower: %v, %d writes", rf.Err, env.AWS.CallCount("SetDesiredCapacity"))
	}
	// The leader acts.
	if rl := cl.ReconcileAll(context.Background())[0]; rl.Err != nil || len(rl.Acted) != 1 {
		t.Fatalf("leader: %v %v", rl.Err, rl.Acted)
	}
	if g, _ := env.AWS.Group("mesos-agents-general"); g.DesiredCapacity != 3 {
		t.Fatalf("desired %d, want 3", g.DesiredCapacity)
	}

	// The leader stops; the follower takes over: its reconciles now observe and decide (the
	// group is already growing, so there is nothing to write).
	lead.cancel()
	<-lead.done
	took := time.Now()
	waitFor(t, 2*sessionTimeout, "the follower to lead", follow.IsLeader)
	t.Logf("failover after a clean stop: %s", time.Since(took))
	if rf = cf.ReconcileAll(context.Background())[0]; rf.Err != nil || rf.Decision == nil || rf.Decision.UpcomingNodes != 1 {
		t.Fatalf("new leader: %v %+v", rf.Err, rf.Decision)
	}
	if n := env.AWS.SuccessCount("SetDesiredCapacity"); n != 1 {
		t.Errorf("%d SetDesiredCapacity calls in all, want 1", n)
	}
	if cl.ReconcileAll(context.Background())[0].Err == nil {
		t.Error("the stopped leader still acts")
	}
}
