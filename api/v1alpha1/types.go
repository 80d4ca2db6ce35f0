// Package v1alpha1 holds the ScalingPolicy API of Lambda Scale (group lambdascale.io, version
// v1alpha1): the types users write in YAML, their defaults and their validation.
//
// +kubebuilder:object:generate=true
// +groupName=lambdascale.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of ScalingPolicy.
var GroupVersion = schema.GroupVersion{Group: "lambdascale.io", Version: "v1alpha1"}

// Kind is the kind of the only object of this API.
const Kind = "ScalingPolicy"

// ScalingPolicy declares how one pool of Mesos agents, backed by one AWS Auto Scaling group,
// is sized.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=scalingpolicies,singular=scalingpolicy,scope=Namespaced,shortName=lsp
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Group",type=string,JSONPath=`.spec.autoScalingGroup.name`
// +kubebuilder:printcolumn:name="Current",type=integer,JSONPath=`.status.currentNodes`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desiredNodes`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ScalingPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the operator wants.
	// +required
	Spec ScalingPolicySpec `json:"spec"`
	// status is what the controller observed and did.
	// +optional
	Status ScalingPolicyStatus `json:"status,omitempty"`
}

// ScalingPolicySpec is the desired behaviour of the autoscaler for one pool.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minNodes) || !has(self.maxNodes) || self.minNodes <= self.maxNodes",message="minNodes must not be above maxNodes"
type ScalingPolicySpec struct {
	// mesos says where the cluster's masters are and which agents form the pool.
	// +required
	Mesos MesosSpec `json:"mesos"`
	// autoScalingGroup names the AWS Auto Scaling group whose instances are the pool's agents.
	// +required
	AutoScalingGroup AutoScalingGroupSpec `json:"autoScalingGroup"`
	// minNodes is the lowest node count the controller scales to; intersected with the group's
	// MinSize. Default 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=1
	MinNodes *int32 `json:"minNodes,omitempty"`
	// maxNodes is the highest node count the controller scales to; intersected with the group's
	// MaxSize. Default 100.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=100
	MaxNodes *int32 `json:"maxNodes,omitempty"`
	// nodeShape is the resources one new node brings to Mesos (keys cpus, mem, disk, gpus;
	// mem and disk as byte quantities such as 32Gi). When empty it is inferred from the pool's
	// agents.
	// +optional
	// +kubebuilder:validation:MaxProperties=4
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['cpus', 'mem', 'disk', 'gpus'])",message="keys must be cpus, mem, disk or gpus"
	NodeShape map[string]resource.Quantity `json:"nodeShape,omitempty"`
	// utilization sets the cluster utilization thresholds.
	// +optional
	// +kubebuilder:default={}
	Utilization UtilizationSpec `json:"utilization,omitempty"`
	// applicationHeadroomPercent is X: the pool must be able to place X percent more tasks of
	// every application at once. 0 disables the headroom rule. Default 20.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=20
	ApplicationHeadroomPercent *int32 `json:"applicationHeadroomPercent,omitempty"`
	// scaleUp limits growth.
	// +optional
	// +kubebuilder:default={}
	ScaleUp ScaleUpSpec `json:"scaleUp,omitempty"`
	// scaleDown limits and paces shrinking.
	// +optional
	// +kubebuilder:default={}
	ScaleDown ScaleDownSpec `json:"scaleDown,omitempty"`
	// intervalSeconds is the time between two reconciles of this policy. Default 60.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=60
	IntervalSeconds *int32 `json:"intervalSeconds,omitempty"`
	// mode is Enforce (act on AWS and Mesos) or DryRun (decide and report only). Default Enforce.
	// +optional
	// +kubebuilder:validation:Enum=Enforce;DryRun
	// +kubebuilder:default=Enforce
	Mode Mode `json:"mode,omitempty"`
}

