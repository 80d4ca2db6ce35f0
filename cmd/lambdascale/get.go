package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/controllers"
)

// statusDirEnv names the environment variable that sets the default --status-dir of get and
// describe.
const statusDirEnv = "LAMBDASCALE_STATUS_DIR"

// statusDirFallback is the status directory when neither --status-dir nor statusDirEnv is set.
const statusDirFallback = "status"

// statusOptions are the flags get and describe share.
type statusOptions struct {
	dir    string
	output string
	now    string // hidden: RFC 3339 time relative times are computed from (tests)
}

// addStatusFlags registers --status-dir and the hidden --now on cmd.
func (o *statusOptions) addStatusFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dir, "status-dir", "", "directory of the status files the controller writes, one <name>.yaml per policy\n(default: $"+statusDirEnv+", else ./"+statusDirFallback+")")
	f.StringVar(&o.now, "now", "", "compute relative times from this RFC 3339 time instead of the current time")
	_ = f.MarkHidden("now") // the flag exists: MarkHidden cannot fail
}

// statusDir returns the directory to read: --status-dir, else $LAMBDASCALE_STATUS_DIR, else
// ./status.
func (o *statusOptions) statusDir() string {
	if o.dir != "" {
		return o.dir
	}
	if d := os.Getenv(statusDirEnv); d != "" {
		return d
	}
	return statusDirFallback
}

// clock returns the time relative times are computed from.
func (o *statusOptions) clock(command string) (time.Time, error) {
	if o.now == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, o.now)
	if err != nil {
		return time.Time{}, usageError(command, "--now %q: not an RFC 3339 time such as 2026-11-30T12:00:00Z", o.now)
	}
	return t, nil
}

const statusDirHelp = `The status directory is --status-dir, else $` + statusDirEnv + `, else ./` + statusDirFallback + `: the
directory 'lambdascale run --status-dir' writes, one <name>.yaml per policy. It is only read.`

func newGetCommand() *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "get [NAME...] [--status-dir DIR] [-o wide|json|yaml]",
		Short: "List the policies' status from the status directory, like kubectl get",
		Long: `get reads every *.yaml status file in the status directory and prints one line per policy
(sorted by name), or only the policies NAME..., in that order:

  NAME        metadata.name
  GROUP       spec.autoScalingGroup.name
  CURRENT     status.currentNodes (the node count at the last reconcile)
  DESIRED     status.desiredNodes (what the last decision asked for)
  CPUS%       status.utilization percent of cpus, "-" when not measured
  MEM%        status.utilization percent of mem, "-" when not measured
  READY       status of the Ready condition, "-" when absent
  LAST SCALE  time since status.lastScaleTime, "<none>" when the group was never changed
  AGE         time since metadata.creationTimestamp when set, else since the earliest
              lastTransitionTime of the conditions, else since the file was last modified

-o wide adds MODE (spec.mode), UPCOMING (status.upcomingNodes: launched instances not yet
registered as agents), DRAINING (the scale-ins in progress, status.drains) and REASON (the
Ready condition's reason). -o json and -o yaml print the whole objects: a List, or the object
itself when one NAME is given.

` + statusDirHelp + `
A file that is not a status file is reported on stderr with its name and skipped; the others
are listed. With no status file at all, "No status found in DIR." goes to stderr.

Exit status: 0 on success (an empty directory included); 1 when a file could not be read, a
NAME has no status or the directory is missing; 2 on usage errors.`,
		Example: "  lambdascale get --status-dir /var/lib/lambdascale\n  lambdascale get general -o wide\n  LAMBDASCALE_STATUS_DIR=/tmp/status lambdascale get -o yaml",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args)
		},
	}
	o.addStatusFlags(cmd)
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: wide, json or yaml (default: the table)")
	return cmd
}

// statusEntry is one status file that decoded into a ScalingPolicy.
type statusEntry struct {
	path    string
	modTime time.Time
	policy  *v1alpha1.ScalingPolicy
}

// statusFileError is a file of the status directory that is not a readable status file.
type statusFileError struct {
	path string
	err  error
}

func (e *statusFileError) Error() string { return fmt.Sprintf("%s: %v", e.path, e.err) }
func (e *statusFileError) Unwrap() error { return e.err }

// fileName returns the policy name the file would hold: its base name without .yaml.
func (e *statusFileError) fileName() string {
	return strings.TrimSuffix(filepath.Base(e.path), ".yaml")
}

