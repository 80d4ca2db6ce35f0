package config

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/internal/policy"
)

const crdFile = "crd/bases/lambdascale.io_scalingpolicies.yaml"

// runFlags are the flags of `lambdascale run` that the manifests may use, with whether each
// takes a value. The test cannot run the command tree of package main from here; it checks
// instead that each name is a string literal in cmd/lambdascale (where the flags are defined).
// Add a flag here when the manifests start using it.
var runFlags = map[string]bool{
	"policies":                        true,
	"status-dir":                      true,
	"once":                            false,
	"aws-endpoint-url":                true,
	"v":                               true,
	"log-format":                      true,
	"metrics-bind-address":            true,
	"health-probe-bind-address":       true,
	"leader-elect":                    false,
	"leader-elect-zk-servers":         true,
	"leader-elect-zk-path":            true,
	"leader-elect-zk-session-timeout": true,
	"no-watch":                        false,
}

// The paths the image and the manifests agree on.
const (
	policiesDir = "/etc/lambdascale/policies"
	statusDir   = "/var/lib/lambdascale"
)

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

func get(t *testing.T, doc any, keys ...string) any {
	t.Helper()
	v, ok := lookup(doc, keys...)
	if !ok {
		t.Fatalf("%s is missing", strings.Join(keys, "."))
	}
	return v
}

func str(t *testing.T, doc any, keys ...string) string {
	t.Helper()
	s, ok := get(t, doc, keys...).(string)
	if !ok {
		t.Fatalf("%s is not a string", strings.Join(keys, "."))
	}
	return s
}

// crdSchema returns the CRD and the openAPIV3Schema of its only version.
func crdSchema(t *testing.T) (crd, schema map[string]any) {
	t.Helper()
	crd = readYAML(t, crdFile)
	schema, ok := get(t, crd, "spec", "versions", "0", "schema", "openAPIV3Schema").(map[string]any)
	if !ok {
		t.Fatal("openAPIV3Schema is not an object")
	}
	return crd, schema
}

func TestCRD(t *testing.T) {
	crd, schema := crdSchema(t)
	for _, c := range []struct {
		keys []string
		want string
	}{
		{[]string{"apiVersion"}, "apiextensions.k8s.io/v1"},
		{[]string{"kind"}, "CustomResourceDefinition"},
		{[]string{"metadata", "name"}, "scalingpolicies.lambdascale.io"},
		{[]string{"spec", "group"}, v1alpha1.GroupVersion.Group},
		{[]string{"spec", "names", "kind"}, v1alpha1.Kind},
		{[]string{"spec", "names", "plural"}, "scalingpolicies"},
		{[]string{"spec", "scope"}, "Namespaced"},
		{[]string{"spec", "versions", "0", "name"}, v1alpha1.GroupVersion.Version},
	} {
		if got := str(t, crd, c.keys...); got != c.want {
			t.Errorf("%s = %q, want %q", strings.Join(c.keys, "."), got, c.want)
		}
	}
	if versions := get(t, crd, "spec", "versions").([]any); len(versions) != 1 {
		t.Errorf("%d versions, want 1", len(versions))
	}
	if served, storage := get(t, crd, "spec", "versions", "0", "served"), get(t, crd, "spec", "versions", "0", "storage"); served != true || storage != true {
		t.Errorf("served %v storage %v, want both true", served, storage)
	}
	if status, ok := get(t, crd, "spec", "versions", "0", "subresources", "status").(map[string]any); !ok || len(status) != 0 {
		t.Errorf("subresources.status = %v, want {}", status)
	}

	// The markers of scaleUpPercent: +kubebuilder:default=80, Minimum=1, Maximum=100.
	up, ok := propertySchema(schema, "spec.utilization.scaleUpPercent")
	if !ok {
		t.Fatal("spec.utilization.scaleUpPercent is not in the schema")
	}
	if up["type"] != "integer" || up["minimum"] != 1.0 || up["maximum"] != 100.0 || up["default"] != float64(v1alpha1.DefaultScaleUpPercent) {
		t.Errorf("scaleUpPercent schema %v, want integer, minimum 1, maximum 100, default %d", up, v1alpha1.DefaultScaleUpPercent)
	}
	for dotted, want := range map[string][]any{
		"spec.mode":                         {"Enforce", "DryRun"},
		"spec.scaleDown.policy":             {"Enabled", "Disabled"},
		"spec.scaleDown.drainTimeoutAction": {"Abort", "Force"},
	} {
		s, ok := propertySchema(schema, dotted)
		if got, _ := s["enum"].([]any); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s enum %v, want %v", dotted, got, want)
		}
	}
	if spec, _ := propertySchema(schema, "spec"); !slices.Equal(asStrings(spec["required"]), []string{"autoScalingGroup", "mesos"}) {
		t.Errorf("spec.required = %v", spec["required"])
	}
	if got := asStrings(schema["required"]); !slices.Contains(got, "spec") {
		t.Errorf("required = %v, want spec among them", got)
	}
}

