package v1alpha1

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

func ptr[T any](v T) *T { return &v }

func TestSetDefaultsFillsEveryOptionalField(t *testing.T) {
	p := &ScalingPolicy{}
	SetDefaults(p)
	s := p.Spec

	if s.Mesos.Role != "*" {
		t.Errorf("mesos.role = %q, want %q", s.Mesos.Role, "*")
	}
	ints := []struct {
		name string
		got  *int32
		want int32
	}{
		{"minNodes", s.MinNodes, 1},
		{"maxNodes", s.MaxNodes, 100},
		{"utilization.scaleUpPercent", s.Utilization.ScaleUpPercent, 80},
		{"utilization.scaleDownPercent", s.Utilization.ScaleDownPercent, 40},
		{"applicationHeadroomPercent", s.ApplicationHeadroomPercent, 20},
		{"scaleUp.maxNodesPerStep", s.ScaleUp.MaxNodesPerStep, 0},
		{"scaleUp.cooldownSeconds", s.ScaleUp.CooldownSeconds, 0},
		{"scaleDown.maxNodesPerStep", s.ScaleDown.MaxNodesPerStep, 1},
		{"scaleDown.stabilizationSeconds", s.ScaleDown.StabilizationSeconds, 600},
		{"scaleDown.drainTimeoutSeconds", s.ScaleDown.DrainTimeoutSeconds, 600},
		{"scaleDown.maxUnregisteredPercent", s.ScaleDown.MaxUnregisteredPercent, 30},
		{"scaleUp.registrationTimeoutSeconds", s.ScaleUp.RegistrationTimeoutSeconds, 900},
		{"intervalSeconds", s.IntervalSeconds, 60},
	}
	for _, c := range ints {
		if c.got == nil {
			t.Errorf("%s is still nil", c.name)
			continue
		}
		if *c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, *c.got, c.want)
		}
	}
	if want := []string{"cpus", "mem"}; !reflect.DeepEqual(s.Utilization.Resources, want) {
		t.Errorf("utilization.resources = %v, want %v", s.Utilization.Resources, want)
	}
	if s.ScaleDown.Policy != ScaleDownPolicyEnabled {
		t.Errorf("scaleDown.policy = %q, want Enabled", s.ScaleDown.Policy)
	}
	if s.Mode != ModeEnforce {
		t.Errorf("mode = %q, want Enforce", s.Mode)
	}
	// No default for these: they are either inferred or have no sensible value.
	if s.NodeShape != nil || s.Mesos.AgentSelector != nil || s.Mesos.CredentialsFile != "" ||
		s.Mesos.MarathonURL != "" || s.AutoScalingGroup.Region != "" || p.APIVersion != "" || p.Kind != "" {
		t.Errorf("SetDefaults set a field that has no default: %+v", p)
	}
}

