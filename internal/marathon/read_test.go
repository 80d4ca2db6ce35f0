package marathon

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// sharedDir holds the Marathon captures shared by the team (see fixtures/SOURCES.md); it lives
// outside the module, next to the checkout.
var sharedDir = filepath.Join("..", "..", "..", "shared", "fixtures", "marathon")

// sharedFile reads one shared capture, skipping the test when the shared tree is absent.
func sharedFile(t testing.TB, name string) []byte {
	t.Helper()
	if _, err := os.Stat(sharedDir); err != nil {
		t.Skipf("shared Marathon fixtures not found at %s (../shared, beside the checkout): %v", sharedDir, err)
	}
	b, err := os.ReadFile(filepath.Join(sharedDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testdataFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameResources(a, b mesos.Resources) bool {
	const eps = 1e-9
	return math.Abs(a.CPUs-b.CPUs) < eps && math.Abs(a.Mem-b.Mem) < eps &&
		math.Abs(a.Disk-b.Disk) < eps && math.Abs(a.GPUs-b.GPUs) < eps
}

// checkQueue compares items field by field, resources with a tolerance.
func checkQueue(t *testing.T, got, want []QueueItem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d queue items, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !sameResources(g.Resources, w.Resources) {
			t.Errorf("item %d (%s): resources %+v, want %+v", i, w.AppID, g.Resources, w.Resources)
		}
		g.Resources, w.Resources = mesos.Resources{}, mesos.Resources{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("item %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// checkApps compares apps field by field, resources with a tolerance.
func checkApps(t *testing.T, got, want []App) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d apps, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !sameResources(g.Resources, w.Resources) {
			t.Errorf("app %d (%s): resources %+v, want %+v", i, w.ID, g.Resources, w.Resources)
		}
		g.Resources, w.Resources = mesos.Resources{}, mesos.Resources{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("app %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func readQueueFile(t *testing.T, data []byte) []QueueItem {
	t.Helper()
	items, err := ReadQueue(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadQueue: %v", err)
	}
	return items
}

func readAppsFile(t *testing.T, data []byte) []App {
	t.Helper()
	apps, err := ReadApps(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadApps: %v", err)
	}
	return apps
}

// sharedCases lists every file of the shared Marathon fixtures and what each reader makes of
// it. The expected values were worked out by hand from the files.
var sharedCases = map[string]struct {
	queue []QueueItem // nil: ReadQueue must refuse the file
	apps  []App       // nil: ReadApps must refuse the file
	// hint is what the refusals must say the file looks like.
	hint string
}{
	// Two apps in back-off, each with one copy to launch ("count": 1): /infra/otherapp with
	// 2 s left, /dev/waiting with 286 s left, neither overdue. Both 0.1 cpus, 135 MiB mem,
	// 0 disk, 0 gpus, "constraints": [] and "acceptedResourceRoles": ["*"]. No "since", no
	// "processedOffersSummary".
	"v2-queue-asgard-delayed.json": {
		queue: []QueueItem{
			{AppID: "/infra/otherapp", Count: 1, Resources: mesos.Resources{CPUs: 0.1, Mem: 135},
				AcceptedResourceRoles: []string{"*"}, DelaySeconds: 2, Overdue: false},
			{AppID: "/dev/waiting", Count: 1, Resources: mesos.Resources{CPUs: 0.1, Mem: 135},
				AcceptedResourceRoles: []string{"*"}, DelaySeconds: 286, Overdue: false},
		},
		hint: "GET /v2/queue",
	},
	// Marathon 0.15: /nginx-green (3 instances, 3 running, all on agent ...-S1 at 10.0.6.25)
	// and /nginx-blue (1 instance on ...-S3 at 10.0.1.147); 0.1 cpus, 65 MiB, disk 0, no gpus
	// key; "constraints": []; roles "*" and "slave_public". The tasks carry no "state".
	"v2-apps-embed-tasks-marathonlb-zdd-0.15.json": {
		apps: []App{
			{ID: "/nginx-green", Instances: 3, Resources: mesos.Resources{CPUs: 0.1, Mem: 65},
				AcceptedResourceRoles: []string{"*", "slave_public"}, TasksRunning: 3, TasksStaged: 0,
				Tasks: []Task{
					{ID: "nginx-green.1883a887-c931-11e5-9836-026ee08d9f6f", AgentID: "1f09399d-0cb0-4484-afd7-f08e99d2acbb-S1", Host: "10.0.6.25"},
					{ID: "nginx-green.0dbabba6-c931-11e5-9836-026ee08d9f6f", AgentID: "1f09399d-0cb0-4484-afd7-f08e99d2acbb-S1", Host: "10.0.6.25"},
					{ID: "nginx-green.23532518-c931-11e5-9836-026ee08d9f6f", AgentID: "1f09399d-0cb0-4484-afd7-f08e99d2acbb-S1", Host: "10.0.6.25"},
				}},
			{ID: "/nginx-blue", Instances: 1, Resources: mesos.Resources{CPUs: 0.1, Mem: 65},
				AcceptedResourceRoles: []string{"*", "slave_public"}, TasksRunning: 1,
				Tasks: []Task{
					{ID: "nginx-blue.3a58a46a-c937-11e5-9836-026ee08d9f6f", AgentID: "1f09399d-0cb0-4484-afd7-f08e99d2acbb-S3", Host: "10.0.1.147"},
				}},
		},
		hint: "GET /v2/apps",
	},
	// Marathon 1.5: one app /pywebserver, 1 instance of 0.1 cpus, 128 MiB, disk 0, gpus 0,
	// no constraints key, no roles; one running task with "state".
	"v2-apps-marathonlb-marathon1.5.json": {
		apps: []App{
			{ID: "/pywebserver", Instances: 1, Resources: mesos.Resources{CPUs: 0.1, Mem: 128}, TasksRunning: 1,
				Tasks: []Task{{ID: "pywebserver.8cad6a69-6ca8-11e7-beb2-0e2beceebfcc",
					AgentID: "db7b40e2-791c-445f-b373-183e2a648a86-S1", Host: "10.0.2.148", State: "TASK_RUNNING"}}},
		},
		hint: "GET /v2/apps",
	},
	// Four apps in nested groups, no tasks embedded, "acceptedResourceRoles": null, no gpus:
	// two suspended (instances 0: mailmarketing 0.3 cpus/512 MiB, redis/beta 0.1/64), xvfb with
	// 15 instances (0.1/128, 15 running, hostname UNIQUE among three constraints) and crond
	// with 1 (0.6/128, 1 running).
	"v2-apps-asgard-4apps.json": {
		apps: []App{
			{ID: "/supended/captura/wetl/updater/mailmarketing", Instances: 0, Resources: mesos.Resources{CPUs: 0.3, Mem: 512},
				Constraints: [][]string{{"exclusive", "UNLIKE", ".*"}, {"dc", "LIKE", "sl"}}},
			{ID: "/captura/fetcher/xvfb", Instances: 15, Resources: mesos.Resources{CPUs: 0.1, Mem: 128},
				Constraints:  [][]string{{"workload", "LIKE", "(fetcher|fetcher-interactiveX)"}, {"hostname", "UNIQUE"}, {"dc", "LIKE", "aws"}},
				TasksRunning: 15},
			{ID: "/infra/redis/beta", Instances: 0, Resources: mesos.Resources{CPUs: 0.1, Mem: 64},
				Constraints: [][]string{{"exclusive", "UNLIKE", ".*"}, {"dc", "LIKE", "sl"}, {"hostname", "LIKE", "(10.76.98.168)"}}},
			{ID: "/pricing/cron/crond", Instances: 1, Resources: mesos.Resources{CPUs: 0.6, Mem: 128},
				Constraints:  [][]string{{"workload", "LIKE", "general"}, {"dc", "LIKE", "(aws|sl|gcp)"}},
				TasksRunning: 1},
		},
		hint: "GET /v2/apps",
	},
	// /v2/tasks: neither reader applies; both must say so.
	"v2-tasks-asgard-3tasks.json": {hint: "GET /v2/tasks"},
}

// TestSharedFixturesAllCovered fails when a file is added to the shared Marathon fixtures
// without expectations here.
func TestSharedFixturesAllCovered(t *testing.T) {
	if _, err := os.Stat(sharedDir); err != nil {
		t.Skipf("shared Marathon fixtures not found at %s (../shared, beside the checkout): %v", sharedDir, err)
	}
	entries, err := os.ReadDir(sharedDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("%s is empty", sharedDir)
	}
	for _, e := range entries {
		if _, ok := sharedCases[e.Name()]; !ok {
			t.Errorf("shared fixture %s has no expectations in sharedCases", e.Name())
		}
	}
}

func TestSharedFixtures(t *testing.T) {
	for name, tc := range sharedCases {
		t.Run(name, func(t *testing.T) {
			data := sharedFile(t, name)

			items, err := ReadQueue(bytes.NewReader(data))
			if tc.queue != nil {
				if err != nil {
					t.Fatalf("ReadQueue: %v", err)
				}
				checkQueue(t, items, tc.queue)
			} else {
				if err == nil {
					t.Fatalf("ReadQueue accepted a file that is not a queue: %+v", items)
				}
				if !strings.HasPrefix(err.Error(), `not a Marathon /v2/queue response: the object has no "queue" key`) ||
					!strings.Contains(err.Error(), tc.hint) {
					t.Errorf("ReadQueue error %q does not say it is not a queue and looks like %s", err, tc.hint)
				}
			}

			apps, err := ReadApps(bytes.NewReader(data))
			if tc.apps != nil {
				if err != nil {
					t.Fatalf("ReadApps: %v", err)
				}
				checkApps(t, apps, tc.apps)
			} else {
				if err == nil {
					t.Fatalf("ReadApps accepted a file that is not /v2/apps: %+v", apps)
				}
				if !strings.HasPrefix(err.Error(), `not a Marathon /v2/apps response: the object has no "apps" key`) ||
					!strings.Contains(err.Error(), tc.hint) {
					t.Errorf("ReadApps error %q does not say it is not /v2/apps and looks like %s", err, tc.hint)
				}
			}
		})
	}
}

func TestReadQueueRefusesMesosState(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "fixtures", "master-state", "mesos-1.2.0-dcosui-kafka-marathon-metronome.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("shared Mesos fixture not found at %s: %v", path, err)
	}
	_, err = ReadQueue(bytes.NewReader(data))
	if err == nil || !strings.HasPrefix(err.Error(), "not a Marathon /v2/queue response") ||
		!strings.Contains(err.Error(), "Mesos GET /master/state") {
		t.Errorf("ReadQueue(Mesos state) error = %v, want a not-a-queue error naming the Mesos state", err)
	}
	_, err = ReadApps(bytes.NewReader(data))
	if err == nil || !strings.HasPrefix(err.Error(), "not a Marathon /v2/apps response") {
		t.Errorf("ReadApps(Mesos state) error = %v, want a not-/v2/apps error", err)
	}
}

func TestReadQueueHostnameUnique(t *testing.T) {
	items := readQueueFile(t, testdataFile(t, "queue-hostname-unique.json"))
	checkQueue(t, items, []QueueItem{
		// 3 copies of 0.25 cpus, 64 MiB, 10 MiB disk, one per host, due now (overdue, 0 s
		// left), role "monitoring". processedOffersSummary has no rejectSummaryLastOffers, so no
		// reasons.
		{AppID: "/monitoring/node-exporter", Count: 3, Resources: mesos.Resources{CPUs: 0.25, Mem: 64, Disk: 10},
			Constraints: [][]string{{"hostname", "UNIQUE"}}, AcceptedResourceRoles: []string{"*"},
			Overdue: true, DelaySeconds: 0, Role: "monitoring",
			Since: time.Date(2024, 5, 2, 8, 1, 30, 512e6, time.UTC)},
		// Constraint values sent as numbers and a boolean keep their JSON text; a null value
		// is no value.
		{AppID: "/legacy/cassandra-seed", Count: 2, Resources: mesos.Resources{CPUs: 2, Mem: 8192, Disk: 20480},
			Constraints: [][]string{{"rack_id", "MAX_PER", "1"}, {"zone", "GROUP_BY", "3"}, {"ssd", "CLUSTER", "true"}, {"hostname", "UNIQUE"}},
			Overdue:     false, DelaySeconds: 17,
			Since: time.Date(2024, 5, 2, 7, 59, 2, 4e6, time.UTC)},
	})
}

func TestReadQueueRejectReasons(t *testing.T) {
	items := readQueueFile(t, testdataFile(t, "queue-reject-reasons.json"))
	checkQueue(t, items, []QueueItem{
		// The last offers of 5 agents: 2 declined by the constraints (hostname UNIQUE), 1 for
		// cpus, 2 for memory; reasons with 0 declined are left out.
		{AppID: "/analytics/spark-history", Count: 1, Resources: mesos.Resources{CPUs: 4, Mem: 30720},
			Constraints:           [][]string{{"hostname", "UNIQUE"}, {"instance_family", "LIKE", "r5.*"}},
			AcceptedResourceRoles: []string{"*"}, Overdue: true,
			RejectReasons: map[string]int{"UnfulfilledConstraint": 2, "InsufficientCpus": 1, "InsufficientMemory": 2},
			Since:         time.Date(2024, 5, 2, 9, 12, 44, 20e6, time.UTC)},
		// A summary with an empty list: no reason, but not "absent" either.
		{AppID: "/web/frontend", Count: 4, Resources: mesos.Resources{CPUs: 0.5, Mem: 512}, Overdue: true,
			RejectReasons: map[string]int{}, Since: time.Date(2024, 5, 2, 9, 13, 1, 500e6, time.UTC)},
	})
}

func TestReadQueuePod(t *testing.T) {
	items := readQueueFile(t, testdataFile(t, "queue-pod.json"))
	checkQueue(t, items, []QueueItem{
		// nginx (1 cpu, 256 MiB, 100 MiB disk) + log-shipper (0.25 cpu, 128 MiB, no disk) +
		// executor (0.1 cpu, 32 MiB, 10 MiB disk) = 1.35 cpus, 416 MiB, 110 MiB disk. Object
		// constraints become triples.
		{AppID: "/web/nginx-with-sidecar", Count: 2, Resources: mesos.Resources{CPUs: 1.35, Mem: 416, Disk: 110},
			Constraints:           [][]string{{"hostname", "UNIQUE"}, {"zone", "GROUP_BY", "2"}},
			AcceptedResourceRoles: []string{"*", "web"}, Role: "web", IsPod: true, Overdue: true,
			RejectReasons: map[string]int{"InsufficientCpus": 3},
			Since:         time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)},
		// No executorResources: Marathon's 0.1 cpu, 32 MiB, 10 MiB disk are added to the
		// worker's 0.5 cpu and 64 MiB. Array constraints are accepted on pods too.
		{AppID: "/batch/defaults", Count: 1, Resources: mesos.Resources{CPUs: 0.6, Mem: 96, Disk: 10},
			Constraints: [][]string{{"hostname", "MAX_PER", "2"}}, IsPod: true, Overdue: true},
	})
}

func TestReadQueueDelayAndDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want QueueItem
	}{
		{"no delay is not backed off", `{"queue":[{"count":1,"app":{"id":"/a","cpus":1,"mem":10}}]}`,
			QueueItem{AppID: "/a", Count: 1, Resources: mesos.Resources{CPUs: 1, Mem: 10}, Overdue: true}},
		{"delay without overdue", `{"queue":[{"count":1,"delay":{"timeLeftSeconds":5},"app":{"id":"/a","cpus":1,"mem":10}}]}`,
			QueueItem{AppID: "/a", Count: 1, Resources: mesos.Resources{CPUs: 1, Mem: 10}, DelaySeconds: 5}},
		{"fractional delay rounds up", `{"queue":[{"count":1,"delay":{"timeLeftSeconds":2.5,"overdue":false},"app":{"id":"/a","cpus":1,"mem":10}}]}`,
			QueueItem{AppID: "/a", Count: 1, Resources: mesos.Resources{CPUs: 1, Mem: 10}, DelaySeconds: 3}},
		{"absent amounts take Marathon's defaults", `{"queue":[{"count":0,"app":{"id":"/a"}}]}`,
			QueueItem{AppID: "/a", Count: 0, Resources: mesos.Resources{CPUs: 1, Mem: 128}, Overdue: true}},
		{"gpus", `{"queue":[{"count":2,"app":{"id":"/ml/train","cpus":4,"mem":16384,"disk":0,"gpus":1}}]}`,
			QueueItem{AppID: "/ml/train", Count: 2, Resources: mesos.Resources{CPUs: 4, Mem: 16384, GPUs: 1}, Overdue: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := ReadQueue(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			checkQueue(t, items, []QueueItem{tc.want})
		})
	}
}

func TestReadQueueEmpty(t *testing.T) {
	for _, in := range []string{`{"queue":[]}`, `{"queue":null}`, ` {"queue" : [ ] } ` + "\n"} {
		items, err := ReadQueue(strings.NewReader(in))
		if err != nil {
			t.Errorf("ReadQueue(%s): %v", in, err)
			continue
		}
		if items == nil || len(items) != 0 {
			t.Errorf("ReadQueue(%s) = %v, want an empty, non-nil list", in, items)
		}
	}
}

func TestReadQueueErrors(t *testing.T) {
	own := testdataFile(t, "queue-pod.json")
	app := `"app":{"id":"/a","cpus":1,"mem":10}`
	tests := []struct{ name, in, want string }{
		{"empty", "", "not a Marathon /v2/queue response: empty input"},
		{"truncated", string(own[:len(own)/2]), "reading Marathon /v2/queue response: JSON ends early"},
		{"syntax", `{"queue":[{"count":1,}]}`, "reading Marathon /v2/queue response: invalid JSON at byte"},
		{"array", `[{"count":1}]`, "not a Marathon /v2/queue response: the top-level JSON value is an array, want an object"},
		{"string", `"queue"`, "not a Marathon /v2/queue response: the top-level JSON value is a string"},
		{"empty object", `{}`, `not a Marathon /v2/queue response: the object has no "queue" key (it is an empty object)`},
		{"queue object", `{"queue":{"count":1}}`, `not a Marathon /v2/queue response: "queue" is an object, want an array`},
		{"queue twice", `{"queue":[],"queue":[]}`, `key "queue" appears twice`},
		{"trailing document", `{"queue":[]}{"queue":[]}`, "data after the top-level object"},
		{"trailing garbage", `{"queue":[]} x`, "invalid JSON"},
		{"item not object", `{"queue":[42]}`, "queue item 0: it is a number, want an object"},
		{"neither app nor pod", `{"queue":[{"count":1}]}`, `queue item 0: it has neither "app" nor "pod"`},
		{"both", `{"queue":[{"count":1,` + app + `,"pod":{"id":"/p"}}]}`, `it has both "app" and "pod"`},
		{"no count", `{"queue":[{` + app + `}]}`, `queue item 0: app "/a": no "count"`},
		{"negative count", `{"queue":[{"count":-1,` + app + `}]}`, "count -1 is out of range"},
		{"fractional count", `{"queue":[{"count":1.5,` + app + `}]}`, "count"},
		{"no id", `{"queue":[{"count":1,"app":{"cpus":1}}]}`, "app without id"},
		{"app not object", `{"queue":[{"count":1,"app":"/a"}]}`, "app: it is a string, want an object"},
		{"negative cpus", `{"queue":[{"count":1,"app":{"id":"/a","cpus":-0.5}}]}`, `app "/a": cpus is -0.5, want a non-negative amount`},
		{"cpus as string", `{"queue":[{"count":1,"app":{"id":"/a","cpus":"1"}}]}`, "cpus"},
		{"constraints not array", `{"queue":[{"count":1,"app":{"id":"/a","constraints":"hostname:UNIQUE"}}]}`, "constraints are not an array"},
		{"constraint too short", `{"queue":[{"count":1,"app":{"id":"/a","constraints":[["hostname"]]}}]}`, "constraint 0 has 1 items, want 2 or 3"},
		{"constraint too long", `{"queue":[{"count":1,"app":{"id":"/a","constraints":[["a","LIKE","b","c"]]}}]}`, "constraint 0 has 4 items"},
		{"constraint string", `{"queue":[{"count":1,"app":{"id":"/a","constraints":["hostname:UNIQUE"]}}]}`, "constraint 0 is a string, want an array"},
		{"constraint nested", `{"queue":[{"count":1,"app":{"id":"/a","constraints":[["rack","LIKE",["a"]]]}}]}`, "constraint 0: item 2 is an array"},
		{"constraint null field", `{"queue":[{"count":1,"app":{"id":"/a","constraints":[[null,"UNIQUE"]]}}]}`, "constraint 0: item 0 is null"},
		{"pod without container", `{"queue":[{"count":1,"pod":{"id":"/p","containers":[]}}]}`, `pod "/p" has no container`},
		{"pod without id", `{"queue":[{"count":1,"pod":{"containers":[{"name":"c"}]}}]}`, "pod without id"},
		{"pod negative executor", `{"queue":[{"count":1,"pod":{"id":"/p","containers":[{"name":"c"}],"executorResources":{"mem":-1}}}]}`, "executorResources: mem is -1"},
		{"negative delay", `{"queue":[{"count":1,"delay":{"timeLeftSeconds":-3},` + app + `}]}`, "delay.timeLeftSeconds -3 is out of range"},
		{"bad since", `{"queue":[{"count":1,"since":"yesterday",` + app + `}]}`, `since "yesterday" is not an RFC 3339 time`},
		{"negative declined", `{"queue":[{"count":1,"processedOffersSummary":{"rejectSummaryLastOffers":[{"reason":"InsufficientCpus","declined":-1}]},` + app + `}]}`, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := ReadQueue(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("got %+v and no error, want an error containing %q", items, tc.want)
			}
			if items != nil {
				t.Errorf("got items %+v with the error", items)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestReadAppsSingleApp(t *testing.T) {
	// GET /v2/apps/{id} wraps its app in "app"; Marathon 1.9+ adds "role".
	in := `{"app":{"id":"/infra/prometheus","instances":2,"cpus":1.5,"mem":4096,"disk":1024,"gpus":0,
		"constraints":[["hostname","UNIQUE"]],"role":"infra","tasksRunning":1,"tasksStaged":1,
		"tasks":[{"id":"infra_prometheus.a1","slaveId":"S7","host":"10.0.9.9","state":"TASK_STAGING"}]}}`
	apps := readAppsFile(t, []byte(in))
	checkApps(t, apps, []App{{
		ID: "/infra/prometheus", Instances: 2, Resources: mesos.Resources{CPUs: 1.5, Mem: 4096, Disk: 1024},
		Constraints: [][]string{{"hostname", "UNIQUE"}}, Role: "infra", TasksRunning: 1, TasksStaged: 1,
		Tasks: []Task{{ID: "infra_prometheus.a1", AgentID: "S7", Host: "10.0.9.9", State: "TASK_STAGING"}},
	}})
}

func TestReadAppsEmpty(t *testing.T) {
	apps, err := ReadApps(strings.NewReader(`{"apps":[]}`))
	if err != nil || apps == nil || len(apps) != 0 {
		t.Errorf("ReadApps(no app) = %v, %v; want an empty list and no error", apps, err)
	}
}

func TestReadAppsErrors(t *testing.T) {
	queue := testdataFile(t, "queue-hostname-unique.json")
	tests := []struct{ name, in, want string }{
		{"empty", "", "not a Marathon /v2/apps response: empty input"},
		{"truncated", `{"apps":[{"id":"/a","cpus":0.1`, "reading Marathon /v2/apps response: JSON ends early"},
		{"array", `[{"id":"/a"}]`, "not a Marathon /v2/apps response: the top-level JSON value is an array"},
		{"queue", string(queue), `not a Marathon /v2/apps response: the object has no "apps" key (its keys are "queue"; it looks like a Marathon GET /v2/queue response)`},
		{"apps not array", `{"apps":7}`, `"apps" is a number, want an array`},
		{"no id", `{"apps":[{"instances":1}]}`, "app 0: app without id"},
		{"negative instances", `{"apps":[{"id":"/a","instances":-1}]}`, `app 0: app "/a": instances -1 is out of range`},
		{"negative mem", `{"apps":[{"id":"/a","mem":-128}]}`, "mem is -128"},
		{"negative tasksRunning", `{"apps":[{"id":"/a","tasksRunning":-2}]}`, "tasksRunning -2 is out of range"},
		{"task without id", `{"apps":[{"id":"/a","tasks":[{"host":"h"}]}]}`, "task 0 has no id"},
		{"roles not strings", `{"apps":[{"id":"/a","acceptedResourceRoles":[1]}]}`, "acceptedResourceRoles"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apps, err := ReadApps(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("got %+v and no error, want an error containing %q", apps, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// fuzzSeeds returns the own fixtures and, when present, the shared captures.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"queue-hostname-unique.json", "queue-reject-reasons.json", "queue-pod.json"} {
		seeds = append(seeds, testdataFile(f, name))
	}
	if entries, err := os.ReadDir(sharedDir); err == nil {
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(sharedDir, e.Name())); err == nil {
				seeds = append(seeds, b)
			}
		}
	}
	return append(seeds, []byte(`{"queue":[{"count":1,"app":{"id":"/a","constraints":[["a","LIKE",1]]}}]}`), []byte(`[]`), []byte(`{"app":{"id":"/a"}}`))
}

func validResources(r mesos.Resources) bool {
	for _, v := range []float64{r.CPUs, r.Mem, r.Disk, r.GPUs} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

func validConstraints(cs [][]string) bool {
	for _, c := range cs {
		if len(c) < 2 || len(c) > 3 || c[0] == "" || c[1] == "" {
			return false
		}
	}
	return true
}

func FuzzReadQueue(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ReadQueue(bytes.NewReader(data))
		if err != nil {
			if items != nil {
				t.Errorf("items %+v returned with error %v", items, err)
			}
			return
		}
		for _, q := range items {
			if q.AppID == "" || q.Count < 0 || q.DelaySeconds < 0 || !validResources(q.Resources) || !validConstraints(q.Constraints) {
				t.Errorf("invalid item %+v", q)
			}
			for reason, n := range q.RejectReasons {
				if n <= 0 {
					t.Errorf("reason %q counts %d offers", reason, n)
				}
			}
		}
	})
}

func FuzzReadApps(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		apps, err := ReadApps(bytes.NewReader(data))
		if err != nil {
			if apps != nil {
				t.Errorf("apps %+v returned with error %v", apps, err)
			}
			return
		}
		for _, a := range apps {
			if a.ID == "" || a.Instances < 0 || a.TasksRunning < 0 || a.TasksStaged < 0 ||
				!validResources(a.Resources) || !validConstraints(a.Constraints) {
				t.Errorf("invalid app %+v", a)
			}
			for _, task := range a.Tasks {
				if task.ID == "" {
					t.Errorf("app %s: task without id", a.ID)
				}
			}
		}
	})
}