// TestCRDDefaultsMatchSetDefaults: a minimal policy defaulted by the schema (as the API server
// would) is the policy SetDefaults makes of it, so every default marker agrees with
// api/v1alpha1/defaults.go and none is missing.
func TestCRDDefaultsMatchSetDefaults(t *testing.T) {
	_, schema := crdSchema(t)
	minimal := `apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata: {name: minimal}
spec:
  mesos: {masters: ["http://10.0.0.5:5050"]}
  autoScalingGroup: {name: mesos-agents-general}
`
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(minimal), &doc); err != nil {
		t.Fatal(err)
	}
	applyDefaults(schema, doc)
	if errs := validate(schema, doc, ""); len(errs) > 0 {
		t.Fatalf("the defaulted policy does not validate: %v", errs)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var byCRD v1alpha1.ScalingPolicy
	if err := json.Unmarshal(b, &byCRD); err != nil {
		t.Fatal(err)
	}
	loaded, errs := policy.LoadData("minimal.yaml", []byte(minimal))
	if len(errs) > 0 || len(loaded) != 1 {
		t.Fatalf("LoadData: %v", errs)
	}
	byGo := loaded[0].Policy.Spec
	if !apiequality.Semantic.DeepEqual(byCRD.Spec, byGo) {
		crdJSON, _ := json.Marshal(byCRD.Spec)
		goJSON, _ := json.Marshal(byGo)
		t.Errorf("CRD defaults and SetDefaults disagree:\nCRD: %s\nGo:  %s", crdJSON, goJSON)
	}
}

// samplePolicies returns every policy document of config/samples and the ConfigMap of
// config/manager, by name.
func samplePolicies(t *testing.T) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{}
	files, err := filepath.Glob("samples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = b
	}
	cm := readYAML(t, "manager/configmap.yaml")
	for k, v := range get(t, cm, "data").(map[string]any) {
		docs["manager/configmap.yaml data."+k] = []byte(v.(string))
	}
	return docs
}

// TestSamplesValidateAgainstCRD: every sample policy (and the manager's ConfigMap) passes the
// CRD's schema and the controller's own loader.
func TestSamplesValidateAgainstCRD(t *testing.T) {
	_, schema := crdSchema(t)
	docs := samplePolicies(t)
	if len(docs) < 3 {
		t.Fatalf("%d policies, want the 2 samples and the ConfigMap's", len(docs))
	}
	for name, b := range docs {
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if errs := validate(schema, doc, ""); len(errs) > 0 {
			t.Errorf("%s does not validate against the CRD:\n  %s", name, strings.Join(errs, "\n  "))
		}
		if doc["apiVersion"] != v1alpha1.GroupVersion.String() || doc["kind"] != v1alpha1.Kind {
			t.Errorf("%s: apiVersion %v kind %v", name, doc["apiVersion"], doc["kind"])
		}
		if _, errs := policy.LoadData(name, b); len(errs) > 0 {
			t.Errorf("%s does not load: %v", name, errs)
		}
	}
}

