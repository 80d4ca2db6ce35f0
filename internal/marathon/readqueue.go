package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// ReadQueue reads a Marathon GET /v2/queue response ({"queue": [...]}) and returns its items in
// order. An item holds an "app" (resources per task as the app sets them, Marathon's defaults
// of 1 core and 128 MiB when absent) or a "pod" (resources per instance: the sum of its
// containers' plus its executor's, 0.1 core, 32 MiB mem and 10 MiB disk unless
// "executorResources" says otherwise).
//
// DelaySeconds and Overdue come from "delay"; an item without one is taken as not backed off
// (Overdue true, DelaySeconds 0). RejectReasons sums "declined" per reason of
// "processedOffersSummary.rejectSummaryLastOffers" (Marathon 1.4+), keeping reasons with
// declined offers; a summary with none gives an empty map. Constraints whose values are
// numbers or booleans (older Marathon versions) are kept as their JSON text.
//
// Input that is not a /v2/queue response (a JSON array, /v2/apps, a Mesos state) is an error
// starting "not a Marathon /v2/queue response"; malformed or truncated JSON, and an item
// without an id, a count, or with negative amounts, are errors too. A response whose "queue"
// is empty or null gives no item and no error.
func ReadQueue(r io.Reader) ([]QueueItem, error) {
	items := []QueueItem{}
	keys, handled, err := walkObject(r, queueResponse, map[string]keyHandler{
		"queue": func(dec *json.Decoder) error {
			return eachElement(dec, queueResponse, "queue", func(i int, raw json.RawMessage) error {
				item, err := decodeQueueItem(raw)
				if err != nil {
					return queueResponse.reading(fmt.Errorf("queue item %d: %w", i, err))
				}
				items = append(items, item)
				return nil
			})
		},
	})
	if err != nil {
		return nil, err
	}
	if !handled {
		return nil, queueResponse.notA("the object has no \"queue\" key (%s)", describeKeys(keys))
	}
	return items, nil
}

// queueItemJSON is one element of "queue" (RAML QueueApp | QueuePod).
type queueItemJSON struct {
	Count *int64 `json:"count"`
	Delay *struct {
		TimeLeftSeconds *float64 `json:"timeLeftSeconds"`
		Overdue         *bool    `json:"overdue"`
	} `json:"delay"`
	Since                  string           `json:"since"`
	App                    *json.RawMessage `json:"app"`
	Pod                    *json.RawMessage `json:"pod"`
	ProcessedOffersSummary *struct {
		RejectSummaryLastOffers []struct {
			Reason   string `json:"reason"`
			Declined int64  `json:"declined"`
		} `json:"rejectSummaryLastOffers"`
	} `json:"processedOffersSummary"`
}

// decodeQueueItem decodes and checks one queue element.
func decodeQueueItem(raw json.RawMessage) (QueueItem, error) {
	if err := wantObject(raw); err != nil {
		return QueueItem{}, err
	}
	var qj queueItemJSON
	if err := json.Unmarshal(raw, &qj); err != nil {
		return QueueItem{}, err
	}

	var (
		item QueueItem
		err  error
	)
	switch {
	case qj.App != nil && qj.Pod != nil:
		return QueueItem{}, errors.New("it has both \"app\" and \"pod\"")
	case qj.App != nil:
		var spec runSpec
		if spec, err = decodeApp(*qj.App); err != nil {
			return QueueItem{}, err
		}
		item = spec.queueItem()
	case qj.Pod != nil:
		var spec runSpec
		if spec, err = decodePod(*qj.Pod); err != nil {
			return QueueItem{}, err
		}
		item = spec.queueItem()
		item.IsPod = true
	default:
		return QueueItem{}, errors.New("it has neither \"app\" nor \"pod\"")
	}
	kind := "app"
	if item.IsPod {
		kind = "pod"
	}
	label := runSpecID(kind, item.AppID)

	if qj.Count == nil {
		return QueueItem{}, fmt.Errorf("%s: no \"count\"", label)
	}
	if *qj.Count < 0 || *qj.Count > math.MaxInt32 {
		return QueueItem{}, fmt.Errorf("%s: count %d is out of range", label, *qj.Count)
	}
	item.Count = int(*qj.Count)

	item.Overdue = true
	if d := qj.Delay; d != nil {
		if d.TimeLeftSeconds != nil {
			left := *d.TimeLeftSeconds
			if left < 0 || left > math.MaxInt32 {
				return QueueItem{}, fmt.Errorf("%s: delay.timeLeftSeconds %v is out of range", label, left)
			}
			item.DelaySeconds = int(math.Ceil(left))
		}
		if d.Overdue != nil {
			item.Overdue = *d.Overdue
		} else {
			item.Overdue = item.DelaySeconds == 0
		}
	}

	if qj.Since != "" {
		t, err := time.Parse(time.RFC3339, qj.Since)
		if err != nil {
			return QueueItem{}, fmt.Errorf("%s: since %q is not an RFC 3339 time", label, qj.Since)
		}
		item.Since = t.UTC()
	}

	if s := qj.ProcessedOffersSummary; s != nil && s.RejectSummaryLastOffers != nil {
		item.RejectReasons = map[string]int{}
		for _, step := range s.RejectSummaryLastOffers {
			if step.Declined < 0 || step.Declined > math.MaxInt32 {
				return QueueItem{}, fmt.Errorf("%s: %d offers declined for %q is out of range", label, step.Declined, step.Reason)
			}
			if step.Declined > 0 {
				item.RejectReasons[step.Reason] += int(step.Declined)
			}
		}
	}
	return item, nil
}

