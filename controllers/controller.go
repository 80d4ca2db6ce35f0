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
	// GatherTimeout bounds one policy's observation (default 30 s).
	GatherTimeout time.Duration
	// OnDecision, when set, is called after each policy's reconcile (the demo prints it).
	OnDecision func(Result)
	// Crash, when set, is asked after each step of a scale-in (StepIntentRecorded, ...);
	// returning true stops the reconcile there without writing anything more, as if the
	// process had been killed. For tests.
	Crash func(step string) bool
}

// Result is the outcome of one policy's reconcile.
type Result struct {
	// Policy is the policy name.
	Policy string
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
}

// policyState is what the controller keeps per policy between reconciles.
type policyState struct {
	obj      *v1alpha1.ScalingPolicy // defaulted spec, generation and status as stored
	source   string                  // where the policy was loaded from
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
	if stored != nil {
		p.Status = stored.Status
		p.Generation = stored.Generation
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
	ps := &policyState{obj: p, source: l.Location(), settings: s, config: planner.ConfigFromPolicy(p), mesos: mc, next: now}
	if s.MarathonURL != "" {
		ps.marathon = marathon.NewClient(s.MarathonURL, c.opts.HTTPClient, auth)
	}
	return ps, nil
}

// Policies returns the names of the reconciled policies, sorted.
func (c *Controller) Policies() []string {
	names := make([]string, 0, len(c.policies))
	for _, ps := range c.policies {
		names = append(names, ps.obj.Name)
	}
	return names
}

// ReconcileAll reconciles every policy once, now, and returns their results (sorted by policy).
// It is what `run --once` does.
func (c *Controller) ReconcileAll(ctx context.Context) []Result {
	return c.reconcile(ctx, c.policies)
}

// Run reconciles each policy every spec.intervalSeconds (or after its backoff) until ctx is
// cancelled. A reconcile in progress finishes, status included, before Run returns.
func (c *Controller) Run(ctx context.Context) error {
	for {
		now := c.opts.Clock.Now()
		var due []*policyState
		next := time.Time{}
		for _, ps := range c.policies {
			if !ps.next.After(now) {
				due = append(due, ps)
			} else if next.IsZero() || ps.next.Before(next) {
				next = ps.next
			}
		}
		if len(due) > 0 {
			c.reconcile(context.WithoutCancel(ctx), due)
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		if next.IsZero() {
			<-ctx.Done()
			return nil
		}
		t := c.opts.Clock.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// reconcile runs one round for the due policies: one DescribeGroups per region for all their
// groups, then each policy's reconcile in parallel.
func (c *Controller) reconcile(ctx context.Context, due []*policyState) []Result {
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
		dctx, cancel := context.WithTimeout(ctx, c.opts.GatherTimeout)
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
			results[i] = c.reconcileOne(ctx, ps, o.provider, gp, gerr)
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
