package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/cloud"
	awscloud "github.com/lambdascale/lambdascale/internal/cloud/aws"
	"github.com/lambdascale/lambdascale/internal/metrics"
	"github.com/lambdascale/lambdascale/internal/oneshot"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/store"
)

type runOptions struct {
	policies    string
	statusDir   string
	once        bool
	endpointURL string
	verbosity   int
	logFormat   string
	metricsAddr string
	probeAddr   string
	leaderElect bool
	zkServers   []string
	zkPath      string
	zkSession   time.Duration
	noWatch     bool
}

func newRunCommand() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run --policies DIR --status-dir DIR [--once]",
		Short: "Run the controller: observe Mesos and AWS, decide, converge the groups, write status",
		Long: `run loads every ScalingPolicy in --policies and reconciles each one every
spec.intervalSeconds: it reads the leading Mesos master's /master/state (and Marathon's queue),
describes the Auto Scaling groups (one DescribeAutoScalingGroups per region for all of them),
decides, grows a group with SetDesiredCapacity or shrinks it by draining chosen agents and
terminating their instances (TerminateInstanceInAutoScalingGroup with
ShouldDecrementDesiredCapacity), and writes
each policy's status to --status-dir/<name>.yaml atomically. Policies in mode DryRun decide and
report but write nothing to AWS. A policy file that does not validate is reported and skipped;
the others run.

AWS credentials and region come from the standard chain (environment, web identity, shared
profile, container role, instance metadata); spec.autoScalingGroup.region overrides the region.
--aws-endpoint-url (or AWS_ENDPOINT_URL) points the client at another endpoint.

Scale-in drains the chosen agents through Mesos maintenance (/master/maintenance/schedule)
so their tasks move, then terminates their instances; drains are recorded in status first, so a
restarted controller finishes or rolls them back.

SIGINT or SIGTERM stops the loop after the reconcile in progress has written its status.
With --once every policy is reconciled once.

Exit status: 0 on success (a running controller that is stopped exits 0 even if it skipped
invalid policies, which it logs); with --once, 1 when a policy was skipped or failed to
reconcile; 1 when no policy can run; 2 on usage errors.`,
		Example: "  lambdascale run --policies /etc/lambdascale/policies --status-dir /var/lib/lambdascale\n  lambdascale run --policies config/samples --status-dir /tmp/status --once",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runController(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.policies, "policies", "", "directory (or file) of ScalingPolicy YAML files (required)")
	f.StringVar(&o.statusDir, "status-dir", "", "directory for the status files, one <name>.yaml per policy (required)")
	f.BoolVar(&o.once, "once", false, "reconcile every policy once, then exit (non-zero if any failed)")
	f.StringVar(&o.endpointURL, "aws-endpoint-url", "", "Auto Scaling and EC2 endpoint URL (default: the SDK's, or AWS_ENDPOINT_URL)")
	f.IntVarP(&o.verbosity, "v", "v", 0, "log verbosity: 0 actions and errors, 2 every decision, 4 planner and request detail")
	f.StringVar(&o.logFormat, "log-format", "auto", "log format: json, text, or auto (text on a terminal, JSON otherwise)")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint; 0 disables it")
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes; 0 disables them")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect one active replica through ZooKeeper; the others observe and write nothing")
	f.StringSliceVar(&o.zkServers, "leader-elect-zk-servers", nil, "ZooKeeper servers (host:port, comma-separated) for --leader-elect")
	f.StringVar(&o.zkPath, "leader-elect-zk-path", "/lambdascale/leader", "ZooKeeper path of the election")
	f.DurationVar(&o.zkSession, "leader-elect-zk-session-timeout", 10*time.Second, "ZooKeeper session timeout: failover takes at most about this long")
	f.BoolVar(&o.noWatch, "no-watch", false, "do not reload policies when their files change")
	return cmd
}

// newErrorLogger returns a logr.Logger that writes only errors to w.
func newErrorLogger(w io.Writer) logr.Logger {
	return logr.FromSlogHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelError}))
}