// runSpec is what an app or a pod definition says about placing one task (one pod instance).
type runSpec struct {
	ID                    string
	Instances             int
	Resources             mesos.Resources
	Constraints           [][]string
	AcceptedResourceRoles []string
	Role                  string
}

// queueItem copies the definition's placement fields into a QueueItem.
func (s runSpec) queueItem() QueueItem {
	return QueueItem{
		AppID:                 s.ID,
		Resources:             s.Resources,
		Constraints:           s.Constraints,
		AcceptedResourceRoles: s.AcceptedResourceRoles,
		Role:                  s.Role,
	}
}

// podJSON is the part of a Marathon pod definition (RAML pod.raml) that is read.
type podJSON struct {
	ID         string `json:"id"`
	Role       string `json:"role"`
	Containers []struct {
		Name      string         `json:"name"`
		Resources *resourcesJSON `json:"resources"`
	} `json:"containers"`
	ExecutorResources *resourcesJSON `json:"executorResources"`
	Scaling           *struct {
		Instances *int64 `json:"instances"`
	} `json:"scaling"`
	Scheduling *struct {
		Placement *struct {
			Constraints           json.RawMessage `json:"constraints"`
			AcceptedResourceRoles []string        `json:"acceptedResourceRoles"`
		} `json:"placement"`
	} `json:"scheduling"`
}

// decodePod decodes a pod definition; Resources are per pod instance, executor included.
func decodePod(raw json.RawMessage) (runSpec, error) {
	if err := wantObject(raw); err != nil {
		return runSpec{}, fmt.Errorf("pod: %w", err)
	}
	var pj podJSON
	if err := json.Unmarshal(raw, &pj); err != nil {
		return runSpec{}, fmt.Errorf("pod: %w", err)
	}
	label := runSpecID("pod", pj.ID)
	if pj.ID == "" {
		return runSpec{}, errors.New("pod without id")
	}
	if len(pj.Containers) == 0 {
		return runSpec{}, fmt.Errorf("%s has no container", label)
	}
	spec := runSpec{ID: pj.ID, Role: pj.Role, Instances: 1}
	for i, c := range pj.Containers {
		var rj resourcesJSON
		if c.Resources != nil {
			rj = *c.Resources
		}
		res, err := rj.resources(defaultAppResources)
		if err != nil {
			return runSpec{}, fmt.Errorf("%s: container %d (%q): %w", label, i, c.Name, err)
		}
		spec.Resources = spec.Resources.Add(res)
	}
	var ej resourcesJSON
	if pj.ExecutorResources != nil {
		ej = *pj.ExecutorResources
	}
	exec, err := ej.resources(defaultExecutorResources)
	if err != nil {
		return runSpec{}, fmt.Errorf("%s: executorResources: %w", label, err)
	}
	spec.Resources = spec.Resources.Add(exec)

	if pj.Scaling != nil && pj.Scaling.Instances != nil {
		n := *pj.Scaling.Instances
		if n < 0 || n > math.MaxInt32 {
			return runSpec{}, fmt.Errorf("%s: scaling.instances %d is out of range", label, n)
		}
		spec.Instances = int(n)
	}
	if pj.Scheduling != nil && pj.Scheduling.Placement != nil {
		p := pj.Scheduling.Placement
		if spec.Constraints, err = parseConstraints(p.Constraints); err != nil {
			return runSpec{}, fmt.Errorf("%s: %w", label, err)
		}
		spec.AcceptedResourceRoles = p.AcceptedResourceRoles
	}
	return spec, nil
}

// wantObject refuses a JSON value other than an object with a short message.
func wantObject(raw json.RawMessage) error {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return nil
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		return fmt.Errorf("it is %s, want an object", anyKind(v))
	}
	return errors.New("it is empty, want an object")
}
