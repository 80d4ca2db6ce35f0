// Command lambdascale auto-scales the agents of Apache Mesos clusters that run in AWS Auto
// Scaling groups, following declarative ScalingPolicy objects.
//
// Subcommands: plan (decide offline from captured files and explain why), validate (check
// policy files). Exit codes: 0 success, 1 invalid input or a failed check, 2 usage errors.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitInvalid = 1
	exitUsage   = 2
)

// exitError carries an exit code with the error to print.
type exitError struct {
	code int
	err  error
	hint string // printed on its own line after the error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a usage error pointing at the command's help.
func usageError(command, format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...), hint: fmt.Sprintf("See '%s --help'.", command)}
}

func invalidInput(err error) error {
	return &exitError{code: exitInvalid, err: err}
}

// silent reports a failure whose details were already printed.
var errSilent = errors.New("")

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "lambdascale",
		Short: "Auto-scale Mesos agents in AWS Auto Scaling groups",
		Long: `lambdascale sizes pools of Apache Mesos agents that run in AWS Auto Scaling groups.

Operators declare a ScalingPolicy (apiVersion lambdascale.io/v1alpha1) per pool: which masters,
which agents (by attribute), which Auto Scaling group, the utilization thresholds and the
application headroom. Lambda Scale reads the Mesos master's /master/state (and Marathon's
queue), decides the desired node count with reasons, and converges the group.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err, hint: fmt.Sprintf("See '%s --help'.", c.CommandPath())}
	})
	root.AddCommand(newRunCommand(), newDemoCommand(), newPlanCommand(), newValidateCommand(), newGetCommand(), newDescribeCommand())
	return root
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context that commands stop on (tests cancel it).
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitUsage // cobra's own errors (unknown command, bad arguments) are usage errors
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errSilent) {
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	if ee != nil && ee.hint != "" {
		fmt.Fprintln(stderr, ee.hint)
	}
	return code
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
