// Command lambdascale-lambda runs Lambda Scale as an AWS Lambda function invoked on a schedule
// (an EventBridge rule such as rate(1 minute)): each invocation reconciles every ScalingPolicy
// once, exactly as `lambdascale run --once` does (internal/oneshot), and returns a summary. An
// invocation fails when a policy was skipped or failed to reconcile.
//
// Environment:
//
//	LAMBDASCALE_POLICIES     the policies directory or file in the deployment package
//	                         (default /var/task/policies)
//	LAMBDASCALE_STATUS_DIR   the status directory (default /tmp/lambdascale-status, as /tmp is
//	                         the only writable path on Lambda; it is lost on a cold start unless
//	                         an EFS file system is mounted and this points into it)
//	LAMBDASCALE_VERBOSITY    log verbosity: 0 actions and errors, 2 every decision, 4 planner
//	                         detail (default 0); logs are JSON on stderr (CloudWatch Logs)
//	AWS_ENDPOINT_URL         the AWS SDK's endpoint override, as for `run`
//
// Build with `make build-lambda` (bin/lambda/bootstrap for the provided.al2023 runtime) and zip
// the bootstrap with a policies/ directory beside it.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/go-logr/logr"

	"github.com/lambdascale/lambdascale/internal/oneshot"
)

// Defaults of the environment variables.
const (
	// DefaultPolicies is where the deployment package's policies/ directory is unpacked.
	DefaultPolicies = "/var/task/policies"
	// DefaultStatusDir is in /tmp, the only writable path of a Lambda execution environment.
	DefaultStatusDir = "/tmp/lambdascale-status"
)

// Names of the environment variables read at start.
const (
	envPolicies  = "LAMBDASCALE_POLICIES"
	envStatusDir = "LAMBDASCALE_STATUS_DIR"
	envVerbosity = "LAMBDASCALE_VERBOSITY"
)

// config is the function's configuration, read from the environment once per cold start.
type config struct {
	policies  string
	statusDir string
	verbosity int
}

// configFromEnv reads the configuration through getenv, applying the defaults.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{policies: getenv(envPolicies), statusDir: getenv(envStatusDir)}
	if c.policies == "" {
		c.policies = DefaultPolicies
	}
	if c.statusDir == "" {
		c.statusDir = DefaultStatusDir
	}
	if v := getenv(envVerbosity); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return config{}, fmt.Errorf("%s=%q: want a verbosity from 0 (actions and errors) to 4 (planner detail)", envVerbosity, v)
		}
		c.verbosity = n
	}
	return c, nil
}

// Response is an invocation's result, JSON-encoded by the Lambda runtime.
type Response struct {
	// Policies are the reconciled policies, sorted by name.
	Policies []PolicyResult `json:"policies"`
	// Skipped is the number of policy documents and policies that did not run.
	Skipped int `json:"skipped"`
	// Failed is the number of policies whose reconcile failed.
	Failed int `json:"failed"`
}

// PolicyResult is one policy's reconcile.
type PolicyResult struct {
	// Policy is the policy's name.
	Policy string `json:"policy"`
	// Direction is ScaleUp, ScaleDown or NoChange; empty when no decision was made.
	Direction string `json:"direction,omitempty"`
	// CurrentNodes and DesiredNodes are the node counts the decision went from and to.
	CurrentNodes int32 `json:"currentNodes"`
	DesiredNodes int32 `json:"desiredNodes"`
	// Actions are the writes made to AWS and Mesos.
	Actions []string `json:"actions,omitempty"`
	// Error is why the reconcile failed; empty on success.
	Error string `json:"error,omitempty"`
}

// handler reconciles the policies once per invocation.
type handler struct {
	cfg config
	log logr.Logger
}

// handle is the Lambda handler. The event only identifies the invocation in the log; any
// JSON object is accepted, so a test invocation from the console works too.
func (h *handler) handle(ctx context.Context, ev events.EventBridgeEvent) (Response, error) {
	h.log.Info("Invoked", "eventID", ev.ID, "detailType", ev.DetailType, "source", ev.Source, "eventTime", ev.Time)
	sum, err := oneshot.Run(ctx, oneshot.Options{Policies: h.cfg.policies, StatusDir: h.cfg.statusDir, Log: h.log})
	resp := Response{Policies: []PolicyResult{}, Skipped: sum.Skipped, Failed: sum.Failed}
	for _, r := range sum.Results {
		pr := PolicyResult{Policy: r.Policy, Actions: r.Acted}
		if d := r.Decision; d != nil {
			pr.Direction, pr.CurrentNodes, pr.DesiredNodes = string(d.Direction), d.CurrentCapacity, d.DesiredCapacity
		}
		if r.Err != nil {
			pr.Error = r.Err.Error()
		}
		resp.Policies = append(resp.Policies, pr)
	}
	if err != nil {
		return resp, fmt.Errorf("reconciling the policies of %s: %w", h.cfg.policies, err)
	}
	return resp, nil
}

// newLogger returns a logr.Logger writing JSON lines to w at verbosity v.
func newLogger(w io.Writer, v int) logr.Logger {
	return logr.FromSlogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.Level(-v)}))
}

func main() {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		// Failing the init phase makes Lambda report the error on every invocation.
		fmt.Fprintln(os.Stderr, "lambdascale-lambda:", err)
		os.Exit(1)
	}
	h := &handler{cfg: cfg, log: newLogger(os.Stderr, cfg.verbosity)}
	lambda.Start(h.handle)
}
