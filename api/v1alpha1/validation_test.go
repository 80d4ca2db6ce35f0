package v1alpha1

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// validPolicy returns a defaulted policy that passes validation.
func validPolicy() *ScalingPolicy {
	p := &ScalingPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "lambdascale.io/v1alpha1", Kind: "ScalingPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "general"},
		Spec: ScalingPolicySpec{
			Mesos: MesosSpec{
				Masters:         []string{"http://10.0.0.5:5050", "https://mesos-2.example.com"},
				AgentSelector:   &AgentSelector{MatchAttributes: map[string]string{"pool": "general"}},
				CredentialsFile: "/etc/lambdascale/mesos",
				MarathonURL:     "http://marathon:8080",
			},
			AutoScalingGroup: AutoScalingGroupSpec{Name: "mesos-agents-general", Region: "us-east-1"},
			NodeShape: map[string]resource.Quantity{
				"cpus": resource.MustParse("8"), "mem": resource.MustParse("32Gi"),
				"disk": resource.MustParse("1Mi"), "gpus": resource.MustParse("1"),
			},
		},
	}
	SetDefaults(p)
	return p
}

func TestValidateAcceptsValidPolicies(t *testing.T) {
	cases := map[string]func(p *ScalingPolicy){
		"complete":          func(*ScalingPolicy) {},
		"hierarchical role": func(p *ScalingPolicy) { p.Spec.Mesos.Role = "eng/frontend" },
		"no optional fields": func(p *ScalingPolicy) {
			p.Spec = ScalingPolicySpec{Mesos: MesosSpec{Masters: []string{"http://m:5050"}}, AutoScalingGroup: AutoScalingGroupSpec{Name: "g"}}
			SetDefaults(p)
		},
		"zeros where zero is allowed": func(p *ScalingPolicy) { zeroAllowed(p) },
		"thresholds at the bounds": func(p *ScalingPolicy) {
			*p.Spec.Utilization.ScaleUpPercent, *p.Spec.Utilization.ScaleDownPercent = 100, 99
			*p.Spec.ApplicationHeadroomPercent = 100
		},
		"lowest thresholds": func(p *ScalingPolicy) {
			*p.Spec.Utilization.ScaleUpPercent, *p.Spec.Utilization.ScaleDownPercent = 1, 0
		},
		"min equals max":            func(p *ScalingPolicy) { *p.Spec.MinNodes, *p.Spec.MaxNodes = 5, 5 },
		"63-character name":         func(p *ScalingPolicy) { p.Name = strings.Repeat("a", 63) },
		"255-character group name":  func(p *ScalingPolicy) { p.Spec.AutoScalingGroup.Name = strings.Repeat("g", 255) },
		"GovCloud region":           func(p *ScalingPolicy) { p.Spec.AutoScalingGroup.Region = "us-gov-west-1" },
		"every resource":            func(p *ScalingPolicy) { p.Spec.Utilization.Resources = []string{"gpus", "disk", "mem", "cpus"} },
		"fractional cpus":           func(p *ScalingPolicy) { p.Spec.NodeShape["cpus"] = resource.MustParse("500m") },
		"bytes written out in full": func(p *ScalingPolicy) { p.Spec.NodeShape["mem"] = resource.MustParse("34359738368") },
		"Disabled and DryRun": func(p *ScalingPolicy) {
			p.Spec.ScaleDown.Policy, p.Spec.Mode = ScaleDownPolicyDisabled, ModeDryRun
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := validPolicy()
			mutate(p)
			if errs := Validate(p); len(errs) != 0 {
				t.Errorf("Validate() = %v, want no error", errs)
			}
		})
	}
}

func zeroAllowed(p *ScalingPolicy) {
	*p.Spec.MinNodes, *p.Spec.MaxNodes = 0, 0
	*p.Spec.ApplicationHeadroomPercent = 0
	*p.Spec.Utilization.ScaleDownPercent = 0
	*p.Spec.ScaleUp.MaxNodesPerStep, *p.Spec.ScaleUp.CooldownSeconds = 0, 0
	*p.Spec.ScaleDown.MaxNodesPerStep, *p.Spec.ScaleDown.StabilizationSeconds, *p.Spec.ScaleDown.DrainTimeoutSeconds = 0, 0, 0
}

