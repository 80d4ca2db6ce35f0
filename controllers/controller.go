// Package controllers holds the reconciler of ScalingPolicy objects: for each policy, every
// spec.intervalSeconds, it observes the Mesos master(s), Marathon and the Auto Scaling group,
// asks the planner for a decision, converges the group towards it (unless the policy is DryRun)
// and writes the status. One failing policy never blocks the others; failures are retried
// with capped exponential backoff. Decisions are made by internal/planner; this package does
// the I/O around them.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/marathon"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/planner"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/store"
)

// Backoff bounds for a policy whose reconcile failed: the first retry comes after
// BackoffInitial, each further one waits twice as long, up to BackoffMax.
const (
	BackoffInitial = 5 * time.Second
	BackoffMax     = 5 * time.Minute
)

// Options configure a Controller.
type Options struct {
	// Clock drives intervals, backoff and condition times (k8s.io/utils/clock).
	Clock clock.WithTicker
	// Log receives structured logs.
	Log logr.Logger
	// Store keeps each policy's status.
	Store *store.Store
	// Provider returns the Auto Scaling API for a region ("" = the AWS default chain).
	Provider func(ctx context.Context, region string) (cloud.Provider, error)
	// HTTPClient reaches Mesos masters and Marathon; nil uses a client with a 15 s timeout.
	HTTPClient *http.Client
	// GatherTimeout bounds the observation of a reconcile round: describing the groups and
	// reading every policy's Mesos masters and Marathon share this deadline (default 30 s).
	GatherTimeout time.Duration
	// OnDecision, when set, is called after each policy's reconcile (the demo prints it).
	OnDecision func(Result)
	// Recorder, when set, records every reconcile (Prometheus metrics).
	Recorder Recorder
	// MesosRequest, when set, is told of every request to a Mesos master (endpoint path and
	// HTTP status, 0 for no answer), for metrics.
	MesosRequest func(endpoint string, status int)
	// IsLeader, when set, gates every write: a replica that is not the leader observes
	// nothing and writes nothing, and one that stops being the leader during a reconcile stops
	// before its next write to AWS or Mesos.
	IsLeader func() bool
	// Crash, when set, is asked after each step of a scale-in (StepIntentRecorded, ...);
	// returning true stops the reconcile there without writing anything more, as if the
	// process had been killed. For tests.
	Crash func(step string) bool
}

// Recorder records reconciles, e.g. as Prometheus metrics (internal/metrics).
type Recorder interface {
	// Reconcile records one policy's reconcile: its decision (nil when observation failed),
	// the agents draining, whether it failed, and the wall time of its phases.
	Reconcile(policy, group string, d *planner.Decision, draining int, failed bool, gather, plan, total time.Duration)
}

// Result is the outcome of one policy's reconcile.
type Result struct {
	// Policy is the policy name; Group its Auto Scaling group.
	Policy string
	Group  string
	// GatherDuration, PlanDuration and Duration are the wall time spent observing, planning
	// and in the whole reconcile.
	GatherDuration, PlanDuration, Duration time.Duration
	began                                  time.Time
	// Time is when the reconcile started (the controller's clock).
	Time time.Time
	// Decision is the planner's decision; nil when observation failed.
	Decision *planner.Decision
	// Acted lists the writes made ("SetDesiredCapacity 7", "TerminateInstance i-...").
	Acted []string
	// Err is the reconcile's error, nil on success.
	Err error
	// RequeueAfter is the time until the next reconcile of this policy.
	RequeueAfter time.Duration
}

// Controller reconciles a set of ScalingPolicy objects.
type Controller struct {
	opts      Options
	policies  []*policyState
	providers map[string]cloud.Provider
	mu        sync.Mutex

	// roundMu serializes reconcile rounds and Sync; listMu guards the policies slice and wake.
	roundMu sync.Mutex
	listMu  sync.Mutex
	wake    chan struct{}

	healthMu   sync.Mutex
	lastRound  time.Time       // when the last reconcile round finished (controller clock)
	reconciled map[string]bool // policies reconciled at least once
}

// noteReconciled remembers that a policy completed a reconcile (for Ready and Healthy).
func (c *Controller) noteReconciled(policy string, at time.Time) {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	if c.reconciled == nil {
		c.reconciled = map[string]bool{}
	}
	c.reconciled[policy] = true
	if at.After(c.lastRound) {
		c.lastRound = at
	}
}

// Ready reports nil once every policy has been reconciled at least once, or when this replica
// is a standby (not the leader) (the readiness probe); otherwise an error naming the policies
// not reconciled yet.
func (c *Controller) Ready() error {
	if !c.leading() {
		return nil // a standby replica is ready to take over; it reconciles nothing
	}
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	var waiting []string
	for _, ps := range c.policyList() {
		if !c.reconciled[ps.obj.Name] {
			waiting = append(waiting, ps.obj.Name)
		}
	}
	if len(waiting) > 0 {
		return fmt.Errorf("not reconciled yet: %s", strings.Join(waiting, ", "))
	}
	return nil
}