// newLogger returns a logr.Logger writing slog text to w at verbosity v.
func newLogger(w io.Writer, v int) logr.Logger {
	return logr.FromSlogHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.Level(-v)}))
}

func runController(ctx context.Context, stderr io.Writer, o *runOptions) error {
	if o.policies == "" || o.statusDir == "" {
		return usageError("lambdascale run", "run needs --policies DIR and --status-dir DIR")
	}
	if err := checkStatusDir(o.policies, o.statusDir); err != nil {
		return err
	}
	if o.endpointURL != "" {
		if u, err := url.Parse(o.endpointURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("lambdascale run", "--aws-endpoint-url %q: want an http(s)://host[:port] URL", o.endpointURL)
		}
	}
	if o.leaderElect && len(o.zkServers) == 0 {
		return usageError("lambdascale run", "--leader-elect needs --leader-elect-zk-servers host:port[,host:port...]")
	}
	log, err := newRunLogger(stderr, o.logFormat, o.verbosity)
	if err != nil {
		return usageError("lambdascale run", "%v", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if o.once {
		_, err := oneshot.Run(ctx, oneshot.Options{Policies: o.policies, StatusDir: o.statusDir, EndpointURL: o.endpointURL, Log: log})
		if errors.Is(err, oneshot.ErrInvalidOptions) {
			return usageError("lambdascale run", "%v", err)
		}
		if err != nil {
			return invalidInput(err)
		}
		return nil
	}
	loaded, errs := policy.Load(o.policies)
	for _, err := range errs {
		log.Error(err, "Skipping invalid policy")
	}
	if len(loaded) == 0 {
		return invalidInput(fmt.Errorf("%s: no valid ScalingPolicy to run", o.policies))
	}
	st, err := store.New(o.statusDir)
	if err != nil {
		return invalidInput(err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	clk := clock.RealClock{}
	m := metrics.New()
	m.SetLeader(true)
	var isLeader func() bool
	if o.leaderElect {
		isLeader, err = startLeaderElection(ctx, o, log, m.SetLeader)
		if err != nil {
			return invalidInput(err)
		}
	}
	ctrl, policyErrs, err := controllers.New(controllers.Options{
		Clock:        clk,
		Log:          log,
		Store:        st,
		Recorder:     m,
		MesosRequest: m.MesosRequest,
		IsLeader:     isLeader,
		Provider: func(ctx context.Context, region string) (cloud.Provider, error) {
			return awscloud.New(ctx, awscloud.Options{Region: region, EndpointURL: o.endpointURL, Logger: log, Clock: clk, OnCall: m.AWSCall})
		},
	}, loaded)
	if err != nil {
		return invalidInput(err)
	}
	for _, err := range policyErrs {
		log.Error(err, "Skipping policy")
	}
	if len(ctrl.Policies()) == 0 {
		return invalidInput(fmt.Errorf("%s: no policy can run", o.policies))
	}
	log.Info("Starting controller", "policies", ctrl.Policies(), "statusDir", o.statusDir)
	_, stopMetrics, err := serve(o.metricsAddr, metricsHandler(m.Registry), log, "metrics")
	if err != nil {
		return invalidInput(err)
	}
	defer stopMetrics()
	_, stopProbes, err := serve(o.probeAddr, probesHandler(func() error { return ctrl.Healthy(clk.Now()) }, ctrl.Ready), log, "health probes")
	if err != nil {
		return invalidInput(err)
	}
	defer stopProbes()
	if !o.noWatch {
		if err := watchPolicies(ctx, o.policies, ctrl, log); err != nil {
			return invalidInput(err)
		}
	}
	if err := ctrl.Run(ctx); err != nil {
		return err
	}
	log.Info("Stopped controller")
	return nil
}

// checkStatusDir refuses a status directory that holds the policies: status files there would
// replace the user's policy files (and be loaded as policies next time).
func checkStatusDir(policies, statusDir string) error {
	if oneshot.SamePlace(policies, statusDir) {
		return usageError("lambdascale run", "--status-dir %s is the policies directory: status files would replace policy files; use another directory", statusDir)
	}
	return nil
}