// TestCRDRejects: the schema rejects what the controller's loader rejects, for each kind of
// rule the markers express. Each case changes the general sample in one place.
func TestCRDRejects(t *testing.T) {
	_, schema := crdSchema(t)
	sample, err := os.ReadFile("samples/general.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(spec map[string]any)
		want   string
	}{
		{"unknown field", func(s map[string]any) { s["utilization"].(map[string]any)["scaleUpPercnt"] = 80.0 }, ".spec.utilization.scaleUpPercnt: unknown field"},
		{"required field", func(s map[string]any) { delete(s["autoScalingGroup"].(map[string]any), "name") }, ".spec.autoScalingGroup.name: required"},
		{"enum", func(s map[string]any) { s["mode"] = "Enforcing" }, ".spec.mode: Enforcing is not one of"},
		{"enum of list items", func(s map[string]any) { s["utilization"].(map[string]any)["resources"] = []any{"cpus", "memory"} }, ".spec.utilization.resources[1]: memory is not one of"},
		{"type", func(s map[string]any) { s["minNodes"] = "1" }, ".spec.minNodes: must be an integer"},
		{"maximum", func(s map[string]any) { s["utilization"].(map[string]any)["scaleUpPercent"] = 101.0 }, ".spec.utilization.scaleUpPercent: 101 is above the maximum 100"},
		{"minimum", func(s map[string]any) { s["intervalSeconds"] = 0.0 }, ".spec.intervalSeconds: 0 is below the minimum 1"},
		{"pattern", func(s map[string]any) { s["mesos"].(map[string]any)["masters"] = []any{"10.0.0.5:5050"} }, `.spec.mesos.masters[0]: "10.0.0.5:5050" does not match`},
		{"quantity", func(s map[string]any) { s["nodeShape"].(map[string]any)["cpus"] = "eight" }, `.spec.nodeShape.cpus: "eight" does not match`},
		{"set", func(s map[string]any) { s["utilization"].(map[string]any)["resources"] = []any{"cpus", "cpus"} }, ".spec.utilization.resources: duplicate item cpus"},
		{"empty list", func(s map[string]any) { s["mesos"].(map[string]any)["masters"] = []any{} }, ".spec.mesos.masters: fewer than 1 items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := yaml.Unmarshal(sample, &doc); err != nil {
				t.Fatal(err)
			}
			tc.change(doc["spec"].(map[string]any))
			errs := validate(schema, doc, "")
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tc.want) }) {
				t.Errorf("schema errors %v, want one containing %q", errs, tc.want)
			}
			b, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if _, errs := policy.LoadData("changed.yaml", b); len(errs) == 0 {
				t.Error("the controller's loader accepts what the CRD rejects")
			}
		})
	}
}

// TestDeepCopy: the generated DeepCopy copies everything and shares nothing.
func TestDeepCopy(t *testing.T) {
	loaded, errs := policy.Load("samples/general.yaml")
	if len(errs) > 0 || len(loaded) != 1 {
		t.Fatalf("load: %v", errs)
	}
	orig := loaded[0].Policy
	orig.Status.Conditions = nil
	orig.Status.LastDecision = &v1alpha1.DecisionSummary{Direction: "ScaleUp", Reasons: []v1alpha1.Reason{{Reason: "PendingTasks"}}}
	cp := orig.DeepCopy()
	if !apiequality.Semantic.DeepEqual(orig, cp) {
		t.Fatal("the copy differs from the original")
	}
	if obj, ok := orig.DeepCopyObject().(*v1alpha1.ScalingPolicy); !ok || obj == orig || obj.Name != "general" {
		t.Errorf("DeepCopyObject = %#v", obj)
	}
	cp.Spec.Mesos.Masters[0] = "http://changed:5050"
	*cp.Spec.MinNodes = 7
	cp.Spec.Mesos.AgentSelector.MatchAttributes["pool"] = "changed"
	cp.Spec.ScaleDown.ProtectedApplications[0] = "/changed/"
	cp.Status.LastDecision.Reasons[0].Reason = "Changed"
	if orig.Spec.Mesos.Masters[0] == "http://changed:5050" || *orig.Spec.MinNodes == 7 ||
		orig.Spec.Mesos.AgentSelector.MatchAttributes["pool"] == "changed" ||
		orig.Spec.ScaleDown.ProtectedApplications[0] == "/changed/" || orig.Status.LastDecision.Reasons[0].Reason == "Changed" {
		t.Error("changing the copy changed the original")
	}
}

// parseArgs splits `run ...` arguments into flag values (booleans as "true"), failing on
// a flag runFlags does not list or one that lacks its value.
func parseArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("args %v do not start with the run command", args)
	}
	flags := map[string]string{}
	for i := 1; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(args[i], "--"), "=")
		takesValue, known := runFlags[name]
		switch {
		case !strings.HasPrefix(args[i], "--"):
			t.Errorf("argument %q is not a --flag", args[i])
			continue
		case !known:
			t.Errorf("flag --%s is not a flag of lambdascale run", name)
		case takesValue && !hasValue:
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
				t.Errorf("flag --%s needs a value", name)
				continue
			}
			i++
			value = args[i]
		case !takesValue && !hasValue:
			value = "true"
		}
		flags[name] = value
	}
	return flags
}

