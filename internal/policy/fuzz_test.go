package policy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
)

// FuzzLoad feeds arbitrary bytes to the loader as one policy file. Whatever the input, the
// loader must not panic, must report problems only as *Error values naming the file, must
// return only policies that pass validation with their defaults set, must account for every
// document (loaded or reported), and must give the same answer twice.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"testdata/*/*.yaml", "testdata/*.yaml", "../../config/samples/*.yaml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("\x00\x01binary"))
	f.Add([]byte("spec: {minNodes: 1e3, nodeShape: {mem: .inf}}"))
	f.Add([]byte("{apiVersion: lambdascale.io/v1alpha1, kind: ScalingPolicy, metadata: {name: a, creationTimestamp: 2001-12-14}, spec: {mesos: {masters: [http://a:1]}, autoScalingGroup: {name: g}}}"))

	f.Fuzz(func(t *testing.T, data []byte) {
		loaded, errs := LoadData("fuzz.yaml", data)
		for _, err := range errs {
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("error %v (%T) is not a *Error", err, err)
			}
			if e.File != "fuzz.yaml" || e.Detail == "" {
				t.Fatalf("error %#v lacks its file or detail", e)
			}
		}
		docs := len(splitDocuments(data))
		if len(loaded) > docs {
			t.Fatalf("loaded %d policies from %d documents", len(loaded), docs)
		}
		if len(loaded) == 0 && len(errs) == 0 {
			t.Fatalf("no policy and no error for %q", data)
		}
		for _, l := range loaded {
			if l.Policy == nil {
				t.Fatal("Loaded with a nil Policy")
			}
			if fe := v1alpha1.Validate(l.Policy); len(fe) > 0 {
				t.Fatalf("loaded policy fails validation: %v", fe)
			}
			before, err := json.Marshal(l.Policy)
			if err != nil {
				t.Fatalf("marshaling a loaded policy: %v", err)
			}
			// What is written back must read back to the same policy, and defaulting it
			// again must change nothing.
			again := new(v1alpha1.ScalingPolicy)
			if err := json.Unmarshal(before, again); err != nil {
				t.Fatalf("reading back a loaded policy: %v", err)
			}
			v1alpha1.SetDefaults(again)
			after, err := json.Marshal(again)
			if err != nil {
				t.Fatalf("marshaling a re-defaulted policy: %v", err)
			}
			if string(before) != string(after) {
				t.Fatalf("write-back round trip or SetDefaults changed the policy:\n%s\n%s", before, after)
			}
			_ = l.Policy.Spec.Resolved()
		}
		loaded2, errs2 := LoadData("fuzz.yaml", data)
		if len(loaded2) != len(loaded) || !reflect.DeepEqual(errorStrings(errs), errorStrings(errs2)) {
			t.Fatalf("two loads of the same data differ:\n%v\n%v", errorStrings(errs), errorStrings(errs2))
		}
	})
}

func errorStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, err := range errs {
		out[i] = err.Error()
	}
	return out
}
