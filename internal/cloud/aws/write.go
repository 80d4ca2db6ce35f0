package aws

import (
	"context"
	"fmt"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/lambdascale/lambdascale/internal/cloud"
)

// SetDesiredCapacity calls Auto Scaling SetDesiredCapacity (HonorCooldown=false) to set the
// group's desired capacity to desired, in instances, or in capacity units for a weighted
// group (cloud.Group.Weighted): the bounds it is checked against are then in units too,
// and AWS may launch past desired by less than the largest weight.
//
// It checks desired against the group's last description (DescribeGroups, at most
// Options.DescribeMaxAge old) and sends nothing when the check fails: a value outside
// [MinSize, MaxSize] wraps cloud.ErrOutsideBounds, a value below the desired capacity wraps
// cloud.ErrLowersDesired (shrink with TerminateInstance), a group not described wraps
// cloud.ErrNotDescribed. A value equal to the described desired capacity sends nothing and
// succeeds, so a repeated decision makes no second write.
//
// A failed call makes the client forget the group's description: the next write is refused
// until the group is described again. The controller requeues a cloud.IsRetryable error
// (ScalingActivityInProgress, ResourceContention, throttling that outlasted the SDK's
// retries), describes again and decides anew; after a cloud.IsValidation error it describes
// again too, and never repeats the same call blindly.
func (c *Client) SetDesiredCapacity(ctx context.Context, group string, desired int32) error {
	o, err := c.observed(group)
	if err != nil {
		return fmt.Errorf("setting desired capacity of Auto Scaling group %q to %d: %w", group, desired, err)
	}
	switch {
	case desired < o.min || desired > o.max:
		return fmt.Errorf("setting desired capacity of Auto Scaling group %q to %d: the group allows %d to %d: %w",
			group, desired, o.min, o.max, cloud.ErrOutsideBounds)
	case desired < o.desired:
		return fmt.Errorf("setting desired capacity of Auto Scaling group %q to %d, below its desired capacity %d: %w",
			group, desired, o.desired, cloud.ErrLowersDesired)
	case desired == o.desired:
		c.log.V(2).Info("Desired capacity already set", "autoScalingGroup", group, "desired", desired)
		return nil
	}

	_, err = c.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: sdkaws.String(group),
		DesiredCapacity:      sdkaws.Int32(desired),
		HonorCooldown:        sdkaws.Bool(false),
	}, c.writeOptions)
	if err != nil {
		c.forget(group)
		return fmt.Errorf("setting desired capacity of Auto Scaling group %q to %d: %w", group, desired, apiError("SetDesiredCapacity", err))
	}

	c.mu.Lock()
	if cur, ok := c.groups[group]; ok {
		updated := *cur
		updated.desired = desired
		c.groups[group] = &updated
	}
	c.mu.Unlock()
	c.log.V(2).Info("Set desired capacity", "autoScalingGroup", group, "from", o.desired, "to", desired)
	return nil
}

