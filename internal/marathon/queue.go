// Package marathon reads Marathon's view of applications and pending tasks (GET /v2/apps,
// GET /v2/queue) for the planner. It makes no scaling decision.
package marathon

import (
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// QueueItem is one application waiting for offers in Marathon's launch queue.
// Source: Marathon GET /v2/queue ("queue" array).
type QueueItem struct {
	// AppID is the Marathon application id ("/web/nginx"), or the pod id.
	AppID string `json:"appID"`
	// Count is the number of task copies still to launch.
	Count int `json:"count"`
	// Resources are the per-task resources (cpus in cores, mem and disk in MiB, gpus).
	Resources mesos.Resources `json:"resources"`
	// Constraints are the app's placement constraints as [field, operator, value?] triples.
	Constraints [][]string `json:"constraints,omitempty"`
	// AcceptedResourceRoles are the roles whose resources the app accepts (empty: Marathon's
	// default role).
	AcceptedResourceRoles []string `json:"acceptedResourceRoles,omitempty"`
	// Overdue is true when the launch is past its back-off delay.
	Overdue bool `json:"overdue"`
	// DelaySeconds is the back-off time left ("delay.timeLeftSeconds").
	DelaySeconds int `json:"delaySeconds"`
	// RejectReasons counts the offers Marathon declined, by reason, when it reports them
	// ("processedOffersSummary.rejectSummaryLastOffers"); nil when absent.
	RejectReasons map[string]int `json:"rejectReasons,omitempty"`
	// Role is the Mesos role the app or pod launches under ("role", Marathon 1.9+); empty
	// when Marathon does not report it (then Marathon's own role applies).
	Role string `json:"role,omitempty"`
	// IsPod is true when the item is a pod; Resources then include the pod executor's.
	IsPod bool `json:"isPod,omitempty"`
	// Since is when Marathon started trying to launch these copies ("since"); zero when absent.
	Since time.Time `json:"since,omitzero"`
}