// loadStatusDir reads every *.yaml file of dir (hidden files, such as the store's temporary
// files, are ignored). Files that are not status files are returned as problems; err is
// non-nil only when the directory itself cannot be read. Entries are sorted by name.
func loadStatusDir(dir string) (entries []statusEntry, problems []*statusFileError, err error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading status directory: %w", err)
	}
	byName := map[string]string{}
	for _, de := range des {
		name := de.Name()
		if de.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".yaml") {
			continue
		}
		path := filepath.Join(dir, name)
		e, err := readStatusFile(path)
		if err != nil {
			problems = append(problems, &statusFileError{path: path, err: err})
			continue
		}
		if other, dup := byName[e.policy.Name]; dup {
			problems = append(problems, &statusFileError{path: path, err: fmt.Errorf("policy %q is also in %s; the controller writes %s.yaml", e.policy.Name, other, e.policy.Name)})
			continue
		}
		byName[e.policy.Name] = path
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].policy.Name < entries[j].policy.Name })
	return entries, problems, nil
}

// readStatusFile decodes one status file as the store writes it: a whole ScalingPolicy object.
func readStatusFile(path string) (statusEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return statusEntry{}, fmt.Errorf("reading: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return statusEntry{}, fmt.Errorf("reading: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return statusEntry{}, errors.New("empty file, not a status file")
	}
	var p v1alpha1.ScalingPolicy
	if err := yaml.Unmarshal(b, &p); err != nil {
		return statusEntry{}, fmt.Errorf("not a status file: %w", err)
	}
	if p.APIVersion != v1alpha1.GroupVersion.String() || p.Kind != v1alpha1.Kind {
		return statusEntry{}, fmt.Errorf("not a status file: apiVersion %q, kind %q; want %s %s", p.APIVersion, p.Kind, v1alpha1.GroupVersion, v1alpha1.Kind)
	}
	if p.Name == "" {
		return statusEntry{}, errors.New("not a status file: metadata.name is empty")
	}
	return statusEntry{path: path, modTime: fi.ModTime(), policy: &p}, nil
}

// selectStatus keeps the entries named in names (all when names is empty) and the problems of
// the files that would hold them, and reports each name that has neither.
func selectStatus(dir string, entries []statusEntry, problems []*statusFileError, names []string) ([]statusEntry, []error) {
	var errs []error
	if len(names) == 0 {
		for _, p := range problems {
			errs = append(errs, p)
		}
		return entries, errs
	}
	var out []statusEntry
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		found := false
		for _, e := range entries {
			if e.policy.Name == name {
				out = append(out, e)
				found = true
			}
		}
		for _, p := range problems {
			if p.fileName() == name {
				errs = append(errs, p)
				found = true
			}
		}
		if !found {
			errs = append(errs, unknownStatusError(dir, name, entries))
		}
	}
	return out, errs
}

// unknownStatusError says that no status of the named policy is in dir, and which are.
func unknownStatusError(dir, name string, entries []statusEntry) error {
	present := make([]string, 0, len(entries))
	for _, e := range entries {
		present = append(present, e.policy.Name)
	}
	holds := "no status file"
	if len(present) > 0 {
		holds = "the status of " + strings.Join(present, ", ")
	}
	return fmt.Errorf("no status for policy %q in %s; it holds %s", name, dir, holds)
}

// reportStatusErrors prints each problem on errOut and returns the exit error for them (nil
// when there are none).
func reportStatusErrors(errOut io.Writer, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs {
		fmt.Fprintf(errOut, "Error: %v\n", err)
	}
	return &exitError{code: exitInvalid, err: errSilent}
}

func runGet(out, errOut io.Writer, o *statusOptions, names []string) error {
	switch o.output {
	case "", "wide", "json", "yaml":
	default:
		return usageError("lambdascale get", "--output %q: must be wide, json or yaml", o.output)
	}
	now, err := o.clock("lambdascale get")
	if err != nil {
		return err
	}
	dir := o.statusDir()
	entries, problems, err := loadStatusDir(dir)
	if err != nil {
		return invalidInput(err)
	}
	selected, errs := selectStatus(dir, entries, problems, names)
	switch {
	case o.output == "json" || o.output == "yaml":
		if err := printStatusObjects(out, o.output, selected, len(names) == 1 && len(selected) == 1); err != nil {
			return invalidInput(err)
		}
	case len(selected) > 0:
		if err := printStatusTable(out, selected, now, o.output == "wide"); err != nil {
			return invalidInput(err)
		}
	case len(errs) == 0:
		fmt.Fprintf(errOut, "No status found in %s.\n", dir)
	}
	return reportStatusErrors(errOut, errs)
}

