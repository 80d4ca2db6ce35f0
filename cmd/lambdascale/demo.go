package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/sim/demo"
)

type demoOptions struct {
	policies  string
	statusDir string
	duration  time.Duration
	verbosity int
}

func newDemoCommand() *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo [--policies DIR] [--status-dir DIR] [--duration 2h]",
		Short: "Run the controller on an embedded simulated Mesos cluster and Auto Scaling group",
		Long: `demo starts, in this process and on loopback only, a simulated Mesos cluster (a leading and a
standby master, Marathon, agents that register when their instance boots) and a fake AWS
Auto Scaling/EC2 endpoint, points the policies in --policies at them (in memory: the files are
not changed), and runs the real controller, through the real AWS SDK, against a workload that
rises then falls. Simulated time runs on a fake clock, so two hours take about a second.
It prints each decision as it happens and a summary: nodes over time, actions, AWS calls, tasks
moved and killed. SIGINT or SIGTERM ends it early, with the summary. No cloud account and no
Mesos cluster are needed.

Exit status: 0 on success, 1 when no policy can run, 2 on usage errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.policies, "policies", "config/samples", "directory (or file) of ScalingPolicy YAML files")
	f.StringVar(&o.statusDir, "status-dir", "", "directory for the status files (default: a new temporary directory)")
	f.DurationVar(&o.duration, "duration", 2*time.Hour, "simulated time to run")
	f.IntVarP(&o.verbosity, "v", "v", -1, "controller log verbosity (-1: errors only)")
	return cmd
}

func runDemo(cmd *cobra.Command, out io.Writer, o *demoOptions) error {
	if o.duration <= 0 {
		return usageError("lambdascale demo", "--duration %s: must be positive", o.duration)
	}
	loaded, errs := policy.Load(o.policies)
	for _, err := range errs {
		fmt.Fprintf(cmd.ErrOrStderr(), "Skipping invalid policy: %v\n", err)
	}
	if len(loaded) == 0 {
		return invalidInput(fmt.Errorf("%s: no valid ScalingPolicy to run", o.policies))
	}
	if o.statusDir != "" {
		if err := checkStatusDir(o.policies, o.statusDir); err != nil {
			return err
		}
	}
	dir := o.statusDir
	if dir == "" {
		d, err := os.MkdirTemp("", "lambdascale-demo-")
		if err != nil {
			return err
		}
		dir = d
	}
	log := newLogger(cmd.ErrOrStderr(), o.verbosity)
	if o.verbosity < 0 {
		log = newErrorLogger(cmd.ErrOrStderr())
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := demo.Run(ctx, demo.Options{Policies: loaded, StatusDir: dir, Duration: o.duration, Out: out, Log: log})
	return err
}