// MesosSpec locates the Mesos masters and selects the pool's agents.
type MesosSpec struct {
	// masters are the base URLs of the Mesos masters (http or https), for example
	// "http://10.0.0.5:5050". The leader is found among them.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:items:Pattern=`^https?://[^/?#]+`
	Masters []string `json:"masters"`
	// role is the Mesos role whose capacity counts: unreserved resources plus reservations for
	// this role. Reservations for other roles do not count. Default "*".
	// +optional
	// +kubebuilder:default="*"
	Role string `json:"role,omitempty"`
	// agentSelector selects the pool's agents by attribute. Empty selects every agent.
	// +optional
	AgentSelector *AgentSelector `json:"agentSelector,omitempty"`
	// credentialsFile is a file holding "user:password" (HTTP basic authentication) or a
	// bearer token, sent to the masters.
	// +optional
	CredentialsFile string `json:"credentialsFile,omitempty"`
	// marathonURL is the base URL of Marathon, read for applications and pending tasks.
	// +optional
	MarathonURL string `json:"marathonURL,omitempty"`
	// instanceIDAttribute names an agent attribute holding the agent's EC2 instance id
	// (agent flag --attributes=instance_id:i-0abc...). When set, agents are matched to the
	// group's instances by it; otherwise by private IP (from the agent's pid or hostname).
	// +optional
	InstanceIDAttribute string `json:"instanceIDAttribute,omitempty"`
}

// AgentSelector selects agents by their Mesos attributes.
type AgentSelector struct {
	// matchAttributes selects agents whose attributes have all these values (compared as text).
	// +optional
	MatchAttributes map[string]string `json:"matchAttributes,omitempty"`
}

// AutoScalingGroupSpec names the AWS Auto Scaling group of the pool.
type AutoScalingGroupSpec struct {
	// name is the Auto Scaling group's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Name string `json:"name"`
	// region is the AWS region of the group; empty uses the AWS default chain.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]+$`
	Region string `json:"region,omitempty"`
	// instanceOverhead is what an instance keeps for itself and does not offer to Mesos
	// (keys cpus, mem, disk), subtracted from an instance type's EC2 vCPUs and MiB when the
	// node shape of a type without registered agents comes from DescribeInstanceTypes.
	// Default: mem 1Gi, as a Mesos agent leaves 1 GiB to the system by default.
	// +optional
	// +kubebuilder:default={mem:"1Gi"}
	// +kubebuilder:validation:MaxProperties=3
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['cpus', 'mem', 'disk'])",message="keys must be cpus, mem or disk"
	InstanceOverhead map[string]resource.Quantity `json:"instanceOverhead,omitempty"`
}

// UtilizationSpec sets the utilization thresholds, in percent of the pool's capacity.
//
// +kubebuilder:validation:XValidation:rule="!has(self.scaleUpPercent) || !has(self.scaleDownPercent) || self.scaleDownPercent < self.scaleUpPercent",message="scaleDownPercent must be less than scaleUpPercent"
type UtilizationSpec struct {
	// resources are the resources whose utilization counts: cpus, mem, disk, gpus.
	// Default [cpus, mem].
	// +optional
	// +kubebuilder:default={cpus,mem}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:Enum=cpus;mem;disk;gpus
	// +listType=set
	Resources []string `json:"resources,omitempty"`
	// scaleUpPercent is the utilization, in percent, above which nodes are added. Default 80.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=80
	ScaleUpPercent *int32 `json:"scaleUpPercent,omitempty"`
	// scaleDownPercent is the utilization, in percent, below which nodes may be removed; it
	// must be below scaleUpPercent. Default 40.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=40
	ScaleDownPercent *int32 `json:"scaleDownPercent,omitempty"`
}

// ScaleUpSpec limits growth.
type ScaleUpSpec struct {
	// maxNodesPerStep is the most nodes added in one reconcile; 0 means unlimited. Default 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=0
	MaxNodesPerStep *int32 `json:"maxNodesPerStep,omitempty"`
	// cooldownSeconds is the time after a scale-up before the next one; 0 means none. Default 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=0
	CooldownSeconds *int32 `json:"cooldownSeconds,omitempty"`
	// registrationTimeoutSeconds is how long a launched instance may take to register as a
	// Mesos agent; after it, the instance stops counting as upcoming capacity, a condition
	// names it and further scale-ups back off. Default 900.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=900
	RegistrationTimeoutSeconds *int32 `json:"registrationTimeoutSeconds,omitempty"`
}

// ScaleDownPolicy says whether the controller may remove nodes.
// +kubebuilder:validation:Enum=Enabled;Disabled
type ScaleDownPolicy string

// Values of ScaleDownPolicy.
const (
	// ScaleDownPolicyEnabled lets the controller remove nodes.
	ScaleDownPolicyEnabled ScaleDownPolicy = "Enabled"
	// ScaleDownPolicyDisabled never removes nodes.
	ScaleDownPolicyDisabled ScaleDownPolicy = "Disabled"
)