// statusList is the -o json|yaml form of several policies, shaped like kubectl's List.
type statusList struct {
	APIVersion string                    `json:"apiVersion"`
	Kind       string                    `json:"kind"`
	Items      []*v1alpha1.ScalingPolicy `json:"items"`
}

func printStatusObjects(out io.Writer, format string, entries []statusEntry, single bool) error {
	var v any
	if single {
		v = entries[0].policy
	} else {
		l := statusList{APIVersion: "v1", Kind: "List", Items: []*v1alpha1.ScalingPolicy{}}
		for _, e := range entries {
			l.Items = append(l.Items, e.policy)
		}
		v = l
	}
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "    ")
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		return nil
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding YAML: %w", err)
	}
	if _, err := out.Write(b); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// newStatusTabWriter returns the tab writer kubectl prints tables with.
func newStatusTabWriter(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)
}

func printStatusTable(out io.Writer, entries []statusEntry, now time.Time, wide bool) error {
	tw := newStatusTabWriter(out)
	header := []string{"NAME", "GROUP", "CURRENT", "DESIRED", "CPUS%", "MEM%", "READY", "LAST SCALE", "AGE"}
	if wide {
		header = append(header, "MODE", "UPCOMING", "DRAINING", "REASON")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, e := range entries {
		p := e.policy
		st := &p.Status
		ready, reason := "-", "-"
		if c := meta.FindStatusCondition(st.Conditions, controllers.ConditionReady); c != nil {
			ready, reason = string(c.Status), statusOrDash(c.Reason)
		}
		lastScale := "<none>"
		if st.LastScaleTime != nil {
			lastScale = statusSince(now, st.LastScaleTime.Time)
		}
		born, _ := statusBirth(e)
		current, desired := "-", "-" // nothing decided yet: the counts are unknown, not 0
		if st.LastDecision != nil {
			current, desired = strconv.Itoa(int(st.CurrentNodes)), strconv.Itoa(int(st.DesiredNodes))
		}
		row := []string{
			p.Name, statusOrDash(p.Spec.AutoScalingGroup.Name),
			current, desired,
			statusPercent(st, v1alpha1.ResourceCPUs), statusPercent(st, v1alpha1.ResourceMem),
			ready, lastScale, statusSince(now, born),
		}
		if wide {
			row = append(row, statusMode(&p.Spec), strconv.Itoa(int(st.UpcomingNodes)), strconv.Itoa(len(st.Drains)), reason)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// statusBirth returns when the policy's status began, for AGE, and what that time is:
// metadata.creationTimestamp when set, else the earliest lastTransitionTime of the conditions,
// else the file's modification time.
func statusBirth(e statusEntry) (time.Time, string) {
	if t := e.policy.CreationTimestamp; !t.IsZero() {
		return t.Time, "metadata.creationTimestamp"
	}
	var first time.Time
	for _, c := range e.policy.Status.Conditions {
		if t := c.LastTransitionTime.Time; !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if !first.IsZero() {
		return first, "earliest condition transition"
	}
	return e.modTime, "status file modification time"
}

// statusPercent returns the utilization percent of resource r ("64%"), or "-" when the status
// has none.
func statusPercent(st *v1alpha1.ScalingPolicyStatus, r string) string {
	for _, u := range st.Utilization {
		if u.Resource == r {
			return fmt.Sprintf("%d%%", u.Percent)
		}
	}
	return "-"
}

// statusMode returns the policy's mode, defaulted.
func statusMode(s *v1alpha1.ScalingPolicySpec) string {
	if s.Mode == "" {
		return string(v1alpha1.DefaultMode)
	}
	return string(s.Mode)
}

// statusSince returns the time from t to now as kubectl prints ages ("90s", "5m", "2h", "3d").
func statusSince(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// statusWhen returns t in RFC 3339 with how long ago (or in how long) it is from now.
func statusWhen(now time.Time, t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "<none>"
	}
	abs := t.UTC().Format(time.RFC3339)
	if d := t.Sub(now); d > time.Second {
		return fmt.Sprintf("%s (in %s)", abs, duration.HumanDuration(d))
	}
	return fmt.Sprintf("%s (%s ago)", abs, statusSince(now, t.Time))
}

func statusOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