// portOf returns the port of a bind address such as ":8081".
func portOf(t *testing.T, addr string) int {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	port, err := strconv.Atoi(addr[i+1:])
	if i < 0 || err != nil {
		t.Fatalf("bind address %q has no port", addr)
	}
	return port
}

func asInt(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// TestRunFlagsExist: every flag the manifests may use is defined by cmd/lambdascale (its name
// is a string literal there).
func TestRunFlagsExist(t *testing.T) {
	files, err := filepath.Glob("../cmd/lambdascale/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	literals := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					literals[s] = true
				}
			}
			return true
		})
	}
	for _, name := range sortedKeys(runFlags) {
		if !literals[name] {
			t.Errorf("flag --%s is not defined in cmd/lambdascale", name)
		}
	}
}

func TestDeployment(t *testing.T) {
	d := readYAML(t, "manager/deployment.yaml")
	if d["apiVersion"] != "apps/v1" || d["kind"] != "Deployment" {
		t.Fatalf("apiVersion %v kind %v", d["apiVersion"], d["kind"])
	}
	pod := get(t, d, "spec", "template", "spec").(map[string]any)
	if _, ok := pod["serviceAccountName"]; ok {
		t.Error("the pod names a ServiceAccount; the controller needs none")
	}
	if pod["automountServiceAccountToken"] != false {
		t.Error("automountServiceAccountToken is not false")
	}
	selector := get(t, d, "spec", "selector", "matchLabels").(map[string]any)
	labels := get(t, d, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range selector {
		if labels[k] != v {
			t.Errorf("selector %s=%v does not select the pod's labels %v", k, v, labels)
		}
	}
	containers := get(t, pod, "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0].(map[string]any)
	flags := parseArgs(t, asStrings(c["args"]))
	if flags["policies"] != policiesDir || flags["status-dir"] != statusDir || flags["leader-elect"] != "true" ||
		flags["leader-elect-zk-servers"] == "" || flags["leader-elect-zk-path"] == "" {
		t.Errorf("args %v", flags)
	}
	if _, ok := flags["once"]; ok {
		t.Error("a Deployment's controller must not run --once (it would exit and restart)")
	}

	// Ports: named metrics and health, at the ports of the bind-address flags.
	ports := map[string]int{}
	for _, p := range get(t, c, "ports").([]any) {
		pm := p.(map[string]any)
		ports[pm["name"].(string)] = asInt(pm["containerPort"])
	}
	metricsPort, probePort := portOf(t, flags["metrics-bind-address"]), portOf(t, flags["health-probe-bind-address"])
	if ports["metrics"] != metricsPort || ports["health"] != probePort {
		t.Errorf("container ports %v, want metrics %d and health %d from the flags", ports, metricsPort, probePort)
	}
	resolve := func(port any) int { // a probe's port: a number or a container port's name
		if name, ok := port.(string); ok {
			return ports[name]
		}
		return asInt(port)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got := str(t, c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %q, want %q", probe, got, path)
		}
		if got := resolve(get(t, c, probe, "httpGet", "port")); got != probePort {
			t.Errorf("%s port %d, want %d (--health-probe-bind-address)", probe, got, probePort)
		}
	}

	// Security: non-root, read-only root, no privilege escalation, no capabilities, seccomp.
	sc := get(t, c, "securityContext").(map[string]any)
	if sc["runAsNonRoot"] != true || sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false {
		t.Errorf("container securityContext %v", sc)
	}
	if drop := asStrings(get(t, sc, "capabilities", "drop")); !slices.Equal(drop, []string{"ALL"}) {
		t.Errorf("capabilities.drop %v, want [ALL]", drop)
	}
	if str(t, sc, "seccompProfile", "type") != "RuntimeDefault" {
		t.Error("seccompProfile is not RuntimeDefault")
	}
	if get(t, pod, "securityContext", "runAsNonRoot") != true || asInt(get(t, pod, "securityContext", "runAsUser")) != 65532 {
		t.Errorf("pod securityContext %v, want runAsNonRoot and the image's user 65532", pod["securityContext"])
	}

	// Resources: requests and limits for cpu and memory.
	for _, kind := range []string{"requests", "limits"} {
		for _, r := range []string{"cpu", "memory"} {
			if s, ok := get(t, c, "resources", kind).(map[string]any)[r].(string); !ok || s == "" {
				t.Errorf("resources.%s.%s is not set", kind, r)
			}
		}
	}

	// Volumes: policies from the ConfigMap at --policies (read-only), status on a PVC or an
	// emptyDir at --status-dir.
	volumes := map[string]map[string]any{}
	for _, v := range get(t, pod, "volumes").([]any) {
		vm := v.(map[string]any)
		volumes[vm["name"].(string)] = vm
	}
	mounts := map[string]map[string]any{}
	for _, m := range get(t, c, "volumeMounts").([]any) {
		mm := m.(map[string]any)
		mounts[mm["mountPath"].(string)] = mm
	}
	pm, ok := mounts[flags["policies"]]
	if !ok || pm["readOnly"] != true {
		t.Fatalf("no read-only volume mounted at --policies %s: %v", flags["policies"], mounts)
	}
	cm := readYAML(t, "manager/configmap.yaml")
	if name, _ := lookup(volumes[pm["name"].(string)], "configMap", "name"); name != str(t, cm, "metadata", "name") {
		t.Errorf("the policies volume is not the ConfigMap %s of configmap.yaml: %v", str(t, cm, "metadata", "name"), volumes[pm["name"].(string)])
	}
	sm, ok := mounts[flags["status-dir"]]
	if !ok || sm["readOnly"] == true {
		t.Fatalf("no writable volume mounted at --status-dir %s: %v", flags["status-dir"], mounts)
	}
	status := volumes[sm["name"].(string)]
	claim, isPVC := lookup(status, "persistentVolumeClaim", "claimName")
	_, isEmptyDir := status["emptyDir"]
	switch {
	case isPVC:
		if pvc := readYAML(t, "manager/pvc.yaml"); claim != str(t, pvc, "metadata", "name") || pvc["kind"] != "PersistentVolumeClaim" {
			t.Errorf("the status claim %v is not the one of pvc.yaml", claim)
		}
		if get(t, d, "spec", "strategy", "type") != "Recreate" {
			t.Error("a ReadWriteOnce status volume needs the Recreate strategy (the new pod cannot mount it while the old one runs)")
		}
		if asInt(get(t, pod, "securityContext", "fsGroup")) != 65532 {
			t.Error("the status volume is not made writable for the non-root user (fsGroup 65532)")
		}
	case !isEmptyDir:
		t.Errorf("the status volume %v is neither a PVC nor an emptyDir", status)
	}

	// The image is the one the kustomization sets.
	k := readYAML(t, "manager/kustomization.yaml")
	if img := str(t, c, "image"); !strings.HasPrefix(img, str(t, k, "images", "0", "name")+":") {
		t.Errorf("image %q is not the kustomization's %v", img, k["images"])
	}
}

func TestKustomizations(t *testing.T) {
	for _, dir := range []string{"crd", "manager"} {
		k := readYAML(t, filepath.Join(dir, "kustomization.yaml"))
		if k["kind"] != "Kustomization" {
			t.Errorf("%s: kind %v", dir, k["kind"])
		}
		res := asStrings(k["resources"])
		if len(res) == 0 {
			t.Errorf("%s: no resources", dir)
		}
		for _, r := range res {
			if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
				t.Errorf("%s: resource %s: %v", dir, r, err)
			}
		}
	}
	// Every manifest of config/manager is in its kustomization.
	k := readYAML(t, "manager/kustomization.yaml")
	files, _ := filepath.Glob("manager/*.yaml")
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(asStrings(k["resources"]), base) {
			t.Errorf("manager/kustomization.yaml leaves out %s", base)
		}
	}
}