func TestSetDefaultsKeepsWhatTheUserWrote(t *testing.T) {
	p := &ScalingPolicy{Spec: ScalingPolicySpec{
		Mesos:                      MesosSpec{Role: "analytics"},
		MinNodes:                   ptr(int32(0)),
		MaxNodes:                   ptr(int32(7)),
		Utilization:                UtilizationSpec{Resources: []string{}, ScaleUpPercent: ptr(int32(90)), ScaleDownPercent: ptr(int32(0))},
		ApplicationHeadroomPercent: ptr(int32(0)),
		ScaleUp:                    ScaleUpSpec{MaxNodesPerStep: ptr(int32(3)), CooldownSeconds: ptr(int32(30))},
		ScaleDown: ScaleDownSpec{Policy: ScaleDownPolicyDisabled, MaxNodesPerStep: ptr(int32(0)),
			StabilizationSeconds: ptr(int32(0)), DrainTimeoutSeconds: ptr(int32(5))},
		IntervalSeconds: ptr(int32(15)),
		Mode:            ModeDryRun,
	}}
	SetDefaults(p)
	s := p.Spec
	got := []int32{*s.MinNodes, *s.MaxNodes, *s.Utilization.ScaleUpPercent, *s.Utilization.ScaleDownPercent,
		*s.ApplicationHeadroomPercent, *s.ScaleUp.MaxNodesPerStep, *s.ScaleUp.CooldownSeconds,
		*s.ScaleDown.MaxNodesPerStep, *s.ScaleDown.StabilizationSeconds, *s.ScaleDown.DrainTimeoutSeconds, *s.IntervalSeconds}
	want := []int32{0, 7, 90, 0, 0, 3, 30, 0, 0, 5, 15}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("explicit values changed: got %v, want %v", got, want)
	}
	if s.Mesos.Role != "analytics" || s.ScaleDown.Policy != ScaleDownPolicyDisabled || s.Mode != ModeDryRun {
		t.Errorf("explicit strings changed: role %q, scaleDown.policy %q, mode %q", s.Mesos.Role, s.ScaleDown.Policy, s.Mode)
	}
	// An explicit empty list is not replaced by the default: validation rejects it instead.
	if s.Utilization.Resources == nil || len(s.Utilization.Resources) != 0 {
		t.Errorf("explicit empty resources became %v", s.Utilization.Resources)
	}
}

func TestSetDefaultsIsIdempotentAndNilSafe(t *testing.T) {
	SetDefaults(nil) // must not panic

	p := &ScalingPolicy{}
	SetDefaults(p)
	first := p.Spec.Resolved()
	minNodes := p.Spec.MinNodes
	SetDefaults(p)
	if p.Spec.MinNodes != minNodes {
		t.Error("a second SetDefaults replaced an already set pointer")
	}
	if !reflect.DeepEqual(first, p.Spec.Resolved()) {
		t.Errorf("a second SetDefaults changed the settings: %+v, then %+v", first, p.Spec.Resolved())
	}
}

func TestResolved(t *testing.T) {
	spec := ScalingPolicySpec{
		Mesos: MesosSpec{
			Masters:         []string{"http://10.0.0.5:5050"},
			AgentSelector:   &AgentSelector{MatchAttributes: map[string]string{"pool": "batch"}},
			CredentialsFile: "/etc/lambdascale/mesos",
			MarathonURL:     "http://marathon:8080",
		},
		AutoScalingGroup: AutoScalingGroupSpec{Name: "mesos-agents-batch", Region: "us-east-1"},
		MaxNodes:         ptr(int32(40)),
		NodeShape:        map[string]resource.Quantity{"cpus": resource.MustParse("16")},
		ScaleUp:          ScaleUpSpec{CooldownSeconds: ptr(int32(300))},
		ScaleDown:        ScaleDownSpec{Policy: ScaleDownPolicyDisabled, DrainTimeoutSeconds: ptr(int32(3600))},
		Mode:             ModeDryRun,
	}
	got := spec.Resolved() // without SetDefaults: Resolved applies the defaults itself
	want := Settings{
		Masters:                    []string{"http://10.0.0.5:5050"},
		Role:                       "*",
		MatchAttributes:            map[string]string{"pool": "batch"},
		CredentialsFile:            "/etc/lambdascale/mesos",
		MarathonURL:                "http://marathon:8080",
		AutoScalingGroupName:       "mesos-agents-batch",
		Region:                     "us-east-1",
		MinNodes:                   1,
		MaxNodes:                   40,
		NodeShape:                  NodeShape{CPUs: 16, Specified: []string{"cpus"}},
		Resources:                  []string{"cpus", "mem"},
		ScaleUpPercent:             80,
		ScaleDownPercent:           40,
		ApplicationHeadroomPercent: 20,
		ScaleUpMaxNodesPerStep:     0,
		ScaleUpCooldown:            5 * time.Minute,
		ScaleDownEnabled:           false,
		ScaleDownMaxNodesPerStep:   1,
		ScaleDownStabilization:     10 * time.Minute,
		RegistrationTimeout:        15 * time.Minute,
		MaxUnregisteredPercent:     30,
		InstanceOverheadMemMiB:     1024, // the default overhead: mem 1Gi
		DrainTimeout:               time.Hour,
		Interval:                   time.Minute,
		DryRun:                     true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolved() =\n%+v\nwant\n%+v", got, want)
	}
	if spec.MinNodes != nil || spec.Mesos.Role != "" || spec.Utilization.Resources != nil {
		t.Error("Resolved changed the spec")
	}
	got.Masters[0] = "changed"
	got.Resources[0] = "changed"
	got.MatchAttributes["pool"] = "changed"
	if spec.Mesos.Masters[0] != "http://10.0.0.5:5050" || spec.Mesos.AgentSelector.MatchAttributes["pool"] != "batch" {
		t.Error("Settings share slices or maps with the spec")
	}
	if r := spec.Resolved(); r.Resources[0] != "cpus" {
		t.Errorf("changing one Settings changed the next: resources %v", r.Resources)
	}

	enforce := ScalingPolicySpec{}
	if r := enforce.Resolved(); r.DryRun || !r.ScaleDownEnabled || r.MatchAttributes != nil {
		t.Errorf("default settings: DryRun %v, ScaleDownEnabled %v, MatchAttributes %v; want false, true, nil",
			r.DryRun, r.ScaleDownEnabled, r.MatchAttributes)
	}
}

