package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// App is one Marathon application definition with its task counters.
// Source: Marathon GET /v2/apps (optionally ?embed=apps.tasks), "apps" array.
type App struct {
	// ID is the application id, with its group path ("/captura/fetcher/xvfb").
	ID string `json:"id"`
	// Instances is the number of tasks the app asks for ("instances"; 0 for a suspended app).
	Instances int `json:"instances"`
	// Resources are the resources of one task: cpus in cores, mem and disk in MiB, gpus in
	// devices. Amounts the definition omits take Marathon's defaults (1 core, 128 MiB mem,
	// no disk, no GPU).
	Resources mesos.Resources `json:"resources"`
	// Constraints are the placement constraints as [field, operator, value?] triples, values
	// that Marathon sent as numbers or booleans rendered as their JSON text.
	Constraints [][]string `json:"constraints,omitempty"`
	// AcceptedResourceRoles are the roles whose resources the app accepts
	// ("acceptedResourceRoles"; empty: Marathon's default).
	AcceptedResourceRoles []string `json:"acceptedResourceRoles,omitempty"`
	// Role is the Mesos role the app launches under ("role", Marathon 1.9+); empty when
	// Marathon does not report it (then Marathon's own role applies).
	Role string `json:"role,omitempty"`
	// TasksRunning is Marathon's count of the app's running tasks ("tasksRunning").
	TasksRunning int `json:"tasksRunning"`
	// TasksStaged is Marathon's count of the app's staged tasks ("tasksStaged").
	TasksStaged int `json:"tasksStaged"`
	// Tasks are the app's tasks when the response embeds them (embed=apps.tasks); nil
	// otherwise.
	Tasks []Task `json:"tasks,omitempty"`
}

// Task is one task of an App, as embedded in GET /v2/apps?embed=apps.tasks.
type Task struct {
	// ID is the Marathon task id ("nginx-green.1883a887-c931-11e5-9836-026ee08d9f6f").
	ID string `json:"id"`
	// AgentID is the id of the Mesos agent the task runs on ("slaveId").
	AgentID string `json:"agentID,omitempty"`
	// Host is the agent's hostname as Marathon reports it ("host").
	Host string `json:"host,omitempty"`
	// State is the Mesos task state ("TASK_RUNNING"); empty for Marathon versions that do not
	// report it (0.15 and earlier).
	State string `json:"state,omitempty"`
}

// ReadApps reads a Marathon GET /v2/apps response ({"apps": [...]}, with or without
// embed=apps.tasks) and returns the apps in order; a GET /v2/apps/{id} response
// ({"app": {...}}) gives its one app. It reads the shapes of Marathon 0.15 (tasks without
// state) to 1.9+ (role, gpus, networks) and nested group ids.
//
// Input that is not such a response (a JSON array, /v2/queue, a Mesos state) is an error
// starting "not a Marathon /v2/apps response"; malformed or truncated JSON, and an app without
// an id or with negative amounts or counts, are errors too.
func ReadApps(r io.Reader) ([]App, error) {
	apps := []App{}
	add := func(i int, raw json.RawMessage) error {
		app, err := decodeAppWithTasks(raw)
		if err != nil {
			return appsResponse.reading(fmt.Errorf("app %d: %w", i, err))
		}
		apps = append(apps, app)
		return nil
	}
	keys, handled, err := walkObject(r, appsResponse, map[string]keyHandler{
		"apps": func(dec *json.Decoder) error {
			return eachElement(dec, appsResponse, "apps", add)
		},
		"app": func(dec *json.Decoder) error {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return appsResponse.reading(syntaxError(dec, err))
			}
			return add(0, raw)
		},
	})
	if err != nil {
		return nil, err
	}
	if !handled {
		return nil, appsResponse.notA("the object has no \"apps\" key (%s)", describeKeys(keys))
	}
	return apps, nil
}

// appJSON is the part of a Marathon app definition (AppDefinition) that is read.
type appJSON struct {
	ID                    string          `json:"id"`
	Instances             *int64          `json:"instances"`
	Constraints           json.RawMessage `json:"constraints"`
	AcceptedResourceRoles []string        `json:"acceptedResourceRoles"`
	Role                  string          `json:"role"`
	resourcesJSON
}

// appStatusJSON holds the counters and tasks GET /v2/apps adds to a definition.
type appStatusJSON struct {
	TasksRunning *int64 `json:"tasksRunning"`
	TasksStaged  *int64 `json:"tasksStaged"`
	Tasks        []struct {
		ID      string `json:"id"`
		SlaveID string `json:"slaveId"`
		Host    string `json:"host"`
		State   string `json:"state"`
	} `json:"tasks"`
}

// decodeApp decodes an app definition (as in /v2/apps and in /v2/queue items).
func decodeApp(raw json.RawMessage) (runSpec, error) {
	if err := wantObject(raw); err != nil {
		return runSpec{}, fmt.Errorf("app: %w", err)
	}
	var aj appJSON
	if err := json.Unmarshal(raw, &aj); err != nil {
		return runSpec{}, fmt.Errorf("app: %w", err)
	}
	if aj.ID == "" {
		return runSpec{}, errors.New("app without id")
	}
	label := runSpecID("app", aj.ID)
	spec := runSpec{ID: aj.ID, Instances: 1, AcceptedResourceRoles: aj.AcceptedResourceRoles, Role: aj.Role}
	if aj.Instances != nil {
		if *aj.Instances < 0 || *aj.Instances > math.MaxInt32 {
			return runSpec{}, fmt.Errorf("%s: instances %d is out of range", label, *aj.Instances)
		}
		spec.Instances = int(*aj.Instances)
	}
	var err error
	if spec.Resources, err = aj.resources(defaultAppResources); err != nil {
		return runSpec{}, fmt.Errorf("%s: %w", label, err)
	}
	if spec.Constraints, err = parseConstraints(aj.Constraints); err != nil {
		return runSpec{}, fmt.Errorf("%s: %w", label, err)
	}
	return spec, nil
}

// decodeAppWithTasks decodes one element of /v2/apps: the definition, counters and tasks.
func decodeAppWithTasks(raw json.RawMessage) (App, error) {
	spec, err := decodeApp(raw)
	if err != nil {
		return App{}, err
	}
	label := runSpecID("app", spec.ID)
	var sj appStatusJSON
	if err := json.Unmarshal(raw, &sj); err != nil {
		return App{}, fmt.Errorf("%s: %w", label, err)
	}
	app := App{
		ID:                    spec.ID,
		Instances:             spec.Instances,
		Resources:             spec.Resources,
		Constraints:           spec.Constraints,
		AcceptedResourceRoles: spec.AcceptedResourceRoles,
		Role:                  spec.Role,
	}
	for _, c := range []struct {
		name string
		v    *int64
		dst  *int
	}{{"tasksRunning", sj.TasksRunning, &app.TasksRunning}, {"tasksStaged", sj.TasksStaged, &app.TasksStaged}} {
		if c.v == nil {
			continue
		}
		if *c.v < 0 || *c.v > math.MaxInt32 {
			return App{}, fmt.Errorf("%s: %s %d is out of range", label, c.name, *c.v)
		}
		*c.dst = int(*c.v)
	}
	if sj.Tasks != nil {
		app.Tasks = make([]Task, 0, len(sj.Tasks))
		for i, t := range sj.Tasks {
			if t.ID == "" {
				return App{}, fmt.Errorf("%s: task %d has no id", label, i)
			}
			app.Tasks = append(app.Tasks, Task{ID: t.ID, AgentID: t.SlaveID, Host: t.Host, State: t.State})
		}
	}
	return app, nil
}
