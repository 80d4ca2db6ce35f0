package controllers_test

import (
	"context"
	"fmt"
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

// BenchmarkReconcile1000Agents measures one whole reconcile (leader discovery through the
// standby, /master/state of 1,000 agents and 20,000 tasks over loopback HTTP, Marathon's queue,
// DescribeAutoScalingGroups through the AWS SDK, plan with 20 % headroom, status write) on the
// simulated cluster, in steady state (no AWS write).
func BenchmarkReconcile1000Agents(b *testing.B) {
	var apps []fakemesos.Application
	for i := 0; i < 200; i++ { // 200 apps × 100 tasks of 0.2 core (+0.1 executor): 20 per agent, 6 of 8 cores
		apps = append(apps, fakemesos.Application{ID: fmt.Sprintf("/svc/app-%03d", i), CPUs: 0.2, MemMiB: 512, Schedule: []fakemesos.Step{{Instances: 100}}})
	}
	env, err := simenv.New(simenv.Options{
		Start:        t0,
		Groups:       []simenv.Group{{Name: group, MinSize: 1, MaxSize: 1200, DesiredCapacity: 1000, InstanceType: "m5.2xlarge"}},
		Applications: apps,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	env.Advance(91*time.Second, time.Second)
	yaml := strings.Replace(policyYAMLWith(20, 600), "maxNodes: 10", "maxNodes: 1200", 1)
	loaded, errs := policy.LoadData("general.yaml", []byte(yaml))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	env.Rewire(loaded[0].Policy)
	st, _ := store.New(b.TempDir())
	ctrl, perrs, err := controllers.New(controllers.Options{Clock: env.Clock, Log: logr.Discard(), Store: st, Provider: env.Provider}, loaded)
	if err != nil || len(perrs) > 0 {
		b.Fatal(err, perrs)
	}
	r := ctrl.ReconcileAll(context.Background())[0] // first: DescribeInstances for 1,000 instances
	if r.Err != nil || r.Decision.PoolAgents != 1000 || len(r.Acted) > 0 {
		b.Fatalf("not a steady cluster: %v %v %+v", r.Err, r.Acted, r.Decision.Reasons)
	}
	env.AWS.ResetCalls()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		r := ctrl.ReconcileAll(context.Background())[0]
		if r.Err != nil || len(r.Acted) > 0 {
			b.Fatalf("%v %v", r.Err, r.Acted)
		}
	}
	b.ReportMetric(float64(len(env.AWS.Calls()))/float64(n), "aws-calls/op")
	counts := map[string]int{}
	for _, c := range env.AWS.Calls() {
		counts[c.Action+" "+c.Code+fmt.Sprint(c.HTTPStatus)]++
	}
	if counts["DescribeInstances 200"] > 0 {
		b.Errorf("DescribeInstances in steady state: %v", counts)
	}
}
