// Package metrics defines Lambda Scale's Prometheus metrics (prefix lambdascale_) and records
// them from the controller's reconciles, the AWS client's calls and the Mesos client's
// requests. Labels are bounded: policy, Auto Scaling group, resource, direction, reason, AWS
// operation and error code, Mesos endpoint and status; never agent, instance or task ids.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lambdascale/lambdascale/internal/planner"
)

// Metrics holds the collectors, registered in one registry.
type Metrics struct {
	// Registry holds every collector below plus the Go and process collectors.
	Registry *prometheus.Registry

	currentNodes, desiredNodes, upcomingNodes, drainingNodes, unschedulable *prometheus.GaugeVec
	utilization                                                             *prometheus.GaugeVec
	decisions                                                               *prometheus.CounterVec
	reconcileErrors                                                         *prometheus.CounterVec
	awsCalls, mesosRequests                                                 *prometheus.CounterVec
	reconcileSeconds, gatherSeconds, planSeconds                            *prometheus.HistogramVec
	leader                                                                  prometheus.Gauge
}

// New creates and registers the collectors in a new registry.
func New() *Metrics {
	pg := []string{"policy", "group"}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "lambdascale", Name: name, Help: help}, labels)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lambdascale", Name: name, Help: help}, labels)
	}
	hist := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "lambdascale", Name: name, Help: help,
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}}, []string{"policy"})
	}
	m := &Metrics{
		Registry:        prometheus.NewRegistry(),
		currentNodes:    gauge("current_capacity", "Current capacity of the pool's Auto Scaling group (desired capacity, in instances or weighted units).", pg...),
		desiredNodes:    gauge("desired_capacity", "Capacity the last decision asked for (instances or weighted units).", pg...),
		upcomingNodes:   gauge("upcoming_nodes", "Launched instances not yet registered as Mesos agents.", pg...),
		drainingNodes:   gauge("draining_nodes", "Agents being drained for removal.", pg...),
		unschedulable:   gauge("unschedulable_copies", "Task copies (pending or headroom) that fit no node of the pool.", pg...),
		utilization:     gauge("utilization_ratio", "Used over total capacity of the pool, per resource (0-1).", "policy", "group", "resource"),
		decisions:       counter("decisions_total", "Decisions by direction and reason (a decision counts once per reason it gives).", "policy", "direction", "reason"),
		reconcileErrors: counter("reconcile_errors_total", "Reconciles that failed (observation, actuation or status).", "policy"),
		awsCalls:        counter("aws_calls_total", "AWS API requests sent, SDK retries included, by operation and error code (OK for success).", "operation", "code"),
		mesosRequests:   counter("mesos_requests_total", "Requests to Mesos masters by endpoint and HTTP status (0 for no answer).", "endpoint", "status"),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lambdascale", Name: "leader",
			Help: "1 while this replica is the leader (or leader election is off), 0 while it stands by."}),
		reconcileSeconds: hist("reconcile_duration_seconds", "Time of one policy's reconcile: observe, plan, act, write status."),
		gatherSeconds:    hist("gather_duration_seconds", "Time to observe Mesos, Marathon and the Auto Scaling group for one policy."),
		planSeconds:      hist("plan_duration_seconds", "Time of one planner decision."),
	}
	m.Registry.MustRegister(m.currentNodes, m.desiredNodes, m.upcomingNodes, m.drainingNodes, m.unschedulable,
		m.utilization, m.decisions, m.reconcileErrors, m.awsCalls, m.mesosRequests, m.leader,
		m.reconcileSeconds, m.gatherSeconds, m.planSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Reconcile records one policy's reconcile: the decision (nil when observation failed), the
// number of agents draining, whether it failed, and how long its phases took.
func (m *Metrics) Reconcile(policy, group string, d *planner.Decision, draining int, failed bool, gather, plan, total time.Duration) {
	m.reconcileSeconds.WithLabelValues(policy).Observe(total.Seconds())
	m.gatherSeconds.WithLabelValues(policy).Observe(gather.Seconds())
	if failed {
		m.reconcileErrors.WithLabelValues(policy).Inc()
	}
	if d == nil {
		return
	}
	m.planSeconds.WithLabelValues(policy).Observe(plan.Seconds())
	m.currentNodes.WithLabelValues(policy, group).Set(float64(d.CurrentCapacity))
	m.desiredNodes.WithLabelValues(policy, group).Set(float64(d.DesiredCapacity))
	m.upcomingNodes.WithLabelValues(policy, group).Set(float64(d.UpcomingNodes))
	m.drainingNodes.WithLabelValues(policy, group).Set(float64(draining))
	copies := 0
	for _, u := range d.UnschedulableDetails {
		copies += u.Copies
	}
	m.unschedulable.WithLabelValues(policy, group).Set(float64(copies))
	for _, u := range d.Utilization {
		ratio := 0.0
		if u.Total > 0 {
			ratio = u.Used / u.Total
		}
		m.utilization.WithLabelValues(policy, group, string(u.Resource)).Set(ratio)
	}
	for _, r := range d.Reasons {
		m.decisions.WithLabelValues(policy, string(d.Direction), r.Reason).Inc()
	}
}

// Forget removes a policy's gauges (after the policy was deleted).
func (m *Metrics) Forget(policy, group string) {
	for _, g := range []*prometheus.GaugeVec{m.currentNodes, m.desiredNodes, m.upcomingNodes, m.drainingNodes, m.unschedulable} {
		g.DeleteLabelValues(policy, group)
	}
	m.utilization.DeletePartialMatch(prometheus.Labels{"policy": policy})
}

// SetLeader records whether this replica leads.
func (m *Metrics) SetLeader(leading bool) {
	if leading {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

// AWSCall records one AWS request attempt; code is the AWS error code, "" for success.
func (m *Metrics) AWSCall(operation, code string) {
	if code == "" {
		code = "OK"
	}
	m.awsCalls.WithLabelValues(operation, code).Inc()
}

// MesosRequest records one request to a Mesos master.
func (m *Metrics) MesosRequest(endpoint string, status int) {
	m.mesosRequests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
}
