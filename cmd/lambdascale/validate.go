package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/policy"
)

func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check ScalingPolicy files and print every problem",
		Long: `validate loads ScalingPolicy files (a file may hold several YAML documents; a directory
loads every *.yaml and *.yml in it) with strict decoding, defaulting and validation, and prints
every problem with its file, document, field path and what to do.

Exit status: 0 when every policy is valid, 1 when any problem was found, 2 on usage errors.`,
		Example: "  lambdascale validate config/samples/\n  lambdascale validate general.yaml batch.yaml",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("lambdascale validate", "validate needs at least one FILE or DIR")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.OutOrStdout(), cmd.ErrOrStderr(), args)
		},
	}
}

func runValidate(out, errOut io.Writer, paths []string) error {
	loaded, errs := policy.Load(paths...)
	for _, l := range loaded {
		fmt.Fprintf(out, "%s: ScalingPolicy %q is valid (Auto Scaling group %s)\n", l.Location(), l.Policy.Name, l.Policy.Spec.AutoScalingGroup.Name)
		// The file must exist where the controller runs, not necessarily here: a warning.
		if f := l.Policy.Spec.Mesos.CredentialsFile; f != "" {
			if _, err := mesos.LoadCredentials(f); err != nil {
				fmt.Fprintf(errOut, "warning: %s: spec.mesos.credentialsFile: %v; `run` skips this policy where the file cannot be read\n", l.Location(), err)
			}
		}
	}
	if len(errs) > 0 {
		text := policy.FormatErrors(errs)
		fmt.Fprint(errOut, text)
		if !strings.HasSuffix(text, "\n") {
			fmt.Fprintln(errOut)
		}
		if len(errs) == 1 {
			fmt.Fprintln(errOut, "1 problem found")
		} else {
			fmt.Fprintf(errOut, "%d problems found\n", len(errs))
		}
		return &exitError{code: exitInvalid, err: errSilent}
	}
	if len(loaded) == 0 {
		return invalidInput(fmt.Errorf("no ScalingPolicy found in %s", strings.Join(paths, ", ")))
	}
	return nil
}

// loadOnePolicy loads the policy plan works on: the only one in path, or the one named name.
func loadOnePolicy(path, name string) (*v1alpha1.ScalingPolicy, error) {
	loaded, errs := policy.Load(path)
	if len(errs) > 0 {
		// Only the problems of the policy asked for matter when one is named.
		if name == "" {
			return nil, errors.New(strings.TrimRight(policy.FormatErrors(errs), "\n"))
		}
	}
	var names []string
	for _, l := range loaded {
		if name == "" || l.Policy.Name == name {
			names = append(names, l.Policy.Name)
		}
	}
	switch {
	case name != "" && len(names) == 0:
		if len(errs) > 0 {
			return nil, errors.New(strings.TrimRight(policy.FormatErrors(errs), "\n"))
		}
		var all []string
		for _, l := range loaded {
			all = append(all, l.Policy.Name)
		}
		return nil, fmt.Errorf("%s: no ScalingPolicy named %q; it holds %s", path, name, strings.Join(all, ", "))
	case len(names) == 0:
		return nil, fmt.Errorf("%s: holds no ScalingPolicy", path)
	case len(names) > 1:
		return nil, fmt.Errorf("%s: holds %d policies (%s); choose one with --policy NAME", path, len(names), strings.Join(names, ", "))
	}
	for _, l := range loaded {
		if l.Policy.Name == names[0] {
			return l.Policy, nil
		}
	}
	return nil, fmt.Errorf("%s: no ScalingPolicy named %q", path, name)
}
