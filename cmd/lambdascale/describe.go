package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
)

func newDescribeCommand() *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "describe NAME... [--status-dir DIR]",
		Short: "Show a policy's settings, status, conditions and recent decisions, like kubectl describe",
		Long: `describe prints, for each policy NAME, from its status file:

  - the settings in effect (the defaulted spec the controller wrote): Auto Scaling group and
    region, mode, masters, pool (role, agent selector), bounds, utilization thresholds,
    application headroom, scale-up and scale-down settings (policy, step, stabilization, drain
    timeout and its action, protected applications), generation and observed generation;
  - the status: current, desired and upcoming nodes, pool agents, utilization per resource
    (used/total: cpus in cores, mem and disk as stored), last scale times, the scale-up
    back-off, the drains in progress (agent, instance, phase, start, deadline);
  - the conditions, in the order the controller stored them (TYPE, STATUS, REASON, AGE since
    the last transition, MESSAGE);
  - the recent decisions, oldest first (the controller keeps at most ` + strconv.Itoa(v1alpha1.MaxRecentDecisions) + `): time, direction,
    current→desired nodes, and below each one its reasons with their messages and the actions
    taken (AWS and Mesos maintenance calls).

` + statusDirHelp + `

Exit status: 0 on success; 1 when a NAME has no readable status (the error lists the policies
present) or the directory is missing; 2 on usage errors.`,
		Example: "  lambdascale describe general --status-dir /var/lib/lambdascale",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("lambdascale describe", "describe needs the NAME of a policy")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDescribe(cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args)
		},
	}
	o.addStatusFlags(cmd)
	return cmd
}

func runDescribe(out, errOut io.Writer, o *statusOptions, names []string) error {
	now, err := o.clock("lambdascale describe")
	if err != nil {
		return err
	}
	dir := o.statusDir()
	entries, problems, err := loadStatusDir(dir)
	if err != nil {
		return invalidInput(err)
	}
	selected, errs := selectStatus(dir, entries, problems, names)
	for i, e := range selected {
		if i > 0 {
			fmt.Fprintln(out)
		}
		if err := describeStatus(out, e, now); err != nil {
			return invalidInput(err)
		}
	}
	return reportStatusErrors(errOut, errs)
}

// describeWriter writes kubectl-describe-like "Key:  value" lines, aligned per block, indented
// by level.
type describeWriter struct {
	buf *strings.Builder
}

func (w *describeWriter) line(level int, format string, args ...any) {
	w.buf.WriteString(strings.Repeat("  ", level))
	fmt.Fprintf(w.buf, format, args...)
	w.buf.WriteString("\n")
}

// field writes "key:\tvalue" at level (the tab aligns the values of consecutive fields).
func (w *describeWriter) field(level int, key string, value any) {
	w.line(level, "%s:\t%v", key, value)
}