func TestMarathonApp(t *testing.T) {
	b, err := os.ReadFile("manager/marathon-app.json")
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]any
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatal(err)
	}
	if app["id"] != "/lambdascale" || asInt(app["instances"]) != 2 {
		t.Errorf("id %v instances %v", app["id"], app["instances"])
	}
	if str(t, app, "container", "type") != "DOCKER" || str(t, app, "container", "docker", "image") == "" {
		t.Errorf("container %v", app["container"])
	}
	flags := parseArgs(t, asStrings(app["args"]))
	deployment := readYAML(t, "manager/deployment.yaml")
	if want := parseArgs(t, asStrings(get(t, deployment, "spec", "template", "spec", "containers", "0", "args"))); !reflect.DeepEqual(flags, want) {
		t.Errorf("Marathon args %v, Deployment args %v: want the same", flags, want)
	}
	if !reflect.DeepEqual(app["constraints"], []any{[]any{"hostname", "UNIQUE"}}) {
		t.Errorf("constraints %v, want [[hostname UNIQUE]]", app["constraints"])
	}
	if region, _ := lookup(app, "env", "AWS_REGION"); region == "" || region == nil {
		t.Error("env has no AWS_REGION")
	}

	// Ports: metrics and health mappings at the flags' ports; the health check on the latter.
	mappings := get(t, app, "container", "portMappings").([]any)
	byName := map[string]int{}
	for _, m := range mappings {
		mm := m.(map[string]any)
		byName[mm["name"].(string)] = asInt(mm["containerPort"])
	}
	probePort := portOf(t, flags["health-probe-bind-address"])
	if byName["metrics"] != portOf(t, flags["metrics-bind-address"]) || byName["health"] != probePort {
		t.Errorf("port mappings %v", byName)
	}
	checks := get(t, app, "healthChecks").([]any)
	if len(checks) != 1 {
		t.Fatalf("%d health checks, want 1", len(checks))
	}
	hc := checks[0].(map[string]any)
	idx := asInt(hc["portIndex"])
	if hc["protocol"] != "HTTP" || hc["path"] != "/healthz" || idx < 0 || idx >= len(mappings) ||
		asInt(mappings[idx].(map[string]any)["containerPort"]) != probePort {
		t.Errorf("health check %v, want HTTP /healthz on the mapping of port %d", hc, probePort)
	}

	// Volumes: policies (fetched into the sandbox) at --policies, status at --status-dir.
	mounts := map[string]string{} // container path: source
	for _, v := range get(t, app, "container", "volumes").([]any) {
		vm := v.(map[string]any)
		mounts[vm["containerPath"].(string)] = vm["hostPath"].(string)
	}
	for _, p := range get(t, app, "container", "docker", "parameters").([]any) {
		pm := p.(map[string]any)
		if pm["key"] == "volume" {
			src, dst, _ := strings.Cut(pm["value"].(string), ":")
			mounts[dst] = src
		}
	}
	if src, ok := mounts[flags["policies"]]; !ok || filepath.IsAbs(src) {
		t.Errorf("no sandbox volume at --policies %s: %v", flags["policies"], mounts)
	} else if fetch, _ := app["fetch"].([]any); len(fetch) == 0 || get(t, fetch, "0", "extract") != true {
		t.Error("the policies volume comes from the sandbox, but nothing is fetched and extracted into it")
	}
	if _, ok := mounts[flags["status-dir"]]; !ok {
		t.Errorf("no volume at --status-dir %s: %v", flags["status-dir"], mounts)
	}
}

