package watch_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/watch"
)

// A controller creates the Watcher before loading the policies the first time, then loads them
// again each time the Watcher reports a change.
func Example() {
	const dir = "/etc/lambdascale/policies"
	w, err := watch.New(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	apply := func() {
		loaded, errs := policy.Load(dir)
		// Reconcile the valid policies; keep the last good spec of a broken one and report
		// errs on its status; stop reconciling the policies that are gone.
		fmt.Println(len(loaded), "policies,", len(errs), "problems")
	}
	apply()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := w.Run(ctx, apply); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
