package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/marathon"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/planner"
)

type planOptions struct {
	policyFile     string
	policyName     string
	mesosState     string
	marathonQueue  string
	marathonApps   string
	asg            string
	ec2Instances   string
	now            string
	scaleDownSince string
	output         string
}

func newPlanCommand() *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan -f POLICY.yaml --mesos-state STATE.json [flags]",
		Short: "Decide offline what the controller would do, and why",
		Long: `plan runs the decision of one ScalingPolicy on captured files and prints it with its reasons.
It reads nothing over the network and changes nothing.

Inputs:
  --mesos-state     the leading master's GET /master/state (or /master/state.json) response
  --marathon-queue  Marathon's GET /v2/queue response (pending task copies)
  --marathon-apps   Marathon's GET /v2/apps response (constraints of running apps)
  --asg             the output of 'aws autoscaling describe-auto-scaling-groups'
  --ec2-instances   the output of 'aws ec2 describe-instances' (private IPs, to match agents)

Without --asg the current capacity is the number of pool agents and the bounds are the
policy's. Scale-down is shown as if its recommendation had already held for
spec.scaleDown.stabilizationSeconds, unless --scale-down-since says since when it has held.

Exit status: 0 with a decision, 1 on invalid input, 2 on usage errors.`,
		Example: `  lambdascale plan -f config/samples/general.yaml --mesos-state testdata/demo/state.json
  lambdascale plan -f general.yaml --mesos-state state.json --asg asg.json --ec2-instances instances.json -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.policyFile, "filename", "f", "", "ScalingPolicy YAML file (required)")
	f.StringVar(&o.policyName, "policy", "", "name of the policy to use when the file holds several")
	f.StringVar(&o.mesosState, "mesos-state", "", "captured GET /master/state JSON (required)")
	f.StringVar(&o.marathonQueue, "marathon-queue", "", "captured Marathon GET /v2/queue JSON")
	f.StringVar(&o.marathonApps, "marathon-apps", "", "captured Marathon GET /v2/apps JSON (constraints and roles of running apps)")
	f.StringVar(&o.asg, "asg", "", "'aws autoscaling describe-auto-scaling-groups' JSON output")
	f.StringVar(&o.ec2Instances, "ec2-instances", "", "'aws ec2 describe-instances' JSON output")
	f.StringVar(&o.now, "now", "", "decision time, RFC 3339 (default: the current time)")
	f.StringVar(&o.scaleDownSince, "scale-down-since", "", "RFC 3339 time since which scale-down has been recommended (default: long enough)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json or yaml")
	return cmd
}

func runPlan(out io.Writer, o *planOptions) error {
	if o.policyFile == "" {
		return usageError("lambdascale plan", "plan needs -f POLICY.yaml")
	}
	if o.mesosState == "" {
		return usageError("lambdascale plan", "plan needs --mesos-state STATE.json")
	}
	switch o.output {
	case "text", "json", "yaml":
	default:
		return usageError("lambdascale plan", "--output %q: must be text, json or yaml", o.output)
	}
	if o.ec2Instances != "" && o.asg == "" {
		return usageError("lambdascale plan", "--ec2-instances needs --asg (instances are matched to the group's members)")
	}
	now := time.Now().UTC()
	if o.now != "" {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return usageError("lambdascale plan", "--now %q: not an RFC 3339 time such as 2026-11-30T12:00:00Z", o.now)
		}
		now = t
	}

	pol, err := loadOnePolicy(o.policyFile, o.policyName)
	if err != nil {
		return invalidInput(err)
	}
	cfg := planner.ConfigFromPolicy(pol)

	snap, err := mesos.DecodeStateFile(o.mesosState)
	if err != nil {
		return invalidInput(err)
	}
	if len(snap.Agents) == 0 {
		return invalidInput(fmt.Errorf("%s: the master reports no agents; a decision needs the state of a leading master with registered agents", o.mesosState))
	}

	in := planner.Input{Config: cfg, Snapshot: snap, Now: now}
	if o.marathonQueue != "" {
		q, err := readFile("--marathon-queue", o.marathonQueue, marathon.ReadQueue)
		if err != nil {
			return invalidInput(err)
		}
		in.Pending = q
	}
	if o.marathonApps != "" {
		apps, err := readFile("--marathon-apps", o.marathonApps, marathon.ReadApps)
		if err != nil {
			return invalidInput(err)
		}
		in.Apps = apps
	}
	if o.asg != "" {
		groups, err := readFile("--asg", o.asg, cloud.ReadAutoScalingGroups)
		if err != nil {
			return invalidInput(err)
		}
		g, err := cloud.FindGroup(groups, pol.Spec.AutoScalingGroup.Name)
		if err != nil {
			return invalidInput(fmt.Errorf("%s: %w", o.asg, err))
		}
		if o.ec2Instances != "" {
			insts, err := readFile("--ec2-instances", o.ec2Instances, cloud.ReadInstances)
			if err != nil {
				return invalidInput(err)
			}
			g.FillFromEC2(insts)
		}
		in.Group = &g
	}
	// Offline, scale-down is shown as if it had held for the stabilization window.
	in.Memory.ScaleDownSince = now.Add(-cfg.ScaleDownStabilization)
	if o.scaleDownSince != "" {
		t, err := time.Parse(time.RFC3339, o.scaleDownSince)
		if err != nil {
			return usageError("lambdascale plan", "--scale-down-since %q: not an RFC 3339 time", o.scaleDownSince)
		}
		in.Memory.ScaleDownSince = t
	}

	d := planner.Plan(in)
	return printDecision(out, o.output, d, pol.Spec.AutoScalingGroup.Name)
}

// readFile opens path (given with flag) and decodes it with read, naming the flag and file in
// errors.
func readFile[T any](flag, path string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// planOutput is the JSON/YAML form of a decision.
type planOutput struct {
	planner.Decision
	AutoScalingGroup string `json:"autoScalingGroup"`
}

func printDecision(out io.Writer, format string, d planner.Decision, group string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(planOutput{Decision: d, AutoScalingGroup: group})
	case "yaml":
		b, err := yaml.Marshal(planOutput{Decision: d, AutoScalingGroup: group})
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	header := []string{"POLICY", "GROUP", "AGENTS", "UPCOMING", "CURRENT", "DESIRED", "DIRECTION"}
	row := []string{d.Policy, group, fmt.Sprint(d.PoolAgents), fmt.Sprint(d.UpcomingNodes), fmt.Sprint(d.CurrentCapacity), fmt.Sprint(d.DesiredCapacity), string(d.Direction)}
	for _, u := range d.Utilization {
		header = append(header, strings.ToUpper(string(u.Resource)))
		row = append(row, fmt.Sprintf("%.1f%% (%s/%s)", u.Percent, amount(u.Resource, u.Used), amount(u.Resource, u.Total)))
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	fmt.Fprintln(tw, strings.Join(row, "\t"))
	tw.Flush()
	fmt.Fprintf(out, "\nBounds [%d, %d]; node shape cpus=%g mem=%gMiB; new nodes for demand %d, for utilization %d.\n",
		d.MinCapacity, d.MaxCapacity, d.NodeShape.CPUs, d.NodeShape.Mem, d.NodesForDemand, d.NodesForUtilization)
	if len(d.ScaleDownAgents) > 0 {
		fmt.Fprintf(out, "Agents to remove: %s\n", strings.Join(d.ScaleDownAgents, ", "))
	}
	if len(d.Unschedulable) > 0 {
		fmt.Fprintf(out, "Unschedulable: %s\n", strings.Join(d.Unschedulable, ", "))
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REASON\tMESSAGE")
	for _, r := range d.Reasons {
		fmt.Fprintf(tw, "%s\t%s\n", r.Reason, r.Message)
	}
	return tw.Flush()
}

func amount(r mesos.ResourceName, v float64) string {
	if r == mesos.ResourceMem || r == mesos.ResourceDisk {
		return fmt.Sprintf("%.0fMiB", v)
	}
	return fmt.Sprintf("%g", v)
}