func TestMesosNodeShape(t *testing.T) {
	cases := []struct {
		name  string
		shape map[string]string
		want  NodeShape
	}{
		{"empty: inferred", nil, NodeShape{}},
		{
			// 32Gi = 32·2^30 bytes = 32768 MiB; 100Gi = 102400 MiB.
			name:  "binary quantities",
			shape: map[string]string{"cpus": "8", "mem": "32Gi", "disk": "100Gi", "gpus": "2"},
			want:  NodeShape{CPUs: 8, MemMiB: 32768, DiskMiB: 102400, GPUs: 2, Specified: []string{"cpus", "mem", "disk", "gpus"}},
		},
		{
			// 500m cores = 0.5; 32768Mi = 32768 MiB; 1G = 10^9 bytes = 953.67431640625 MiB.
			name:  "milli-cores, Mi and decimal G",
			shape: map[string]string{"cpus": "500m", "mem": "32768Mi", "disk": "1G"},
			want:  NodeShape{CPUs: 0.5, MemMiB: 32768, DiskMiB: 953.67431640625, Specified: []string{"cpus", "mem", "disk"}},
		},
		{
			name:  "partial: only mem given",
			shape: map[string]string{"mem": "1Mi"},
			want:  NodeShape{MemMiB: 1, Specified: []string{"mem"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := ScalingPolicySpec{}
			if c.shape != nil {
				spec.NodeShape = map[string]resource.Quantity{}
				for k, v := range c.shape {
					spec.NodeShape[k] = resource.MustParse(v)
				}
			}
			got := spec.MesosNodeShape()
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("MesosNodeShape() = %+v, want %+v", got, c.want)
			}
			if got.IsEmpty() != (len(c.shape) == 0) {
				t.Errorf("IsEmpty() = %v with %d resources given", got.IsEmpty(), len(c.shape))
			}
			for _, r := range SupportedResources {
				v, ok := got.Get(r)
				_, given := c.shape[r]
				if ok != given || ok != got.IsSpecified(r) {
					t.Errorf("Get(%q) ok = %v, IsSpecified = %v, given = %v", r, ok, got.IsSpecified(r), given)
				}
				if !ok && v != 0 {
					t.Errorf("Get(%q) = %v for a resource not given", r, v)
				}
			}
			if v, _ := got.Get("mem"); v != c.want.MemMiB {
				t.Errorf("Get(mem) = %v, want %v", v, c.want.MemMiB)
			}
		})
	}
}