// dockerfile returns the Dockerfile's instructions, one string each ("RUN go build ...").
func dockerfile(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for cont := false; sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont {
			lines[len(lines)-1] += " " + strings.TrimSuffix(line, "\\")
		} else {
			lines = append(lines, strings.TrimSuffix(line, "\\"))
		}
		cont = strings.HasSuffix(line, "\\")
	}
	return lines
}

// TestDockerfile: the image builds with the command `make build-static` runs (so CI exercises
// it without a Docker engine), with the Go of go.mod, into a distroless non-root image whose
// default arguments are the manifests' paths.
func TestDockerfile(t *testing.T) {
	instrs := dockerfile(t)
	var buildCmd string
	var froms []string
	var user, entrypoint, cmd string
	for _, in := range instrs {
		op, rest, _ := strings.Cut(in, " ")
		switch strings.ToUpper(op) {
		case "FROM":
			froms = append(froms, rest)
		case "RUN":
			if strings.Contains(rest, "go build") {
				buildCmd = rest
			}
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entrypoint = rest
		case "CMD":
			cmd = rest
		}
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var goVersion string
	for _, l := range strings.Split(string(gomod), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			parts := strings.Split(strings.TrimSpace(v), ".")
			goVersion = parts[0] + "." + parts[1]
		}
	}
	if len(froms) != 2 || froms[0] != "golang:"+goVersion+" AS build" || froms[1] != "gcr.io/distroless/static:nonroot" {
		t.Errorf("stages %q, want golang:%s AS build, then gcr.io/distroless/static:nonroot", froms, goVersion)
	}
	if user != "65532:65532" {
		t.Errorf("USER %q", user)
	}
	var ep, args []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || !slices.Equal(ep, []string{"/lambdascale"}) {
		t.Errorf("ENTRYPOINT %s", entrypoint)
	}
	if err := json.Unmarshal([]byte(cmd), &args); err != nil {
		t.Fatalf("CMD %s: %v", cmd, err)
	}
	if flags := parseArgs(t, args); len(flags) != 2 || flags["policies"] != policiesDir || flags["status-dir"] != statusDir {
		t.Errorf("CMD %v", args)
	}

	const want = `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/lambdascale-linux ./cmd/lambdascale`
	if buildCmd != want {
		t.Errorf("the Dockerfile's build command is\n  %s\nwant\n  %s", buildCmd, want)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var recipe []string
	inTarget := false
	for _, l := range strings.Split(string(makefile), "\n") {
		switch {
		case strings.HasPrefix(l, "build-static:") && strings.Contains(l, "##"):
			inTarget = true
		case inTarget && strings.HasPrefix(l, "\t"):
			recipe = append(recipe, strings.TrimSpace(l))
		case inTarget:
			inTarget = false
		}
	}
	if len(recipe) == 0 || recipe[0] != buildCmd {
		t.Errorf("make build-static runs %q, not the Dockerfile's %q", recipe, buildCmd)
	}
	// The binary copied into the image is the one built.
	if !slices.Contains(instrs, "COPY --from=build /src/bin/lambdascale-linux /lambdascale") {
		t.Error("the final stage does not copy bin/lambdascale-linux to /lambdascale")
	}
}

// TestDockerignoreKeepsSources: the build context keeps go.mod, go.sum and every non-test Go
// file, whatever .dockerignore leaves out.
func TestDockerignoreKeepsSources(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf("the test does not handle the exception %q: extend ignored()", l)
		}
		patterns = append(patterns, strings.TrimPrefix(l, "/"))
	}
	ignored := func(path string) bool { // path relative to the context, with '/'
		parts := strings.Split(path, "/")
		for _, p := range patterns {
			for end := 1; end <= len(parts); end++ { // path or one of its directories
				prefix := strings.Join(parts[:end], "/")
				if rest, ok := strings.CutPrefix(p, "**/"); ok {
					for start := 0; start < end; start++ {
						if m, _ := filepath.Match(rest, strings.Join(parts[start:end], "/")); m {
							return true
						}
					}
				} else if m, _ := filepath.Match(p, prefix); m {
					return true
				}
			}
		}
		return false
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if ignored(f) {
			t.Errorf(".dockerignore leaves out %s", f)
		}
	}
	if !ignored(".git/config") || !ignored("bin/lambdascale") || !ignored("internal/policy/load_test.go") {
		t.Error("the matcher or .dockerignore is wrong: .git, bin or tests are in the context")
	}
	sources := 0
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && (rel == ".git" || rel == "bin" || strings.HasSuffix(rel, "/testdata") || rel == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			sources++
			if ignored(rel) {
				t.Errorf(".dockerignore leaves out %s, which the build may need", rel)
			}
		}
		return nil
	})
	if err != nil || sources < 10 {
		t.Fatalf("walked %d Go files: %v", sources, err)
	}
}