// ScaleDownSpec limits and paces shrinking.
type ScaleDownSpec struct {
	// policy is Enabled or Disabled. Default Enabled.
	// +optional
	// +kubebuilder:default=Enabled
	Policy ScaleDownPolicy `json:"policy,omitempty"`
	// maxNodesPerStep is the most nodes removed (or drained at once) in one step; 0 means
	// unlimited. Default 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=1
	MaxNodesPerStep *int32 `json:"maxNodesPerStep,omitempty"`
	// stabilizationSeconds is how long a scale-down recommendation must hold before it is
	// acted on. Default 600.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=600
	StabilizationSeconds *int32 `json:"stabilizationSeconds,omitempty"`
	// drainTimeoutSeconds is the longest wait for a drained agent to run no tasks. Default 600.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=600
	DrainTimeoutSeconds *int32 `json:"drainTimeoutSeconds,omitempty"`
	// drainTimeoutAction is what happens to an agent still running tasks drainTimeoutSeconds
	// after its drain started: Abort (undrain it and keep the node) or Force (terminate it,
	// killing what still runs there). Default Abort.
	// +optional
	// +kubebuilder:validation:Enum=Abort;Force
	// +kubebuilder:default=Abort
	DrainTimeoutAction DrainTimeoutAction `json:"drainTimeoutAction,omitempty"`
	// protectedApplications are application ids (Marathon app ids such as /db/primary, or
	// "<framework>/<task name>") or id prefixes ending in "/" or "*" whose tasks must not be
	// disrupted: an agent running one is never chosen for removal unless the application
	// also runs on another agent that stays.
	// +optional
	ProtectedApplications []string `json:"protectedApplications,omitempty"`
	// maxUnregisteredPercent: no node is removed while more than this percent of the group's
	// instances are not registered as agents (a Mesos or network problem is likelier than
	// idle capacity). Default 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=30
	MaxUnregisteredPercent *int32 `json:"maxUnregisteredPercent,omitempty"`
}

// DrainTimeoutAction says what happens when a drain outlasts drainTimeoutSeconds.
// +kubebuilder:validation:Enum=Abort;Force
type DrainTimeoutAction string

// Values of DrainTimeoutAction.
const (
	// DrainTimeoutAbort undrains the agent and keeps the node.
	DrainTimeoutAbort DrainTimeoutAction = "Abort"
	// DrainTimeoutForce terminates the node with whatever still runs on it.
	DrainTimeoutForce DrainTimeoutAction = "Force"
)

// Mode says whether the controller acts or only reports.
// +kubebuilder:validation:Enum=Enforce;DryRun
type Mode string

// Values of Mode.
const (
	// ModeEnforce acts on AWS and Mesos.
	ModeEnforce Mode = "Enforce"
	// ModeDryRun decides and reports, and writes nothing to AWS or Mesos.
	ModeDryRun Mode = "DryRun"
)

// ScalingPolicyStatus is what the controller observed and did, written back by the controller.
type ScalingPolicyStatus struct {
	// observedGeneration is the metadata.generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions are the latest observations of the policy's state (Ready, AbleToScale,
	// ScalingLimited, ObservationFailed).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// currentNodes is the node count of the pool at the last reconcile.
	// +optional
	CurrentNodes int32 `json:"currentNodes,omitempty"`
	// desiredNodes is the node count the last decision asked for.
	// +optional
	DesiredNodes int32 `json:"desiredNodes,omitempty"`
	// utilization is the per-resource utilization at the last reconcile.
	// +optional
	Utilization []ResourceUtilization `json:"utilization,omitempty"`
	// lastScaleTime is when the controller last changed the group.
	// +optional
	LastScaleTime *metav1.Time `json:"lastScaleTime,omitempty"`
	// lastDecision is the last decision and why it was made.
	// +optional
	LastDecision *DecisionSummary `json:"lastDecision,omitempty"`
	// recentDecisions are the last decisions that changed something or said something new,
	// oldest first, at most MaxRecentDecisions.
	// +optional
	RecentDecisions []DecisionSummary `json:"recentDecisions,omitempty"`
	// lastScaleUpTime is when the controller last grew the group (the scale-up cooldown
	// counts from it).
	// +optional
	LastScaleUpTime *metav1.Time `json:"lastScaleUpTime,omitempty"`
	// scaleDownRecommendedSince is when the current scale-down recommendation started to hold;
	// kept here so that a restarted controller neither resets nor skips the stabilization window.
	// +optional
	ScaleDownRecommendedSince *metav1.Time `json:"scaleDownRecommendedSince,omitempty"`
	// upcomingNodes is the number of launched instances not yet registered as agents.
	// +optional
	UpcomingNodes int32 `json:"upcomingNodes,omitempty"`
	// poolAgents is the number of registered agents counted at the last reconcile.
	// +optional
	PoolAgents int32 `json:"poolAgents,omitempty"`
	// scaleUpFailures counts consecutive scale-ups whose instances failed to launch or to
	// register; scaleUpBackoffUntil is when growth may be tried again.
	// +optional
	ScaleUpFailures int32 `json:"scaleUpFailures,omitempty"`
	// +optional
	ScaleUpBackoffUntil *metav1.Time `json:"scaleUpBackoffUntil,omitempty"`
	// drains are the scale-ins in progress: each is recorded here before anything is changed,
	// so that a restarted controller finishes or rolls it back.
	// +optional
	// +listType=map
	// +listMapKey=agentID
	Drains []DrainStatus `json:"drains,omitempty"`
}

