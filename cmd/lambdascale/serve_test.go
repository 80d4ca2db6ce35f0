package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"sigs.k8s.io/yaml"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// syncBuffer is a bytes.Buffer safe for the controller's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunServesMetricsProbesAndReloads runs the controller loop against the simulated cluster
// with metrics and probes on loopback: /readyz turns ready after the first reconcile, the
// metrics show the decision (2 agents at 96 % grow to 3) and the AWS calls, and an edit of the
// policy file takes effect without a restart (generation 2).
func TestRunServesMetricsProbesAndReloads(t *testing.T) {
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
	policyFile := filepath.Join(policies, "general.yaml")
	doc := fmt.Sprintf(`apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata:
  name: general
spec:
  mesos:
    masters: [%q, %q]
  autoScalingGroup:
    name: mesos-agents-general
  applicationHeadroomPercent: 0
  intervalSeconds: 1
`, env.StandbyURL, env.LeaderURL)
	if err := os.WriteFile(policyFile, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	metricsAddr, probeAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errOut syncBuffer
	go func() {
		done <- runContext(ctx, []string{"run", "--policies", policies, "--status-dir", statusDir, "--aws-endpoint-url", env.AWSURL,
			"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", probeAddr, "--log-format", "json"}, &out, &errOut)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("run exited %d:\n%s", code, errOut.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("run did not stop after cancel")
		}
	}()

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("/readyz", func() bool { code, _ := httpGet("http://" + probeAddr + "/readyz"); return code == 200 })
	if code, body := httpGet("http://" + probeAddr + "/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz %d %q", code, body)
	}
	_, metrics := httpGet("http://" + metricsAddr + "/metrics")
	for _, want := range []string{
		`lambdascale_desired_capacity{group="mesos-agents-general",policy="general"} 3`,
		`lambdascale_aws_calls_total{code="OK",operation="DescribeAutoScalingGroups"}`,
		`lambdascale_aws_calls_total{code="OK",operation="SetDesiredCapacity"} 1`,
		`lambdascale_mesos_requests_total{endpoint="/master/state",status="200"}`,
		`lambdascale_decisions_total{direction="ScaleUp",policy="general",reason="UtilizationHigh"} 1`,
		`lambdascale_utilization_ratio{group="mesos-agents-general",policy="general",resource="cpus"} 0.9625`,
		`lambdascale_reconcile_duration_seconds_count{policy="general"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// JSON logs carry the policy and the group on every reconcile line.
	if !strings.Contains(errOut.String(), `"msg":"Set desired capacity","scalingPolicy":"general","autoScalingGroup":"mesos-agents-general"`) {
		t.Errorf("log:\n%s", errOut.String())
	}

	// An edit takes effect at once: maxNodes 2 (generation 2).
	if err := os.WriteFile(policyFile, []byte(doc+"  maxNodes: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("generation 2", func() bool {
		b, err := os.ReadFile(filepath.Join(statusDir, "general.yaml"))
		var p v1alpha1.ScalingPolicy
		return err == nil && yaml.Unmarshal(b, &p) == nil && p.Generation == 2 && p.Status.ObservedGeneration == 2
	})
}