func TestValidateRules(t *testing.T) {
	const urlWant = `must be an absolute http:// or https:// URL with a host, such as "http://10.0.0.5:5050"`
	cases := []struct {
		name   string
		mutate func(p *ScalingPolicy)
		want   []string
	}{
		{"apiVersion missing", func(p *ScalingPolicy) { p.APIVersion = "" },
			[]string{"apiVersion: Required value: set apiVersion: lambdascale.io/v1alpha1"}},
		{"apiVersion wrong", func(p *ScalingPolicy) { p.APIVersion = "lambdascale.io/v1" },
			[]string{`apiVersion: Unsupported value: "lambdascale.io/v1": supported values: "lambdascale.io/v1alpha1"`}},
		{"registration timeout zero", func(p *ScalingPolicy) { p.Spec.ScaleUp.RegistrationTimeoutSeconds = ptr(int32(0)) },
			[]string{"spec.scaleUp.registrationTimeoutSeconds: Invalid value: 0: must be at least 1: the seconds a launched instance may take to register as an agent (default 900)"}},
		{"unregistered percent above 100", func(p *ScalingPolicy) { p.Spec.ScaleDown.MaxUnregisteredPercent = ptr(int32(101)) },
			[]string{"spec.scaleDown.maxUnregisteredPercent: Invalid value: 101: must be a whole percent from 0 to 100"}},
		{"instance overhead", func(p *ScalingPolicy) {
			p.Spec.AutoScalingGroup.InstanceOverhead = map[string]resource.Quantity{"gpus": resource.MustParse("1"), "mem": resource.MustParse("-1Gi")}
		}, []string{`spec.autoScalingGroup.instanceOverhead[gpus]: Unsupported value: "gpus": supported values: "cpus", "mem", "disk"`,
			`spec.autoScalingGroup.instanceOverhead[mem]: Invalid value: "-1Gi": must not be negative`}},
		{"kind wrong", func(p *ScalingPolicy) { p.Kind = "Deployment" },
			[]string{`kind: Unsupported value: "Deployment": supported values: "ScalingPolicy"`}},
		{"kind missing", func(p *ScalingPolicy) { p.Kind = "" },
			[]string{"kind: Required value: set kind: ScalingPolicy"}},
		{"name missing", func(p *ScalingPolicy) { p.Name = "" },
			[]string{"metadata.name: Required value: set a lowercase name such as general; it names the policy's status file"}},
		{"name with dots", func(p *ScalingPolicy) { p.Name = "general.v2" },
			[]string{`metadata.name: Invalid value: "general.v2": must not contain dots (it becomes a file name: use lowercase letters, digits and '-', at most 63)`}},
		{"name too long", func(p *ScalingPolicy) { p.Name = strings.Repeat("a", 64) },
			[]string{`metadata.name: Invalid value: "` + strings.Repeat("a", 64) + `": must be no more than 63 characters (it becomes a file name: use lowercase letters, digits and '-', at most 63)`}},
		{"name with a path", func(p *ScalingPolicy) { p.Name = "../etc" },
			[]string{`metadata.name: Invalid value: "../etc": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?') (it becomes a file name: use lowercase letters, digits and '-', at most 63)`}},
		{"masters empty", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = nil },
			[]string{`spec.mesos.masters: Required value: list at least one Mesos master URL, such as "http://10.0.0.5:5050"`}},
		{"master without scheme", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{"10.0.0.5:5050"} },
			[]string{`spec.mesos.masters[0]: Invalid value: "10.0.0.5:5050": ` + urlWant + `: add the scheme, as in "http://10.0.0.5:5050"`}},
		{"master with another scheme", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{"zk://10.0.0.5:2181/mesos"} },
			[]string{`spec.mesos.masters[0]: Invalid value: "zk://10.0.0.5:2181/mesos": ` + urlWant + `: scheme "zk" is not supported`}},
		{"master without host", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{"http:///state"} },
			[]string{`spec.mesos.masters[0]: Invalid value: "http:///state": ` + urlWant + `: the host is missing`}},
		{"master with credentials", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{"http://admin:secret@m:5050"} },
			[]string{`spec.mesos.masters[0]: Invalid value: "http://admin:secret@m:5050": must not hold a user or password: put credentials in spec.mesos.credentialsFile`}},
		{"master with bad port", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{"http://m:0"} },
			[]string{`spec.mesos.masters[0]: Invalid value: "http://m:0": ` + urlWant + `: port 0 is not in 1-65535`}},
		{"master with query", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{"http://m:5050/?x=1"} },
			[]string{`spec.mesos.masters[0]: Invalid value: "http://m:5050/?x=1": must be a base URL without a query or fragment, such as "http://10.0.0.5:5050"`}},
		{"master with spaces", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{" http://m:5050"} },
			[]string{`spec.mesos.masters[0]: Invalid value: " http://m:5050": ` + urlWant + `: remove the surrounding spaces`}},
		{"master empty string", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{""} },
			[]string{`spec.mesos.masters[0]: Invalid value: "": ` + urlWant}},
		{"master twice", func(p *ScalingPolicy) { p.Spec.Mesos.Masters = []string{"http://m:5050", "HTTP://M:5050/"} },
			[]string{`spec.mesos.masters[1]: Duplicate value: "HTTP://M:5050/": same master as spec.mesos.masters[0]: list each master once`}},
		{"role starting with -", func(p *ScalingPolicy) { p.Spec.Mesos.Role = "-x" },
			[]string{`spec.mesos.role: Invalid value: "-x": must not start with '-': write "*" for unreserved resources, or a Mesos role name such as "analytics" or "eng/frontend"`}},
		{"role with a space", func(p *ScalingPolicy) { p.Spec.Mesos.Role = "my role" },
			[]string{`spec.mesos.role: Invalid value: "my role": must not contain whitespace, control characters or '\': write "*" for unreserved resources, or a Mesos role name such as "analytics" or "eng/frontend"`}},
		{"role ..", func(p *ScalingPolicy) { p.Spec.Mesos.Role = "eng/.." },
			[]string{`spec.mesos.role: Invalid value: "eng/..": must not be or contain the path parts '.' or '..': write "*" for unreserved resources, or a Mesos role name such as "analytics" or "eng/frontend"`}},
		{"attribute without value", func(p *ScalingPolicy) { p.Spec.Mesos.AgentSelector.MatchAttributes["rack"] = "" },
			[]string{`spec.mesos.agentSelector.matchAttributes[rack]: Required value: give the attribute value the pool's agents have, such as pool: general`}},
		{"relative credentials file", func(p *ScalingPolicy) { p.Spec.Mesos.CredentialsFile = "secrets/mesos" },
			[]string{`spec.mesos.credentialsFile: Invalid value: "secrets/mesos": must be an absolute path, such as /etc/lambdascale/mesos: a relative path would depend on the controller's working directory`}},
		{"marathon URL without scheme", func(p *ScalingPolicy) { p.Spec.Mesos.MarathonURL = "marathon.mesos:8080" },
			[]string{`spec.mesos.marathonURL: Invalid value: "marathon.mesos:8080": must be an absolute http:// or https:// URL with a host, such as "http://marathon.example:8080": scheme "marathon.mesos" is not supported`}},
		{"group name missing", func(p *ScalingPolicy) { p.Spec.AutoScalingGroup.Name = "" },
			[]string{"spec.autoScalingGroup.name: Required value: set the name of the pool's Auto Scaling group, such as mesos-agents-general"}},
		{"group name too long", func(p *ScalingPolicy) { p.Spec.AutoScalingGroup.Name = strings.Repeat("g", 256) },
			[]string{"spec.autoScalingGroup.name: Too long: may not be more than 255 bytes"}},
		{"group ARN", func(p *ScalingPolicy) {
			p.Spec.AutoScalingGroup.Name = "arn:aws:autoscaling:us-east-1:123:autoScalingGroup:u:autoScalingGroupName/g"
		}, []string{`spec.autoScalingGroup.name: Invalid value: "arn:aws:autoscaling:us-east-1:123:autoScalingGroup:u:autoScalingGroupName/g": give the group's name, not its ARN: the part after autoScalingGroupName/`}},
		{"group name with trailing space", func(p *ScalingPolicy) { p.Spec.AutoScalingGroup.Name = "g " },
			[]string{`spec.autoScalingGroup.name: Invalid value: "g ": must not start or end with spaces or contain control characters: copy the name exactly as AWS shows it`}},
		{"region", func(p *ScalingPolicy) { p.Spec.AutoScalingGroup.Region = "us-east-1a" },
			[]string{`spec.autoScalingGroup.region: Invalid value: "us-east-1a": must be an AWS region name such as us-east-1, or be left out to use the AWS default region`}},
		{"min above max", func(p *ScalingPolicy) { *p.Spec.MinNodes, *p.Spec.MaxNodes = 10, 3 },
			[]string{"spec.minNodes: Invalid value: 10: must not be above spec.maxNodes (3): lower minNodes or raise maxNodes"}},
		{"negative counts", func(p *ScalingPolicy) { *p.Spec.MinNodes, *p.Spec.MaxNodes = -1, -2 },
			[]string{
				"spec.minNodes: Invalid value: -1: must not be negative (in nodes)",
				"spec.maxNodes: Invalid value: -2: must not be negative (in nodes)",
			}},
		{"scaleDownPercent not below scaleUpPercent", func(p *ScalingPolicy) { *p.Spec.Utilization.ScaleDownPercent = 90 },
			[]string{"spec.utilization.scaleDownPercent: Invalid value: 90: must be less than spec.utilization.scaleUpPercent (80)"}},
		{"equal thresholds", func(p *ScalingPolicy) { *p.Spec.Utilization.ScaleDownPercent = 80 },
			[]string{"spec.utilization.scaleDownPercent: Invalid value: 80: must be less than spec.utilization.scaleUpPercent (80)"}},
		{"percents out of range", func(p *ScalingPolicy) {
			*p.Spec.Utilization.ScaleUpPercent, *p.Spec.Utilization.ScaleDownPercent = 0, -1
			*p.Spec.ApplicationHeadroomPercent = 101
		}, []string{
			"spec.utilization.scaleUpPercent: Invalid value: 0: must be a whole percent from 1 to 100",
			"spec.utilization.scaleDownPercent: Invalid value: -1: must be a whole percent from 0 to 100",
			"spec.applicationHeadroomPercent: Invalid value: 101: must be a whole percent from 0 to 100",
		}},
		{"resources empty", func(p *ScalingPolicy) { p.Spec.Utilization.Resources = []string{} },
			[]string{"spec.utilization.resources: Required value: list at least one resource to count, such as [cpus, mem], or leave resources out for that default"}},
		{"resources unknown and twice", func(p *ScalingPolicy) { p.Spec.Utilization.Resources = []string{"cpu", "mem", "mem"} },
			[]string{
				`spec.utilization.resources[0]: Unsupported value: "cpu": supported values: "cpus", "mem", "disk", "gpus"`,
				`spec.utilization.resources[2]: Duplicate value: "mem": already listed at spec.utilization.resources[1]: list each resource once`,
			}},
		{"node shape key", func(p *ScalingPolicy) { p.Spec.NodeShape["memory"] = resource.MustParse("1Gi") },
			[]string{`spec.nodeShape[memory]: Unsupported value: "memory": supported values: "cpus", "mem", "disk", "gpus"`}},
		{"node shape bare MiB number", func(p *ScalingPolicy) { p.Spec.NodeShape["mem"] = resource.MustParse("32768") },
			[]string{`spec.nodeShape[mem]: Invalid value: "32768": must be at least 1Mi: this is 32768 bytes (a number without a unit means bytes); write 32Gi or 32768Mi`}},
		{"node shape bare number not a multiple of 1024", func(p *ScalingPolicy) { p.Spec.NodeShape["disk"] = resource.MustParse("1000") },
			// 1000 is shown in its canonical form, 1k.
			[]string{`spec.nodeShape[disk]: Invalid value: "1k": must be at least 1Mi: this is 1000 bytes (a number without a unit means bytes); write 1000Mi`}},
		{"node shape under 1Mi", func(p *ScalingPolicy) { p.Spec.NodeShape["disk"] = resource.MustParse("512Ki") },
			[]string{`spec.nodeShape[disk]: Invalid value: "512Ki": must be at least 1Mi: write a byte quantity such as 32Gi or 32768Mi`}},
		{"node shape zero and negative", func(p *ScalingPolicy) {
			p.Spec.NodeShape["cpus"] = resource.MustParse("0")
			p.Spec.NodeShape["gpus"] = resource.MustParse("-1")
		}, []string{
			`spec.nodeShape[cpus]: Invalid value: "0": must be positive, in cores, such as 8`,
			`spec.nodeShape[gpus]: Invalid value: "-1": must be positive, in devices, such as 1`,
		}},
		{"node shape cpus in bytes", func(p *ScalingPolicy) { p.Spec.NodeShape["cpus"] = resource.MustParse("8Gi") },
			[]string{`spec.nodeShape[cpus]: Invalid value: "8Gi": cpus is a count of cores, not bytes: write it as 8, 0.5 or 500m`}},
		{"node shape fractional gpus", func(p *ScalingPolicy) { p.Spec.NodeShape["gpus"] = resource.MustParse("1.5") },
			[]string{`spec.nodeShape[gpus]: Invalid value: "1500m": gpus is a whole number of devices, such as 1 or 8`}},
		{"negative steps and seconds", func(p *ScalingPolicy) {
			*p.Spec.ScaleUp.MaxNodesPerStep, *p.Spec.ScaleUp.CooldownSeconds = -1, -2
			*p.Spec.ScaleDown.MaxNodesPerStep, *p.Spec.ScaleDown.StabilizationSeconds, *p.Spec.ScaleDown.DrainTimeoutSeconds = -3, -4, -5
		}, []string{
			"spec.scaleUp.maxNodesPerStep: Invalid value: -1: must not be negative (in nodes; 0 means unlimited)",
			"spec.scaleUp.cooldownSeconds: Invalid value: -2: must not be negative (in seconds; 0 means no cooldown)",
			"spec.scaleDown.maxNodesPerStep: Invalid value: -3: must not be negative (in nodes; 0 means unlimited)",
			"spec.scaleDown.stabilizationSeconds: Invalid value: -4: must not be negative (in seconds)",
			"spec.scaleDown.drainTimeoutSeconds: Invalid value: -5: must not be negative (in seconds)",
		}},
		{"interval zero", func(p *ScalingPolicy) { *p.Spec.IntervalSeconds = 0 },
			[]string{"spec.intervalSeconds: Invalid value: 0: must be at least 1: the time between two reconciles, in seconds (default 60)"}},
		{"mode", func(p *ScalingPolicy) { p.Spec.Mode = "dryrun" },
			[]string{`spec.mode: Unsupported value: "dryrun": supported values: "Enforce", "DryRun"`}},
		{"scale-down policy", func(p *ScalingPolicy) { p.Spec.ScaleDown.Policy = "Off" },
			[]string{`spec.scaleDown.policy: Unsupported value: "Off": supported values: "Enabled", "Disabled"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPolicy()
			c.mutate(p)
			errs := Validate(p)
			got := make([]string, len(errs))
			for i, e := range errs {
				got[i] = e.Error()
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("Validate() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	p := &ScalingPolicy{Spec: ScalingPolicySpec{Utilization: UtilizationSpec{ScaleDownPercent: ptr(int32(90))}}}
	SetDefaults(p)
	want := []string{
		"apiVersion: Required value: set apiVersion: lambdascale.io/v1alpha1",
		"kind: Required value: set kind: ScalingPolicy",
		"metadata.name: Required value: set a lowercase name such as general; it names the policy's status file",
		`spec.mesos.masters: Required value: list at least one Mesos master URL, such as "http://10.0.0.5:5050"`,
		"spec.autoScalingGroup.name: Required value: set the name of the pool's Auto Scaling group, such as mesos-agents-general",
		"spec.utilization.scaleDownPercent: Invalid value: 90: must be less than spec.utilization.scaleUpPercent (80)",
	}
	errs := Validate(p)
	if len(errs) != len(want) {
		t.Fatalf("Validate() gave %d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i := range want {
		if errs[i].Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, errs[i].Error(), want[i])
		}
	}
}

func TestValidateWithoutDefaultsAndNil(t *testing.T) {
	if errs := Validate(nil); len(errs) != 1 || errs[0].Error() != "<nil>: Required value: a ScalingPolicy object is required" {
		t.Errorf("Validate(nil) = %v", errs)
	}
	// Unset pointers are not dereferenced nor reported: only the required fields are.
	p := validPolicy()
	p.Spec = ScalingPolicySpec{Mesos: MesosSpec{Masters: []string{"http://m:5050"}}, AutoScalingGroup: AutoScalingGroupSpec{Name: "g"}}
	if errs := Validate(p); len(errs) != 0 {
		t.Errorf("Validate() of an undefaulted valid spec = %v, want none", errs)
	}
}