// What follows is a small structural validator for the CRD's openAPIV3Schema, enough to check
// policies the way the Kubernetes API server's schema validation would: types, unknown fields
// (the schema does not preserve unknown fields), required fields, enums, patterns, bounds, list
// sets, and defaulting. It does not evaluate the x-kubernetes-validations CEL rules, and it
// accepts any metadata (the API server validates ObjectMeta itself).

// validate returns every way v breaks schema, each prefixed with its field path.
func validate(schema map[string]any, v any, path string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if b, _ := schema["x-kubernetes-int-or-string"].(bool); b {
		switch x := v.(type) {
		case string:
			if p, ok := schema["pattern"].(string); ok && !matches(p, x) {
				fail("%q does not match %s", x, p)
			}
		case float64:
			if x != math.Trunc(x) {
				fail("%v is not an integer", x)
			}
		default:
			fail("must be an integer or a string, not %T", v)
		}
		return errs
	}
	if enum, ok := schema["enum"].([]any); ok && (!isScalar(v) || !slices.Contains(enum, v)) {
		fail("%v is not one of %v", v, enum)
	}
	switch t, _ := schema["type"].(string); t {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			fail("must be an object, not %T", v)
			return errs
		}
		props, hasProps := schema["properties"].(map[string]any)
		additional, hasAdditional := schema["additionalProperties"].(map[string]any)
		preserve, _ := schema["x-kubernetes-preserve-unknown-fields"].(bool)
		if !hasProps && !hasAdditional && path == ".metadata" {
			return errs // ObjectMeta: validated by the API server, not by the schema
		}
		for _, k := range sortedKeys(obj) {
			switch {
			case hasProps && props[k] != nil:
				errs = append(errs, validate(props[k].(map[string]any), obj[k], path+"."+k)...)
			case hasAdditional:
				errs = append(errs, validate(additional, obj[k], path+"."+k)...)
			case !preserve:
				errs = append(errs, fmt.Sprintf("%s.%s: unknown field", path, k))
			}
		}
		for _, r := range asStrings(schema["required"]) {
			if _, ok := obj[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: required", path, r))
			}
		}
		if n, ok := schema["maxProperties"].(float64); ok && float64(len(obj)) > n {
			fail("more than %v properties", n)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			fail("must be an array, not %T", v)
			return errs
		}
		if n, ok := schema["minItems"].(float64); ok && float64(len(arr)) < n {
			fail("fewer than %v items", n)
		}
		if n, ok := schema["maxItems"].(float64); ok && float64(len(arr)) > n {
			fail("more than %v items", n)
		}
		if lt, _ := schema["x-kubernetes-list-type"].(string); lt == "set" {
			for i := range arr {
				if isScalar(arr[i]) && slices.Contains(arr[:i], arr[i]) {
					fail("duplicate item %v in a set", arr[i])
				}
			}
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, item := range arr {
				errs = append(errs, validate(items, item, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			fail("must be a string, not %T", v)
			return errs
		}
		if p, ok := schema["pattern"].(string); ok && !matches(p, s) {
			fail("%q does not match %s", s, p)
		}
		if n, ok := schema["minLength"].(float64); ok && float64(len(s)) < n {
			fail("shorter than %v", n)
		}
		if n, ok := schema["maxLength"].(float64); ok && float64(len(s)) > n {
			fail("longer than %v", n)
		}
	case "integer":
		n, ok := v.(float64)
		if !ok || n != math.Trunc(n) {
			fail("must be an integer, not %T %v", v, v)
			return errs
		}
		if lo, ok := schema["minimum"].(float64); ok && n < lo {
			fail("%v is below the minimum %v", n, lo)
		}
		if hi, ok := schema["maximum"].(float64); ok && n > hi {
			fail("%v is above the maximum %v", n, hi)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("must be a boolean, not %T", v)
		}
	case "":
	default:
		fail("the test's validator does not know schema type %q", t)
	}
	return errs
}

// applyDefaults fills, top-down as the API server does, every absent property that has a
// default in schema; a defaulted object gets its own properties' defaults too. It changes v in
// place and returns it.
func applyDefaults(schema map[string]any, v any) any {
	switch x := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, k := range sortedKeys(props) {
			ps := props[k].(map[string]any)
			if _, ok := x[k]; !ok {
				if d, ok := ps["default"]; ok {
					x[k] = deepCopyJSON(d)
				}
			}
			if _, ok := x[k]; ok {
				x[k] = applyDefaults(ps, x[k])
			}
		}
		if additional, ok := schema["additionalProperties"].(map[string]any); ok {
			for k := range x {
				x[k] = applyDefaults(additional, x[k])
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i := range x {
				x[i] = applyDefaults(items, x[i])
			}
		}
	}
	return v
}

// isScalar reports whether v is a JSON string, number or boolean (comparable with ==).
func isScalar(v any) bool {
	switch v.(type) {
	case string, float64, bool:
		return true
	}
	return false
}

// matches reports whether s matches the schema pattern p; an invalid pattern matches nothing.
func matches(p, s string) bool {
	re, err := regexp.Compile(p)
	return err == nil && re.MatchString(s)
}

func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopyJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyJSON(e)
		}
		return out
	}
	return v
}

// lookup walks a decoded document along keys (map keys, or "0", "1"... for list items).
func lookup(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// propertySchema returns the schema of the property at a dotted path ("spec.utilization").
func propertySchema(schema map[string]any, dotted string) (map[string]any, bool) {
	for _, k := range strings.Split(dotted, ".") {
		props, ok := schema["properties"].(map[string]any)
		if !ok {
			return nil, false
		}
		if schema, ok = props[k].(map[string]any); !ok {
			return nil, false
		}
	}
	return schema, true
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