// Healthy reports nil unless the loop is stuck: no reconcile finished for three times the
// longest policy interval plus the gather timeout (the liveness probe). A controller that is
// not the leader, or has not started its first round yet, is healthy.
func (c *Controller) Healthy(now time.Time) error {
	if c.opts.IsLeader != nil && !c.opts.IsLeader() {
		return nil
	}
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	if c.lastRound.IsZero() {
		return nil
	}
	var longest time.Duration
	for _, ps := range c.policyList() {
		longest = max(longest, ps.settings.Interval)
	}
	limit := 3*max(longest, BackoffMax) + c.opts.GatherTimeout
	if since := now.Sub(c.lastRound); since > limit {
		return fmt.Errorf("no reconcile finished for %s (limit %s)", since.Round(time.Second), limit)
	}
	return nil
}

// policyState is what the controller keeps per policy between reconciles.
type policyState struct {
	obj      *v1alpha1.ScalingPolicy // defaulted spec, generation and status as stored
	source   string                  // where the policy was loaded from ("file (document N)")
	file     string                  // the file it was loaded from
	settings v1alpha1.Settings
	config   planner.Config
	mesos    *mesos.Client
	marathon *marathon.Client
	next     time.Time // when the next reconcile is due
	failures int       // consecutive failed reconciles
}

// New prepares a Controller for the loaded policies: it restores each policy's status from the
// store (so stabilization windows and cooldowns survive a restart) and bumps
// metadata.generation when the spec changed since the stored one. A policy that cannot be run
// (an unreadable credentials file, an unreadable status file) is left out and reported in
// the returned errors, one per policy, and its status says why when it can be written; the
// others run. The error is non-nil only when the options themselves are unusable.
func New(opts Options, loaded []policy.Loaded) (*Controller, []error, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if opts.GatherTimeout == 0 {
		opts.GatherTimeout = 30 * time.Second
	}
	if opts.Store == nil || opts.Provider == nil {
		return nil, nil, errors.New("creating controller: a store and a provider are required")
	}
	c := &Controller{opts: opts, providers: map[string]cloud.Provider{}}
	now := opts.Clock.Now()
	var errs []error
	for _, l := range loaded {
		ps, err := c.newPolicyState(l, now)
		if err != nil {
			errs = append(errs, err)
			c.reportUnusable(l, now, err)
			continue
		}
		c.policies = append(c.policies, ps)
	}
	sort.Slice(c.policies, func(i, j int) bool { return c.policies[i].obj.Name < c.policies[j].obj.Name })
	return c, errs, nil
}

// policyList returns a copy of the policies being reconciled.
func (c *Controller) policyList() []*policyState {
	c.listMu.Lock()
	defer c.listMu.Unlock()
	return append([]*policyState(nil), c.policies...)
}

// reportUnusable writes the status of a policy that cannot run: Ready False, reason
// InvalidConfiguration. A status file that cannot be read is left alone.
func (c *Controller) reportUnusable(l policy.Loaded, now time.Time, cause error) {
	stored, err := c.opts.Store.Get(l.Policy.Name)
	if err != nil {
		return
	}
	p, err := copyPolicy(l.Policy)
	if err != nil {
		return
	}
	if stored != nil {
		p.Status = stored.Status
		p.Generation = stored.Generation
	}
	setCondition(&p.Status, now, ConditionReady, metav1.ConditionFalse, "InvalidConfiguration", cause.Error())
	if err := c.opts.Store.Put(p); err != nil {
		c.opts.Log.Error(err, "Writing status", "scalingPolicy", p.Name)
	}
}

func (c *Controller) newPolicyState(l policy.Loaded, now time.Time) (*policyState, error) {
	p, err := copyPolicy(l.Policy)
	if err != nil {
		return nil, err
	}
	stored, err := c.opts.Store.Get(p.Name)
	if err != nil {
		return nil, fmt.Errorf("policy %q (%s): %w", p.Name, l.Location(), err)
	}
	p.Generation = 1
	p.CreationTimestamp = metav1.Time{Time: now}
	if stored != nil {
		p.Status = stored.Status
		p.Generation = stored.Generation
		if !stored.CreationTimestamp.IsZero() {
			p.CreationTimestamp = stored.CreationTimestamp
		}
		if p.Generation == 0 {
			p.Generation = 1
		}
		if !store.SameSpec(&stored.Spec, &p.Spec) {
			p.Generation++
		}
	}
	s := p.Spec.Resolved()
	var mopts []mesos.Option
	mopts = append(mopts, mesos.WithHTTPClient(c.opts.HTTPClient), mesos.WithLogger(c.opts.Log.WithValues("scalingPolicy", p.Name)))
	if c.opts.MesosRequest != nil {
		mopts = append(mopts, mesos.WithRequestObserver(c.opts.MesosRequest))
	}
	var auth string
	if s.CredentialsFile != "" {
		creds, err := mesos.LoadCredentials(s.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("policy %q (%s): spec.mesos.credentialsFile: %w", p.Name, l.Location(), err)
		}
		mopts = append(mopts, mesos.WithCredentials(creds))
		auth = creds.Authorization()
	}
	mc, err := mesos.NewClient(s.Masters, mopts...)
	if err != nil {
		return nil, fmt.Errorf("policy %q (%s): spec.mesos.masters: %w", p.Name, l.Location(), err)
	}
	ps := &policyState{obj: p, source: l.Location(), file: l.File, settings: s, config: planner.ConfigFromPolicy(p), mesos: mc, next: now}
	if s.MarathonURL != "" {
		ps.marathon = marathon.NewClient(s.MarathonURL, c.opts.HTTPClient, auth)
	}
	return ps, nil
}

