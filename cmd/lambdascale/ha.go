package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/watch"
)

// startLeaderElection joins the ZooKeeper election and returns whether this replica leads.
func startLeaderElection(ctx context.Context, o *runOptions, log logr.Logger) (func() bool, error) {
	return nil, errors.New("leader election is not available yet")
}

// watchPolicies reloads the policies into the controller whenever their files change (editor
// saves by rename, Kubernetes ConfigMap symlink swaps), in the background until ctx ends.
func watchPolicies(ctx context.Context, path string, ctrl *controllers.Controller, log logr.Logger) error {
	w, err := watch.New(path, watch.WithLogger(log))
	if err != nil {
		return fmt.Errorf("watching the policies: %w", err)
	}
	go func() {
		err := w.Run(ctx, func() {
			loaded, errs := policy.Load(path)
			for _, err := range errs {
				log.Error(err, "Invalid policy after an edit")
			}
			for _, err := range ctrl.Sync(loaded, errs) {
				log.Error(err, "Skipping policy")
			}
			log.Info("Reloaded policies", "policies", ctrl.Policies())
		})
		if err != nil {
			log.Error(err, "Watching the policies stopped; edits need a restart")
		}
	}()
	return nil
}
