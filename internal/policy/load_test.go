package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
)

// names lists "location name" for each loaded policy.
func names(loaded []Loaded) []string {
	out := make([]string, len(loaded))
	for i, l := range loaded {
		out[i] = l.Location() + " " + l.Policy.Name
	}
	return out
}

func assertErrors(t *testing.T, errs []error, want []string) {
	t.Helper()
	got := errorStrings(errs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func assertLoaded(t *testing.T, loaded []Loaded, want []string) {
	t.Helper()
	if got := names(loaded); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("loaded =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestLoadDirectory(t *testing.T) {
	// valid/ also holds a hidden file, a .txt file and a subdirectory, all broken: none is read.
	loaded, errs := Load("testdata/valid")
	assertErrors(t, errs, nil)
	assertLoaded(t, loaded, []string{
		"testdata/valid/general.yaml general",
		"testdata/valid/pools.yaml (document 1) web",
		"testdata/valid/pools.yaml (document 2) gpu",
	})
	if len(loaded) != 3 {
		t.FailNow()
	}

	general := loaded[0]
	if general.Document != 1 || general.Documents != 1 {
		t.Errorf("general: document %d of %d, want 1 of 1", general.Document, general.Documents)
	}
	want, err := os.ReadFile("testdata/valid/general.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(general.Source, want) {
		t.Errorf("general: Source is not the file's text:\n%s", general.Source)
	}
	// Defaults are explicit in the loaded policy.
	s := general.Policy.Spec
	if s.MinNodes == nil || *s.MinNodes != 1 || s.MaxNodes == nil || *s.MaxNodes != 100 ||
		s.Mesos.Role != "*" || s.Mode != v1alpha1.ModeEnforce || s.IntervalSeconds == nil || *s.IntervalSeconds != 60 {
		t.Errorf("general: defaults not applied: %+v", s)
	}

	web, gpu := loaded[1], loaded[2]
	if web.Document != 1 || gpu.Document != 2 || gpu.Documents != 2 {
		t.Errorf("documents: web %d/%d, gpu %d/%d; want 1/2 and 2/2", web.Document, web.Documents, gpu.Document, gpu.Documents)
	}
	if !bytes.HasPrefix(gpu.Source, []byte("---\napiVersion:")) {
		t.Errorf("gpu: Source starts %q, want its own document", gpu.Source[:min(len(gpu.Source), 20)])
	}
	r := gpu.Policy.Spec.Resolved()
	if r.Role != "ml" || !reflect.DeepEqual(r.Resources, []string{"gpus"}) || r.ScaleUpPercent != 95 ||
		r.ScaleDownPercent != 10 || r.ApplicationHeadroomPercent != 0 || r.ScaleDownEnabled || !r.DryRun ||
		r.MinNodes != 1 || r.MaxNodes != 100 {
		t.Errorf("gpu settings = %+v", r)
	}
	// 244Gi = 244·1024 MiB = 249856 MiB.
	if sh := r.NodeShape; sh.CPUs != 32 || sh.MemMiB != 249856 || sh.GPUs != 8 || sh.IsSpecified("disk") {
		t.Errorf("gpu node shape = %+v", sh)
	}
	if r := web.Policy.Spec.Resolved(); r.MinNodes != 2 || r.MaxNodes != 20 || r.Region != "eu-west-1" ||
		!reflect.DeepEqual(r.MatchAttributes, map[string]string{"pool": "web"}) || len(r.Masters) != 2 {
		t.Errorf("web settings = %+v", r)
	}
}

func TestLoadUnknownFields(t *testing.T) {
	loaded, errs := Load("testdata/unknown-field.yaml")
	assertLoaded(t, loaded, nil)
	assertErrors(t, errs, []string{
		`testdata/unknown-field.yaml: spec.mesos.agentSelecter: unknown field: did you mean "agentSelector"?`,
		`testdata/unknown-field.yaml: spec.utilization.scaleUpPrecent: unknown field: did you mean "scaleUpPercent"?`,
		"testdata/unknown-field.yaml: spec.colour: unknown field: the fields here are mesos, autoScalingGroup, minNodes, " +
			"maxNodes, nodeShape, utilization, applicationHeadroomPercent, scaleUp, scaleDown, intervalSeconds, mode",
	})
	var e *Error
	if len(errs) == 0 || !errors.As(errs[0], &e) {
		t.Fatalf("first error %v is not a *Error", errs)
	}
	want := Error{File: "testdata/unknown-field.yaml", Policy: "typos", Field: "spec.mesos.agentSelecter",
		Detail: `unknown field: did you mean "agentSelector"?`}
	if *e != want {
		t.Errorf("first error = %#v, want %#v", *e, want)
	}
}

func TestLoadMalformed(t *testing.T) {
	cases := []struct {
		file   string
		loaded []string
		errs   []string
	}{
		{"empty.yaml", nil, []string{"testdata/malformed/empty.yaml: holds no policy (it is empty or only comments)"}},
		{"comments.yaml", nil, []string{"testdata/malformed/comments.yaml: holds no policy (it is empty or only comments)"}},
		{"null.yaml", nil, []string{"testdata/malformed/null.yaml: holds no policy (every document is empty or null)"}},
		{"list.yaml", nil, []string{"testdata/malformed/list.yaml: the document is a list; a policy document must be a mapping " +
			"with apiVersion, kind, metadata and spec (remove the leading '- ': one policy per document, documents separated by ---)"}},
		{"scalar.yaml", nil, []string{"testdata/malformed/scalar.yaml: the document is a string; a policy document must be a " +
			"mapping with apiVersion, kind, metadata and spec (is the indentation right?)"}},
		{"tabs.yaml", nil, []string{"testdata/malformed/tabs.yaml: line 4: YAML syntax error: found character that cannot start any token"}},
		{"dupkey.yaml", nil, []string{`testdata/malformed/dupkey.yaml: line 11: key "minNodes" appears twice in the same mapping: keep one`}},
		{"truncated.json", nil, []string{"testdata/malformed/truncated.json: YAML syntax error: found unexpected end of stream"}},
		{"valid.json", []string{"testdata/malformed/valid.json from-json"}, nil},
		{"wrong-types.yaml", nil, []string{
			`testdata/malformed/wrong-types.yaml: spec.mesos.masters: Invalid value: "http://10.0.0.5:5050": must be a list (lines starting with '- ', or [a, b]), not a string`,
			`testdata/malformed/wrong-types.yaml: spec.mesos.role: Invalid value: 7: must be a string, not a whole number: put the value in quotes`,
			`testdata/malformed/wrong-types.yaml: spec.minNodes: Invalid value: "three": must be a whole number, not a string`,
			`testdata/malformed/wrong-types.yaml: spec.maxNodes: Invalid value: 1.5: must be a whole number`,
			`testdata/malformed/wrong-types.yaml: spec.nodeShape[cpus]: Invalid value: "lots": must be a quantity such as 8, 0.5, 32Gi or 32768Mi`,
			`testdata/malformed/wrong-types.yaml: spec.utilization: Invalid value: 80: must be a mapping of fields (name: value lines), not a whole number`,
			`testdata/malformed/wrong-types.yaml: spec.intervalSeconds: Invalid value: 3000000000: must be a whole number from -2147483648 to 2147483647`,
		}},
		{"multi.yaml", []string{"testdata/malformed/multi.yaml (document 1) multi-good"}, []string{
			"testdata/malformed/multi.yaml (document 2): line 17: YAML syntax error: did not find expected ',' or ']'",
			`testdata/malformed/multi.yaml (document 3): spec.mesos.masters: Required value: list at least one Mesos master URL, such as "http://10.0.0.5:5050"`,
			"testdata/malformed/multi.yaml (document 3): spec.minNodes: Invalid value: 5: must not be above spec.maxNodes (3): lower minNodes or raise maxNodes",
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			loaded, errs := Load(filepath.Join("testdata/malformed", c.file))
			assertLoaded(t, loaded, c.loaded)
			assertErrors(t, errs, c.errs)
		})
	}
}

func TestLoadDataEdgeCases(t *testing.T) {
	cases := []struct {
		name string
		data string
		errs []string
	}{
		{"binary", "\x7fELF\x02\x01\x01\x00\x00", []string{"x.yaml: is not a text file (byte 7 is NUL): give a YAML policy file"}},
		{"invalid UTF-8", "a: 1\nb: \xff\xfe\n", []string{"x.yaml: is not UTF-8 text (invalid bytes at line 2): save it as UTF-8"}},
		{"UTF-16", "\xff\xfea\x00", []string{"x.yaml: is UTF-16 text: save it as UTF-8"}},
		{"whole numbers as floats", policyYAML("min", "  minNodes: 1.0\n  maxNodes: 1e3\n"), []string{
			"x.yaml: spec.minNodes: Invalid value: 1: write whole numbers without a decimal point or exponent, as 1",
			"x.yaml: spec.maxNodes: Invalid value: 1000: write whole numbers without a decimal point or exponent, as 1000",
		}},
		{"quoted number", policyYAML("q", "  intervalSeconds: \"30\"\n"), []string{
			`x.yaml: spec.intervalSeconds: Invalid value: "30": must be a whole number, not a string: write it without quotes, as 30`,
		}},
		{"YAML 1.1 boolean for a string", policyYAML("b", "  mode: on\n"), []string{
			`x.yaml: spec.mode: Invalid value: true: must be a string, not a boolean: YAML reads unquoted true, false, yes, no, on, off, y and n as booleans: put the value in quotes`,
		}},
		{"number as attribute value", strings.Replace(policyYAML("attr", ""), "    masters:", "    agentSelector: {matchAttributes: {rack: 12}}\n    masters:", 1), []string{
			`x.yaml: spec.mesos.agentSelector.matchAttributes[rack]: Invalid value: 12: must be a string, not a whole number: put the value in quotes`,
		}},
		{"field name in the wrong case", policyYAML("case", "  MinNodes: 3\n"), []string{
			`x.yaml: spec.MinNodes: unknown field: did you mean "minNodes"?`,
		}},
		{"key twice, once quoted", policyYAML("dup", "  \"minNodes\": 1\n  minNodes: 2\n"), []string{
			`x.yaml: line 11: key "minNodes" appears twice in the same mapping: keep one`,
		}},
		{"bad time in metadata", strings.Replace(policyYAML("t", ""), "  name: t\n", "  name: t\n  creationTimestamp: yesterday\n", 1), []string{
			`x.yaml: metadata.creationTimestamp: Invalid value: "yesterday": must be a time in RFC 3339 form, such as 2026-01-02T15:04:05Z`,
		}},
		// A wrong type is reported once, not again as the missing or defaulted value it leaves.
		{"wrong type hides its consequences", policyYAML("w", "  utilization: {scaleUpPercent: high, scaleDownPercent: 90}\n"), []string{
			`x.yaml: spec.utilization.scaleUpPercent: Invalid value: "high": must be a whole number, not a string`,
		}},
		{"complex mapping key", policyYAML("k", "  ? [a, b]\n  : c\n"), []string{
			"x.yaml: a mapping key must be a plain name, not a list or a mapping",
		}},
		{"status is accepted", policyYAML("s", "status: {currentNodes: 3}\n"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loaded, errs := LoadData("x.yaml", []byte(c.data))
			assertErrors(t, errs, c.errs)
			if (len(loaded) == 1) != (len(c.errs) == 0) {
				t.Errorf("loaded %d policies with %d errors", len(loaded), len(errs))
			}
		})
	}
}

// policyYAML returns a valid policy named name with extra lines appended to its spec.
func policyYAML(name, extra string) string {
	return `apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata:
  name: ` + name + `
spec:
  mesos:
    masters: ["http://10.0.0.5:5050"]
  autoScalingGroup:
    name: mesos-agents-` + name + `
` + extra
}

func TestLoadDuplicateNamesAcrossFiles(t *testing.T) {
	loaded, errs := Load("testdata/dupnames")
	assertLoaded(t, loaded, []string{"testdata/dupnames/a.yaml general"})
	assertErrors(t, errs, []string{
		`testdata/dupnames/b.yaml: metadata.name: Duplicate value: "general": testdata/dupnames/a.yaml already defines a policy with this name: give each policy its own name`,
	})
	var fe *field.Error
	if len(errs) != 1 || !errors.As(errs[0], &fe) || fe.Type != field.ErrorTypeDuplicate {
		t.Errorf("the duplicate error does not wrap a field.Error of type Duplicate: %#v", errs)
	}
}

func TestLoadSameAutoScalingGroupTwice(t *testing.T) {
	// a: us-east-1; b: no region (any region); c: eu-west-1; d: us-east-1.
	loaded, errs := Load("testdata/sameasg")
	assertLoaded(t, loaded, []string{"testdata/sameasg/a.yaml first", "testdata/sameasg/c.yaml third"})
	const fight = `already manages this Auto Scaling group and two policies would fight over it: give one of them another group, or set different spec.autoScalingGroup.region values if these are groups in different regions`
	assertErrors(t, errs, []string{
		`testdata/sameasg/b.yaml: spec.autoScalingGroup.name: Duplicate value: "mesos-agents": policy "first" (testdata/sameasg/a.yaml) ` + fight,
		`testdata/sameasg/d.yaml: spec.autoScalingGroup.name: Duplicate value: "mesos-agents": policy "first" (testdata/sameasg/a.yaml) ` + fight,
	})
}

func TestLoadBadFileDoesNotStopGoodOne(t *testing.T) {
	loaded, errs := Load("testdata/mixed")
	assertLoaded(t, loaded, []string{"testdata/mixed/good.yaml good"})
	assertErrors(t, errs, []string{
		"testdata/mixed/bad.yaml: spec.utilization.scaleDownPercent: Invalid value: 90: must be less than spec.utilization.scaleUpPercent (80)",
		"testdata/mixed/truncated.yaml: line 7: YAML syntax error: found unexpected end of stream",
	})
	var e *Error
	if !errors.As(errs[0], &e) || e.Policy != "bad" || e.Field != "spec.utilization.scaleDownPercent" || e.Document != 0 {
		t.Errorf("first error = %#v", errs[0])
	}
}

func TestLoadPaths(t *testing.T) {
	t.Run("missing path", func(t *testing.T) {
		loaded, errs := Load("testdata/valid/general.yaml", "testdata/no-such-file.yaml")
		assertLoaded(t, loaded, []string{"testdata/valid/general.yaml general"})
		assertErrors(t, errs, []string{"testdata/no-such-file.yaml: cannot read: no such file or directory: check the path"})
		if len(errs) == 1 && !errors.Is(errs[0], fs.ErrNotExist) {
			t.Errorf("error does not wrap fs.ErrNotExist: %#v", errs[0])
		}
	})
	t.Run("no path", func(t *testing.T) {
		_, errs := Load()
		assertErrors(t, errs, []string{"(no path): give at least one policy file or directory"})
	})
	t.Run("directory without policies", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errs := Load(dir)
		assertErrors(t, errs, []string{dir + ": directory holds no *.yaml or *.yml policy file"})
	})
	t.Run("same file twice is read once", func(t *testing.T) {
		loaded, errs := Load("testdata/valid/general.yaml", "testdata/valid", "./testdata/valid/general.yaml")
		assertErrors(t, errs, nil)
		assertLoaded(t, loaded, []string{
			"testdata/valid/general.yaml general",
			"testdata/valid/pools.yaml (document 1) web",
			"testdata/valid/pools.yaml (document 2) gpu",
		})
	})
	t.Run(".yml and a hidden file named explicitly", func(t *testing.T) {
		dir := t.TempDir()
		write := func(name, content string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("b.yml", policyYAML("yml", ""))
		write(".a.yaml", policyYAML("hidden", ""))
		loaded, errs := Load(dir, filepath.Join(dir, ".a.yaml"))
		assertErrors(t, errs, nil)
		assertLoaded(t, loaded, []string{filepath.Join(dir, "b.yml") + " yml", filepath.Join(dir, ".a.yaml") + " hidden"})
	})
	t.Run("too large", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "huge.yaml")
		if err := os.WriteFile(file, bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errs := Load(file)
		assertErrors(t, errs, []string{file + ": is larger than 8 MiB: a policy file is a few kilobytes; is this the right file?"})
	})
}

func TestLoadErrorsOrderedByFileThenDocument(t *testing.T) {
	// The duplicate found while checking policies against each other is reported with its own
	// file, before the files loaded after it.
	dir := t.TempDir()
	files := map[string]string{
		"1.yaml": policyYAML("one", ""),
		"2.yaml": policyYAML("one", ""),
		"3.yaml": "broken: [",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, errs := Load(dir)
	var got []string
	for _, err := range errs {
		got = append(got, filepath.Base(err.(*Error).File))
	}
	if want := []string{"2.yaml", "3.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("errors are for files %v, want %v: %v", got, want, errs)
	}
}

func TestLoadNeverWritesTheFiles(t *testing.T) {
	dir := t.TempDir()
	content := policyYAML("untouched", "  # a comment the loader must keep\n  minNodes: 0\n")
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte(content), 0o444); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(file, old, old); err != nil {
		t.Fatal(err)
	}
	loaded, errs := Load(dir)
	assertErrors(t, errs, nil)
	after, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != content || !info.ModTime().Equal(old) {
		t.Errorf("the file changed: mtime %v (was %v), content %q", info.ModTime(), old, after)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("the directory changed: %v entries, %v", len(entries), err)
	}
	if len(loaded) != 1 || string(loaded[0].Source) != content || *loaded[0].Policy.Spec.MinNodes != 0 {
		t.Errorf("loaded = %+v", loaded)
	}
}

func TestSamplesLoad(t *testing.T) {
	loaded, errs := Load("../../config/samples")
	assertErrors(t, errs, nil)
	assertLoaded(t, loaded, []string{
		"../../config/samples/batch-dryrun.yaml batch",
		"../../config/samples/general.yaml general",
	})
	if len(loaded) != 2 {
		t.FailNow()
	}
	batch, general := loaded[0].Policy.Spec.Resolved(), loaded[1].Policy.Spec.Resolved()
	if !batch.DryRun || batch.ApplicationHeadroomPercent != 0 || batch.MatchAttributes["pool"] != "batch" ||
		batch.ScaleUpPercent == general.ScaleUpPercent || batch.AutoScalingGroupName == general.AutoScalingGroupName {
		t.Errorf("batch sample settings = %+v", batch)
	}
	if general.DryRun || general.AutoScalingGroupName != "mesos-agents-general" || general.MatchAttributes["pool"] != "general" {
		t.Errorf("general sample settings = %+v", general)
	}
	// The general sample sets every field explicitly: defaulting must not change it.
	var userSet v1alpha1.ScalingPolicy
	if err := decodeForTest(loaded[1].Source, &userSet); err != nil {
		t.Fatal(err)
	}
	before := userSet.Spec.Resolved()
	v1alpha1.SetDefaults(&userSet)
	if !reflect.DeepEqual(userSet.Spec, loaded[1].Policy.Spec) || !reflect.DeepEqual(before, general) {
		t.Error("general.yaml leaves some field to its default; the sample should set every field")
	}
	for _, ptr := range []*int32{userSet.Spec.MinNodes, userSet.Spec.MaxNodes, userSet.Spec.ApplicationHeadroomPercent,
		userSet.Spec.IntervalSeconds, userSet.Spec.ScaleUp.CooldownSeconds, userSet.Spec.ScaleDown.DrainTimeoutSeconds} {
		if ptr == nil {
			t.Error("general.yaml leaves a field unset")
		}
	}
}

// decodeForTest decodes one document without defaults.
func decodeForTest(data []byte, p *v1alpha1.ScalingPolicy) error {
	tree, problems := parseYAML(data)
	if len(problems) > 0 {
		return errors.New(problems[0].detail)
	}
	decoded, problems, _ := decodePolicy(tree)
	if len(problems) > 0 {
		return errors.New(problems[0].detail)
	}
	*p = *decoded
	return nil
}

func TestSplitDocuments(t *testing.T) {
	data := "# header\n---\na: 1\n--- # second\nb: 2\n---\n\n# empty\n---x: not a separator\n--- {c: 3}\n"
	docs := splitDocuments([]byte(data))
	type doc struct {
		text string
		line int
	}
	var got []doc
	for _, d := range docs {
		got = append(got, doc{string(d.data), d.firstLine})
	}
	want := []doc{
		{"---\na: 1\n", 1},
		{"--- # second\nb: 2\n", 3},
		{"---\n\n# empty\n---x: not a separator\n", 5},
		{"--- {c: 3}\n", 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitDocuments() = %+v, want %+v", got, want)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"scaleUpPercent", "scaleDownPercent", "resources"}
	cases := map[string]string{
		"scaleUpPrecent":   "scaleUpPercent",
		"scaleuppercent":   "scaleUpPercent",
		"scaleDownPercnt":  "scaleDownPercent",
		"resource":         "resources",
		"threshold":        "",
		"x":                "",
		"scaleUpPercentXX": "scaleUpPercent",
	}
	for in, want := range cases {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatErrors(t *testing.T) {
	errs := []error{
		&Error{File: "a.yaml", Document: 2, Field: "spec.minNodes", Detail: "Invalid value: -1: must not be negative"},
		&Error{File: "b.yaml", Line: 3, Detail: "YAML syntax error: x\ny"},
	}
	want := "a.yaml (document 2): spec.minNodes: Invalid value: -1: must not be negative\nb.yaml: line 3: YAML syntax error: x y\n"
	if got := FormatErrors(errs); got != want {
		t.Errorf("FormatErrors() = %q, want %q", got, want)
	}
}

func TestLoadCapsProblemsPerDocument(t *testing.T) {
	var b strings.Builder
	b.WriteString(policyYAML("many", ""))
	for i := range MaxProblemsPerDocument + 5 {
		fmt.Fprintf(&b, "  extra%03d: 1\n", i)
	}
	_, errs := LoadData("x.yaml", []byte(b.String()))
	if len(errs) != MaxProblemsPerDocument+1 {
		t.Fatalf("got %d errors, want %d", len(errs), MaxProblemsPerDocument+1)
	}
	if got, want := errs[0].Error(), "x.yaml: spec.extra000: unknown field: the fields here are mesos, autoScalingGroup, minNodes, maxNodes, nodeShape, utilization, applicationHeadroomPercent, scaleUp, scaleDown, intervalSeconds, mode"; got != want {
		t.Errorf("first error = %q, want %q", got, want)
	}
	if got, want := errs[MaxProblemsPerDocument].Error(), "x.yaml: 5 more problems not shown: fix the ones above first"; got != want {
		t.Errorf("last error = %q, want %q", got, want)
	}
}
