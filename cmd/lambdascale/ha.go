package main

import (
	"context"
	"fmt"
	"os"

	"github.com/go-logr/logr"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/leader"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/watch"
)

// startLeaderElection joins the ZooKeeper election (in the background until ctx ends) and
// returns the function the controller asks before every write.
func startLeaderElection(ctx context.Context, o *runOptions, log logr.Logger, setLeader func(bool)) (func() bool, error) {
	host, _ := os.Hostname()
	identity := fmt.Sprintf("%s-%d", host, os.Getpid())
	e, err := leader.New(o.zkServers, o.zkPath, identity, o.zkSession, log.WithName("leader-election"))
	if err != nil {
		return nil, fmt.Errorf("--leader-elect: %w", err)
	}
	go func() {
		if err := e.Run(ctx); err != nil {
			log.Error(err, "Leader election stopped; this replica writes nothing any more")
		}
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-e.Leading():
			}
			log.Info("Leading: this replica acts", "identity", identity)
			setLeader(true)
			select {
			case <-ctx.Done():
				return
			case <-e.Lost():
			}
			log.Info("Lost the leadership: this replica stops acting", "identity", identity, "leader", e.Leader())
			setLeader(false)
		}
	}()
	setLeader(false)
	log.Info("Joined the leader election", "identity", identity, "zkServers", o.zkServers, "zkPath", o.zkPath, "sessionTimeout", o.zkSession.String())
	return e.IsLeader, nil
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