// TerminateInstance calls Auto Scaling TerminateInstanceInAutoScalingGroup with
// ShouldDecrementDesiredCapacity=true, so that the group terminates exactly instanceID and
// does not replace it.
//
// It checks the request against the group's last description and sends nothing when the
// check fails: an instance that is not a member wraps cloud.ErrNotMember; one that is not
// InService (Terminating, Terminating:Wait, Terminating:Proceed, Standby, Detaching,
// Pending*, warm-pool or unknown states) is a *cloud.NotInServiceError wrapping
// cloud.ErrNotInService (its AlreadyTerminating tells a repeated decision, which needs no
// write, from the others); one protected from scale in wraps cloud.ErrProtected (AWS would
// terminate it anyway); a group whose Terminate process is suspended wraps
// cloud.ErrProcessSuspended (what AWS does with an explicit termination then is not
// documented); a decrement below MinSize (by the instance's weight, in capacity units)
// wraps cloud.ErrOutsideBounds; a group not described wraps cloud.ErrNotDescribed. A failed
// call makes the client forget the group's description, as for SetDesiredCapacity.
func (c *Client) TerminateInstance(ctx context.Context, group, instanceID string) error {
	o, err := c.observed(group)
	if err != nil {
		return fmt.Errorf("terminating instance %s of Auto Scaling group %q: %w", instanceID, group, err)
	}
	in, ok := o.members[instanceID]
	switch {
	case !ok:
		return fmt.Errorf("terminating instance %s of Auto Scaling group %q: %w", instanceID, group, cloud.ErrNotMember)
	case !in.CanTerminate():
		return fmt.Errorf("terminating instance %s of Auto Scaling group %q: %w", instanceID, group,
			&cloud.NotInServiceError{InstanceID: instanceID, LifecycleState: in.LifecycleState})
	case in.ProtectedFromScaleIn:
		return fmt.Errorf("terminating instance %s of Auto Scaling group %q: %w", instanceID, group, cloud.ErrProtected)
	case slices.Contains(o.suspended, "Terminate"):
		return fmt.Errorf("terminating instance %s of Auto Scaling group %q: the Terminate process is suspended: %w",
			instanceID, group, cloud.ErrProcessSuspended)
	}
	weight := in.Units()
	if o.desired-weight < o.min {
		return fmt.Errorf("terminating instance %s of Auto Scaling group %q would lower its desired capacity from %d to %d, below its MinSize %d: %w",
			instanceID, group, o.desired, o.desired-weight, o.min, cloud.ErrOutsideBounds)
	}

	out, err := c.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId:                     sdkaws.String(instanceID),
		ShouldDecrementDesiredCapacity: sdkaws.Bool(true),
	}, c.writeOptions)
	if err != nil {
		c.forget(group)
		return fmt.Errorf("terminating instance %s of Auto Scaling group %q: %w", instanceID, group, apiError("TerminateInstanceInAutoScalingGroup", err))
	}

	c.mu.Lock()
	if cur, ok := c.groups[group]; ok {
		updated := *cur
		updated.desired = cur.desired - weight
		updated.members = make(map[string]cloud.Instance, len(cur.members))
		for id, m := range cur.members {
			if id == instanceID {
				m.LifecycleState = "Terminating"
			}
			updated.members[id] = m
		}
		c.groups[group] = &updated
	}
	c.mu.Unlock()
	var activity string
	if out.Activity != nil {
		activity = sdkaws.ToString(out.Activity.ActivityId)
	}
	c.log.V(2).Info("Terminated instance", "autoScalingGroup", group, "instance", instanceID,
		"desiredFrom", o.desired, "desiredTo", o.desired-weight, "activity", activity)
	return nil
}

// ScalingActivities calls Auto Scaling DescribeScalingActivities (paginated) and returns up
// to limit of the group's most recent scaling activities, newest first; limit <= 0 means
// 100.
func (c *Client) ScalingActivities(ctx context.Context, group string, limit int32) ([]cloud.Activity, error) {
	if limit <= 0 {
		limit = maxRecords
	}
	p := autoscaling.NewDescribeScalingActivitiesPaginator(c.asg, &autoscaling.DescribeScalingActivitiesInput{
		AutoScalingGroupName: sdkaws.String(group),
		MaxRecords:           sdkaws.Int32(min(limit, maxRecords)),
	})
	var out []cloud.Activity
	for p.HasMorePages() && int32(len(out)) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing scaling activities of Auto Scaling group %q: %w", group, apiError("DescribeScalingActivities", err))
		}
		for _, a := range page.Activities {
			if int32(len(out)) == limit {
				break
			}
			out = append(out, activityOf(a))
		}
	}
	return out, nil
}

// activityOf converts an SDK activity.
func activityOf(a asgtypes.Activity) cloud.Activity {
	act := cloud.Activity{
		ID:            sdkaws.ToString(a.ActivityId),
		Description:   sdkaws.ToString(a.Description),
		Cause:         sdkaws.ToString(a.Cause),
		StatusCode:    string(a.StatusCode),
		StatusMessage: sdkaws.ToString(a.StatusMessage),
		Progress:      sdkaws.ToInt32(a.Progress),
	}
	if a.StartTime != nil {
		act.StartTime = a.StartTime.UTC()
	}
	if a.EndTime != nil {
		act.EndTime = a.EndTime.UTC()
	}
	return act
}
