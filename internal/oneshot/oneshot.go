// Package oneshot reconciles every ScalingPolicy once and reports how that went: what
// `lambdascale run --once` and the AWS Lambda entry (cmd/lambdascale-lambda) do on each run. It
// only wires the policy loader, the status store, the AWS provider and the controller together;
// it makes no decision of its own and starts no loop, server, signal handler or leader election
// (those belong to the long-running `run`).
package oneshot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/cloud"
	awscloud "github.com/lambdascale/lambdascale/internal/cloud/aws"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/store"
)

// Options configure Run.
type Options struct {
	// Policies is the directory (every *.yaml and *.yml directly in it) or the file of the
	// ScalingPolicy documents to reconcile. Required.
	Policies string
	// StatusDir is the directory of the status files, one <name>.yaml per policy; it is created
	// when missing and must not be the policies directory. Required.
	StatusDir string
	// EndpointURL, when set, is the Auto Scaling and EC2 endpoint (an http or https URL);
	// otherwise the AWS SDK's, which honours AWS_ENDPOINT_URL.
	EndpointURL string
	// Log receives the logs of the run, the controller and the AWS client; discarded when zero.
	Log logr.Logger
	// Clock dates decisions and status; the real clock when nil.
	Clock clock.WithTicker
	// HTTPClient reaches the Mesos masters and Marathon; the controller's default (15 s
	// timeout) when nil.
	HTTPClient *http.Client
}

// Summary is what one Run did.
type Summary struct {
	// Results are the reconciles, one per policy that ran, sorted by policy name.
	Results []controllers.Result
	// LoadErrors are the problems of the policy files that did not load (a broken document
	// may have several), as returned by policy.Load.
	LoadErrors []error
	// PolicyErrors are the valid policies the controller could not set up (an unreadable
	// credentials or status file), one each.
	PolicyErrors []error
	// Total is the number of policy documents: those that ran plus those skipped.
	Total int
	// Skipped is the number of documents and policies that did not run.
	Skipped int
	// Failed is the number of policies whose reconcile returned an error.
	Failed int
}

// ErrInvalidOptions is wrapped by Run's error when its options are unusable: a missing path,
// a status directory that is the policies directory, a malformed endpoint URL. Nothing ran.
var ErrInvalidOptions = errors.New("invalid options")

// ErrNoPolicy is wrapped by Run's error when no policy could run at all (none loaded, or the
// controller could set none up). Summary says why.
var ErrNoPolicy = errors.New("no policy can run")

// IncompleteError is Run's error when some policies were skipped or failed to reconcile; the
// others were reconciled and their status written.
type IncompleteError struct {
	// Failed is the number of policies skipped or failed; Total the number of documents.
	Failed, Total int
	// StatusDir is where the failed reconciles' status says why.
	StatusDir string
}

// Error says how many policies did not reconcile and where to look.
func (e *IncompleteError) Error() string {
	return fmt.Sprintf("%d of %d policies were skipped or failed to reconcile (see the log and %s)", e.Failed, e.Total, e.StatusDir)
}

// Run loads the policies, restores their status, reconciles each one once (observe, decide, act
// unless the policy is DryRun, write status) and returns what happened. Policies that do not
// load or cannot be set up are logged and skipped; the others still run. The error is nil only
// when every policy document ran and reconciled without error; it wraps ErrInvalidOptions or
// ErrNoPolicy, or is an *IncompleteError, or reports a status directory that cannot be created.
// Run does not watch for signals: cancel ctx to stop it (the reconcile in progress still writes
// its status).
func Run(ctx context.Context, o Options) (Summary, error) {
	var sum Summary
	if err := o.check(); err != nil {
		return sum, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	log := o.Log
	clk := o.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}

	loaded, loadErrs := policy.Load(o.Policies)
	sum.LoadErrors = loadErrs
	for _, err := range loadErrs {
		log.Error(err, "Skipping invalid policy")
	}
	broken := brokenDocuments(loadErrs)
	sum.Total, sum.Skipped = len(loaded)+broken, broken
	if len(loaded) == 0 {
		return sum, fmt.Errorf("%s: %w: no valid ScalingPolicy", o.Policies, ErrNoPolicy)
	}
	st, err := store.New(o.StatusDir)
	if err != nil {
		return sum, fmt.Errorf("opening status directory %s: %w", o.StatusDir, err)
	}
	ctrl, policyErrs, err := controllers.New(controllers.Options{
		Clock:      clk,
		Log:        log,
		Store:      st,
		HTTPClient: o.HTTPClient,
		Provider: func(ctx context.Context, region string) (cloud.Provider, error) {
			return awscloud.New(ctx, awscloud.Options{Region: region, EndpointURL: o.EndpointURL, Logger: log, Clock: clk})
		},
	}, loaded)
	if err != nil {
		return sum, fmt.Errorf("setting up the controller: %w", err)
	}
	sum.PolicyErrors = policyErrs
	sum.Skipped += len(policyErrs)
	for _, err := range policyErrs {
		log.Error(err, "Skipping policy")
	}
	if len(ctrl.Policies()) == 0 {
		return sum, fmt.Errorf("%s: %w: every policy was skipped", o.Policies, ErrNoPolicy)
	}

	log.Info("Reconciling every policy once", "policies", ctrl.Policies(), "statusDir", o.StatusDir)
	sum.Results = ctrl.ReconcileAll(ctx)
	for _, r := range sum.Results {
		if r.Err != nil {
			sum.Failed++
		}
	}
	if n := sum.Skipped + sum.Failed; n > 0 {
		return sum, &IncompleteError{Failed: n, Total: sum.Total, StatusDir: o.StatusDir}
	}
	return sum, nil
}

// check validates the options before anything is read or written.
func (o Options) check() error {
	if o.Policies == "" || o.StatusDir == "" {
		return fmt.Errorf("%w: both the policies path and the status directory are required", ErrInvalidOptions)
	}
	if SamePlace(o.Policies, o.StatusDir) {
		return fmt.Errorf("%w: status directory %s is the policies directory: status files would replace policy files; use another directory",
			ErrInvalidOptions, o.StatusDir)
	}
	if o.EndpointURL != "" {
		if u, err := url.Parse(o.EndpointURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: AWS endpoint URL %q: want an http(s)://host[:port] URL", ErrInvalidOptions, o.EndpointURL)
		}
	}
	return nil
}

// SamePlace reports whether statusDir is the directory that holds the policies (the
// directory itself, or the directory of a single policy file): status files written there
// would replace policy files.
func SamePlace(policies, statusDir string) bool {
	pd, err1 := filepath.Abs(policies)
	sd, err2 := filepath.Abs(statusDir)
	if err1 != nil || err2 != nil {
		return false
	}
	if fi, err := os.Stat(pd); err == nil && !fi.IsDir() {
		pd = filepath.Dir(pd)
	}
	return filepath.Clean(pd) == filepath.Clean(sd)
}

// brokenDocuments counts the policy documents the load errors are about (a document may have
// several problems; an error that names no document counts once).
func brokenDocuments(errs []error) int {
	type doc struct {
		file string
		n    int
	}
	seen := map[doc]bool{}
	for _, err := range errs {
		if pe, ok := errors.AsType[*policy.Error](err); ok {
			seen[doc{pe.File, pe.Document}] = true
		} else {
			seen[doc{err.Error(), -1}] = true
		}
	}
	return len(seen)
}