// Policies returns the names of the reconciled policies, sorted.
func (c *Controller) Policies() []string {
	list := c.policyList()
	names := make([]string, 0, len(list))
	for _, ps := range list {
		names = append(names, ps.obj.Name)
	}
	return names
}

// ReconcileAll reconciles every policy once, now, and returns their results (sorted by policy).
// It is what `run --once` does.
func (c *Controller) ReconcileAll(ctx context.Context) []Result {
	c.roundMu.Lock()
	defer c.roundMu.Unlock()
	return c.reconcile(ctx, c.policyList())
}

// Run reconciles each policy every spec.intervalSeconds (or after its backoff) until ctx is
// cancelled. A reconcile in progress finishes, status included, before Run returns.
func (c *Controller) Run(ctx context.Context) error {
	for {
		now := c.opts.Clock.Now()
		var due []*policyState
		next := time.Time{}
		for _, ps := range c.policyList() {
			if !ps.next.After(now) {
				due = append(due, ps)
			} else if next.IsZero() || ps.next.Before(next) {
				next = ps.next
			}
		}
		if len(due) > 0 && !c.leading() {
			// Not the leader: observe nothing, write nothing; look again in a second.
			t := c.opts.Clock.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C():
			}
			continue
		}
		if len(due) > 0 {
			c.roundMu.Lock()
			c.reconcile(ctx, due)
			c.roundMu.Unlock()
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		wait := next.Sub(now)
		if next.IsZero() {
			wait = time.Hour
		}
		t := c.opts.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-c.wakeChan():
			t.Stop()
		case <-t.C():
		}
	}
}

// wakeChan returns the channel Sync uses to wake Run.
func (c *Controller) wakeChan() chan struct{} {
	c.listMu.Lock()
	defer c.listMu.Unlock()
	if c.wake == nil {
		c.wake = make(chan struct{}, 1)
	}
	return c.wake
}

// leading reports whether this replica may write (always, without leader election).
func (c *Controller) leading() bool {
	return c.opts.IsLeader == nil || c.opts.IsLeader()
}

// reconcile runs one round for the due policies: one DescribeGroups per region for all their
// groups, then each policy's reconcile in parallel.
//
// ctx bounds the observation (a cancelled ctx ends it at once, as on SIGTERM); writes and
// status are made whatever becomes of ctx, so a reconcile never stops half-way through them.
func (c *Controller) reconcile(ctx context.Context, due []*policyState) []Result {
	deadline := time.Now().Add(c.opts.GatherTimeout)
	type regionObs struct {
		provider cloud.Provider
		groups   map[string]cloud.Group
		err      error
	}
	byRegion := map[string][]string{}
	for _, ps := range due {
		byRegion[ps.settings.Region] = append(byRegion[ps.settings.Region], ps.settings.AutoScalingGroupName)
	}
	obs := map[string]*regionObs{}
	for region, names := range byRegion {
		o := &regionObs{}
		obs[region] = o
		o.provider, o.err = c.provider(ctx, region)
		if o.err != nil {
			continue
		}
		dctx, cancel := context.WithDeadline(ctx, deadline)
		o.groups, o.err = o.provider.DescribeGroups(dctx, names)
		cancel()
	}

	results := make([]Result, len(due))
	var wg sync.WaitGroup
	for i, ps := range due {
		o := obs[ps.settings.Region]
		g, ok := o.groups[ps.settings.AutoScalingGroupName]
		var gerr error
		switch {
		case o.provider == nil:
			gerr = o.err
		case !ok && o.err != nil:
			gerr = o.err
		case !ok:
			gerr = fmt.Errorf("describing Auto Scaling group %q: not returned by DescribeAutoScalingGroups", ps.settings.AutoScalingGroupName)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var gp *cloud.Group
			if gerr == nil {
				gp = &g
			}
			results[i] = c.reconcileOne(ctx, deadline, ps, o.provider, gp, gerr)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if c.opts.OnDecision != nil {
			c.opts.OnDecision(r)
		}
	}
	return results
}

func (c *Controller) provider(ctx context.Context, region string) (cloud.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.providers[region]; ok {
		return p, nil
	}
	p, err := c.opts.Provider(ctx, region)
	if err != nil {
		return nil, fmt.Errorf("creating AWS client for region %q: %w", region, err)
	}
	c.providers[region] = p
	return p, nil
}