// DrainStatus is one agent being removed: drained through Mesos maintenance, then its
// instance terminated.
type DrainStatus struct {
	// agentID is the Mesos agent id.
	AgentID string `json:"agentID"`
	// instanceID is the agent's EC2 instance id.
	InstanceID string `json:"instanceID"`
	// hostname and ip identify the machine in the Mesos maintenance schedule, exactly as the
	// agent reports them.
	Hostname string `json:"hostname"`
	IP       string `json:"ip"`
	// units is the instance's capacity units (1 when the group is unweighted).
	Units int32 `json:"units,omitempty"`
	// phase is Draining (maintenance window posted, waiting for the agent to run no task) or
	// Terminating (TerminateInstanceInAutoScalingGroup accepted; the machine is taken down
	// and out of the schedule once the instance is gone).
	// +kubebuilder:validation:Enum=Draining;Terminating
	Phase string `json:"phase"`
	// startTime is when the drain was recorded; deadline is startTime + drainTimeoutSeconds.
	StartTime metav1.Time `json:"startTime"`
	Deadline  metav1.Time `json:"deadline"`
}

// Phases of a DrainStatus.
const (
	DrainPhaseDraining    = "Draining"
	DrainPhaseTerminating = "Terminating"
)

// ResourceUtilization is the utilization of one resource. Amounts are in Mesos units (cores,
// MiB) rendered as decimal strings, so no floats appear in the API.
type ResourceUtilization struct {
	// resource is cpus, mem, disk or gpus.
	Resource string `json:"resource"`
	// used is the amount in use.
	Used resource.Quantity `json:"used"`
	// total is the capacity counted for the policy's role.
	Total resource.Quantity `json:"total"`
	// percent is used/total in whole percent, rounded down.
	Percent int32 `json:"percent"`
}

// MaxRecentDecisions bounds status.recentDecisions.
const MaxRecentDecisions = 10

// DecisionSummary records one decision.
type DecisionSummary struct {
	// time is when the decision was made.
	Time metav1.Time `json:"time"`
	// direction is ScaleUp, ScaleDown or NoChange.
	// +kubebuilder:validation:Enum=ScaleUp;ScaleDown;NoChange
	Direction string `json:"direction"`
	// currentNodes and desiredNodes are the counts the decision went from and to.
	CurrentNodes int32 `json:"currentNodes"`
	DesiredNodes int32 `json:"desiredNodes"`
	// reasons explain the decision.
	Reasons []Reason `json:"reasons,omitempty"`
	// scaleDownAgents are the ids of the agents chosen for removal.
	// +optional
	ScaleDownAgents []string `json:"scaleDownAgents,omitempty"`
	// unschedulable lists the applications with copies that fit no node of the pool.
	// +optional
	Unschedulable []string `json:"unschedulable,omitempty"`
	// actions are the writes the controller made for this decision (AWS calls, Mesos
	// maintenance calls), empty in DryRun and when nothing changed.
	// +optional
	Actions []string `json:"actions,omitempty"`
}

// Reason is one CamelCase reason with a message a person understands.
type Reason struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}