func describeStatus(out io.Writer, e statusEntry, now time.Time) error {
	p := e.policy
	spec := &p.Spec
	s := spec.Resolved()
	st := &p.Status
	w := &describeWriter{buf: &strings.Builder{}}

	w.field(0, "Name", p.Name)
	w.field(0, "Status File", e.path)
	w.field(0, "Auto Scaling Group", statusOrNone(s.AutoScalingGroupName))
	w.field(0, "Region", statusOr(s.Region, "<AWS default chain>"))
	mode := statusMode(spec)
	if s.DryRun {
		mode += " (decisions are reported; nothing is written to AWS or Mesos)"
	}
	w.field(0, "Mode", mode)
	w.field(0, "Interval", s.Interval)
	w.field(0, "Masters", statusOrNone(strings.Join(s.Masters, ", ")))
	w.field(0, "Marathon", statusOrNone(s.MarathonURL))
	w.field(0, "Credentials File", statusOrNone(s.CredentialsFile))
	gen := strconv.FormatInt(p.Generation, 10)
	obs := strconv.FormatInt(st.ObservedGeneration, 10)
	if st.ObservedGeneration != p.Generation {
		obs += " (the status describes an older spec)"
	}
	w.field(0, "Generation", gen)
	w.field(0, "Observed Generation", obs)

	w.line(0, "Pool:")
	w.field(1, "Role", s.Role)
	w.field(1, "Agent Selector", statusSelector(s.MatchAttributes))
	w.field(1, "Instance ID Attribute", statusOr(s.InstanceIDAttribute, "<none: agents matched by private IP>"))

	w.line(0, "Bounds:")
	w.field(1, "Min Nodes", s.MinNodes)
	w.field(1, "Max Nodes", s.MaxNodes)
	w.field(1, "Node Shape", statusShape(spec.NodeShape))

	w.line(0, "Thresholds:")
	w.field(1, "Resources", strings.Join(s.Resources, ", "))
	w.field(1, "Scale Up Above", fmt.Sprintf("%d%%", s.ScaleUpPercent))
	w.field(1, "Scale Down Below", fmt.Sprintf("%d%%", s.ScaleDownPercent))
	headroom := "0% (disabled)"
	if s.ApplicationHeadroomPercent > 0 {
		headroom = fmt.Sprintf("%d%% more tasks of every application", s.ApplicationHeadroomPercent)
	}
	w.field(1, "Application Headroom", headroom)

	w.line(0, "Scale Up:")
	w.field(1, "Max Nodes Per Step", statusPerStep(s.ScaleUpMaxNodesPerStep))
	w.field(1, "Cooldown", s.ScaleUpCooldown)
	w.field(1, "Registration Timeout", s.RegistrationTimeout)

	w.line(0, "Scale Down:")
	w.field(1, "Policy", statusOr(string(spec.ScaleDown.Policy), string(v1alpha1.DefaultScaleDownPolicy)))
	w.field(1, "Max Nodes Per Step", statusPerStep(s.ScaleDownMaxNodesPerStep))
	w.field(1, "Stabilization", s.ScaleDownStabilization)
	w.field(1, "Drain Timeout", s.DrainTimeout)
	action := v1alpha1.DrainTimeoutAbort
	if s.DrainTimeoutForce {
		action = v1alpha1.DrainTimeoutForce
	}
	w.field(1, "Drain Timeout Action", action)
	w.field(1, "Max Unregistered", fmt.Sprintf("%d%%", s.MaxUnregisteredPercent))
	w.field(1, "Protected Applications", statusOrNone(strings.Join(s.ProtectedApplications, ", ")))

	w.line(0, "Status:")
	w.field(1, "Current Nodes", st.CurrentNodes)
	w.field(1, "Desired Nodes", st.DesiredNodes)
	w.field(1, "Upcoming Nodes", st.UpcomingNodes)
	w.field(1, "Pool Agents", st.PoolAgents)
	w.field(1, "Last Scale Time", statusWhen(now, st.LastScaleTime))
	w.field(1, "Last Scale Up Time", statusWhen(now, st.LastScaleUpTime))
	w.field(1, "Scale Down Recommended Since", statusWhen(now, st.ScaleDownRecommendedSince))
	backoff := "<none>"
	if st.ScaleUpBackoffUntil != nil {
		backoff = "until " + statusWhen(now, st.ScaleUpBackoffUntil)
		if !st.ScaleUpBackoffUntil.After(now) {
			backoff += ", over"
		}
	}
	w.field(1, "Scale-Up Failures", st.ScaleUpFailures)
	w.field(1, "Scale-Up Back-off", backoff)
	// The lines below are padded here, not by the tab writer, so that they do not widen the
	// columns of the fields above.
	if len(st.Utilization) == 0 {
		w.line(1, "Utilization:  <none>")
	} else {
		w.line(1, "Utilization:")
		width := 0
		for _, u := range st.Utilization {
			width = max(width, len(u.Resource))
		}
		for _, u := range st.Utilization {
			w.line(2, "%-*s  %d%% (%s/%s)", width+1, u.Resource+":", u.Percent, statusAmount(u.Resource, u.Used, false), statusAmount(u.Resource, u.Total, true))
		}
	}
	if len(st.Drains) == 0 {
		w.line(1, "Drains:  <none>")
	} else {
		w.line(1, "Drains:")
		w.line(2, "AGENT\tINSTANCE\tMACHINE\tUNITS\tPHASE\tSTARTED\tDEADLINE")
		for _, d := range st.Drains {
			units := d.Units
			if units == 0 {
				units = 1
			}
			w.line(2, "%s\t%s\t%s\t%d\t%s\t%s\t%s", d.AgentID, d.InstanceID, statusMachine(d), units, d.Phase,
				statusWhen(now, &d.StartTime), statusWhen(now, &d.Deadline))
		}
	}

	if len(st.Conditions) == 0 {
		w.line(0, "Conditions:  <none>")
	} else {
		w.line(0, "Conditions:")
		w.line(1, "TYPE\tSTATUS\tREASON\tAGE\tMESSAGE")
		for _, c := range st.Conditions {
			w.line(1, "%s\t%s\t%s\t%s\t%s", c.Type, c.Status, statusOrDash(c.Reason), statusSince(now, c.LastTransitionTime.Time), statusOneLine(c.Message))
		}
	}

	decisions := st.RecentDecisions
	if len(decisions) == 0 && st.LastDecision != nil {
		decisions = []v1alpha1.DecisionSummary{*st.LastDecision}
	}
	if len(decisions) == 0 {
		w.line(0, "Recent Decisions:  <none>")
	} else {
		w.line(0, "Recent Decisions (oldest first):")
		describeDecisions(w, decisions, now)
	}

	tw := newStatusTabWriter(out)
	if _, err := io.WriteString(tw, w.buf.String()); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// describeDecisions writes the decisions as a table (ACTIONS is the number of writes made)
// whose rows are each followed, indented, by their reasons with their messages, the agents to
// remove, the unschedulable applications and the actions. The columns are
// padded here rather than by the tab writer, whose alignment the detail lines would break.
func describeDecisions(w *describeWriter, ds []v1alpha1.DecisionSummary, now time.Time) {
	rows := [][]string{{"TIME", "AGE", "DIRECTION", "NODES", "ACTIONS"}}
	for _, d := range ds {
		rows = append(rows, []string{
			d.Time.UTC().Format(time.RFC3339), statusSince(now, d.Time.Time), statusOrDash(d.Direction),
			fmt.Sprintf("%d→%d", d.CurrentNodes, d.DesiredNodes), strconv.Itoa(len(d.Actions)),
		})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r[:len(r)-1] {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	pad := func(r []string) string {
		var b strings.Builder
		for i, c := range r[:len(r)-1] {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+3))
		}
		b.WriteString(r[len(r)-1])
		return b.String()
	}
	w.line(1, "%s", pad(rows[0]))
	for i, d := range ds {
		w.line(1, "%s", pad(rows[i+1]))
		for _, r := range d.Reasons {
			w.line(2, "%s: %s", r.Reason, statusOneLine(r.Message))
		}
		if len(d.ScaleDownAgents) > 0 {
			w.line(2, "Agents to remove: %s", strings.Join(d.ScaleDownAgents, ", "))
		}
		if len(d.Unschedulable) > 0 {
			w.line(2, "Unschedulable: %s", strings.Join(d.Unschedulable, ", "))
		}
		for _, a := range d.Actions {
			w.line(2, "Action: %s", statusOneLine(a))
		}
	}
}

// statusAmount renders a utilization amount: cpus in cores ("15.4"; the total gets the unit),
// other resources as stored (mem "14784Mi").
func statusAmount(r string, q resource.Quantity, unit bool) string {
	if r != v1alpha1.ResourceCPUs {
		return q.String()
	}
	s := strconv.FormatFloat(q.AsApproximateFloat64(), 'f', -1, 64)
	if unit {
		s += " cores"
	}
	return s
}

func statusShape(shape map[string]resource.Quantity) string {
	if len(shape) == 0 {
		return "<inferred from the pool's agents>"
	}
	return statusQuantities(shape)
}

// statusQuantities renders a resource map as "cpus=8, mem=30Gi", sorted by name.
func statusQuantities(m map[string]resource.Quantity) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		q := m[k]
		parts = append(parts, k+"="+q.String())
	}
	return strings.Join(parts, ", ")
}

func statusSelector(m map[string]string) string {
	if len(m) == 0 {
		return "<none: every agent>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

func statusPerStep(n int32) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(int(n))
}

func statusMachine(d v1alpha1.DrainStatus) string {
	switch {
	case d.Hostname != "" && d.IP != "" && d.Hostname != d.IP:
		return d.Hostname + " (" + d.IP + ")"
	case d.Hostname != "":
		return d.Hostname
	case d.IP != "":
		return d.IP
	}
	return "-"
}

// statusOneLine keeps a message on one line of the table.
func statusOneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\t", " ")), " ")
	if s == "" {
		return "-"
	}
	return s
}

func statusOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func statusOrNone(s string) string { return statusOr(s, "<none>") }
