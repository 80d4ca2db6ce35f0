package v1alpha1

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxAutoScalingGroupNameLength is the longest Auto Scaling group name AWS accepts.
const MaxAutoScalingGroupNameLength = 255

// Validate checks a policy after SetDefaults and returns every problem found, each with its
// field path and a detail saying what to write instead. Fields still unset (SetDefaults not
// called) are skipped rather than reported. A nil p is one error.
//
// metadata.name must be a DNS-1123 label (validation.IsDNS1123Label: at most 63 lowercase
// letters, digits and '-'), not merely a subdomain: the name becomes the policy's status file
// name, and a label keeps "<name>.<suffix>" well under the 255-byte file name limit, has no
// dot to be confused with an extension, and is still a valid Kubernetes object name.
func Validate(p *ScalingPolicy) field.ErrorList {
	if p == nil {
		return field.ErrorList{field.Required(nil, "a ScalingPolicy object is required")}
	}
	var errs field.ErrorList
	wantAPIVersion := GroupVersion.String()
	switch p.APIVersion {
	case wantAPIVersion:
	case "":
		errs = append(errs, field.Required(field.NewPath("apiVersion"), "set apiVersion: "+wantAPIVersion))
	default:
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), p.APIVersion, []string{wantAPIVersion}))
	}
	switch p.Kind {
	case Kind:
	case "":
		errs = append(errs, field.Required(field.NewPath("kind"), "set kind: "+Kind))
	default:
		errs = append(errs, field.NotSupported(field.NewPath("kind"), p.Kind, []string{Kind}))
	}
	errs = append(errs, validateName(p.Name, field.NewPath("metadata", "name"))...)
	errs = append(errs, validateSpec(&p.Spec, field.NewPath("spec"))...)
	return errs
}

func validateName(name string, path *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(path, "set a lowercase name such as general; it names the policy's status file")}
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return field.ErrorList{field.Invalid(path, name, strings.Join(msgs, "; ")+
			" (it becomes a file name: use lowercase letters, digits and '-', at most 63)")}
	}
	return nil
}

func validateSpec(s *ScalingPolicySpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateMesos(&s.Mesos, path.Child("mesos"))...)
	errs = append(errs, validateAutoScalingGroup(&s.AutoScalingGroup, path.Child("autoScalingGroup"))...)

	minPath, maxPath := path.Child("minNodes"), path.Child("maxNodes")
	errs = append(errs, nonNegative(s.MinNodes, minPath, "nodes")...)
	errs = append(errs, nonNegative(s.MaxNodes, maxPath, "nodes")...)
	if s.MinNodes != nil && s.MaxNodes != nil && *s.MinNodes >= 0 && *s.MaxNodes >= 0 && *s.MinNodes > *s.MaxNodes {
		errs = append(errs, field.Invalid(minPath, *s.MinNodes,
			fmt.Sprintf("must not be above %s (%d): lower minNodes or raise maxNodes", maxPath, *s.MaxNodes)))
	}

	errs = append(errs, validateNodeShape(s.NodeShape, path.Child("nodeShape"))...)
	errs = append(errs, validateUtilization(&s.Utilization, path.Child("utilization"))...)
	errs = append(errs, percent(s.ApplicationHeadroomPercent, path.Child("applicationHeadroomPercent"), 0)...)

	upPath := path.Child("scaleUp")
	errs = append(errs, nonNegative(s.ScaleUp.MaxNodesPerStep, upPath.Child("maxNodesPerStep"), "nodes; 0 means unlimited")...)
	errs = append(errs, nonNegative(s.ScaleUp.CooldownSeconds, upPath.Child("cooldownSeconds"), "seconds; 0 means no cooldown")...)
	if v := s.ScaleUp.RegistrationTimeoutSeconds; v != nil && *v < 1 {
		errs = append(errs, field.Invalid(upPath.Child("registrationTimeoutSeconds"), *v,
			"must be at least 1: the seconds a launched instance may take to register as an agent (default 900)"))
	}

	downPath := path.Child("scaleDown")
	switch s.ScaleDown.Policy {
	case ScaleDownPolicyEnabled, ScaleDownPolicyDisabled, "":
	default:
		errs = append(errs, field.NotSupported(downPath.Child("policy"), string(s.ScaleDown.Policy),
			[]ScaleDownPolicy{ScaleDownPolicyEnabled, ScaleDownPolicyDisabled}))
	}
	errs = append(errs, nonNegative(s.ScaleDown.MaxNodesPerStep, downPath.Child("maxNodesPerStep"), "nodes; 0 means unlimited")...)
	errs = append(errs, nonNegative(s.ScaleDown.StabilizationSeconds, downPath.Child("stabilizationSeconds"), "seconds")...)
	errs = append(errs, nonNegative(s.ScaleDown.DrainTimeoutSeconds, downPath.Child("drainTimeoutSeconds"), "seconds")...)
	errs = append(errs, percent(s.ScaleDown.MaxUnregisteredPercent, downPath.Child("maxUnregisteredPercent"), 0)...)
	switch s.ScaleDown.DrainTimeoutAction {
	case DrainTimeoutAbort, DrainTimeoutForce, "":
	default:
		errs = append(errs, field.NotSupported(downPath.Child("drainTimeoutAction"), string(s.ScaleDown.DrainTimeoutAction),
			[]DrainTimeoutAction{DrainTimeoutAbort, DrainTimeoutForce}))
	}
	for i, app := range s.ScaleDown.ProtectedApplications {
		if strings.TrimSpace(app) == "" || app == "*" || app == "/" {
			errs = append(errs, field.Invalid(downPath.Child("protectedApplications").Index(i), app,
				"name an application id (/db/primary) or a prefix (/db/ or /db*); protecting everything is spec.scaleDown.policy: Disabled"))
		}
	}
	errs = append(errs, validateOverhead(s.AutoScalingGroup.InstanceOverhead, path.Child("autoScalingGroup", "instanceOverhead"))...)

	if s.IntervalSeconds != nil && *s.IntervalSeconds < 1 {
		errs = append(errs, field.Invalid(path.Child("intervalSeconds"), *s.IntervalSeconds,
			"must be at least 1: the time between two reconciles, in seconds (default 60)"))
	}
	switch s.Mode {
	case ModeEnforce, ModeDryRun, "":
	default:
		errs = append(errs, field.NotSupported(path.Child("mode"), string(s.Mode), []Mode{ModeEnforce, ModeDryRun}))
	}
	return errs
}

func validateMesos(m *MesosSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	mastersPath := path.Child("masters")
	if len(m.Masters) == 0 {
		errs = append(errs, field.Required(mastersPath,
			`list at least one Mesos master URL, such as "http://10.0.0.5:5050"`))
	}
	seen := make(map[string]int, len(m.Masters))
	for i, u := range m.Masters {
		p := mastersPath.Index(i)
		if msg := checkBaseURL(u); msg != "" {
			errs = append(errs, field.Invalid(p, u, msg))
			continue
		}
		key := strings.TrimSuffix(strings.ToLower(u), "/")
		if j, dup := seen[key]; dup {
			d := field.Duplicate(p, u)
			d.Detail = fmt.Sprintf("same master as %s: list each master once", mastersPath.Index(j))
			errs = append(errs, d)
			continue
		}
		seen[key] = i
	}
	if m.Role != "" {
		if msg := checkRole(m.Role); msg != "" {
			errs = append(errs, field.Invalid(path.Child("role"), m.Role, msg))
		}
	}
	if m.AgentSelector != nil {
		attrsPath := path.Child("agentSelector", "matchAttributes")
		for _, k := range sortedKeys(m.AgentSelector.MatchAttributes) {
			v := m.AgentSelector.MatchAttributes[k]
			switch {
			case strings.TrimSpace(k) == "":
				errs = append(errs, field.Invalid(attrsPath.Key(k), k, "attribute name must not be empty: write it as in the agent's --attributes, such as pool"))
			case v == "":
				errs = append(errs, field.Required(attrsPath.Key(k), "give the attribute value the pool's agents have, such as pool: general"))
			}
		}
	}
	if m.CredentialsFile != "" {
		p := path.Child("credentialsFile")
		switch {
		case strings.ContainsFunc(m.CredentialsFile, unicode.IsControl):
			errs = append(errs, field.Invalid(p, m.CredentialsFile, "must not contain control characters"))
		case !filepath.IsAbs(m.CredentialsFile):
			errs = append(errs, field.Invalid(p, m.CredentialsFile,
				"must be an absolute path, such as /etc/lambdascale/mesos: a relative path would depend on the controller's working directory"))
		}
	}
	if m.MarathonURL != "" {
		if msg := checkBaseURL(m.MarathonURL); msg != "" {
			errs = append(errs, field.Invalid(path.Child("marathonURL"), m.MarathonURL,
				strings.Replace(msg, "http://10.0.0.5:5050", "http://marathon.example:8080", 1)))
		}
	}
	return errs
}

// checkBaseURL returns what is wrong with a master or Marathon base URL, or "" when it is
// an absolute http or https URL with a host.
func checkBaseURL(s string) string {
	const want = `must be an absolute http:// or https:// URL with a host, such as "http://10.0.0.5:5050"`
	if strings.TrimSpace(s) == "" {
		return want
	}
	if s != strings.TrimSpace(s) {
		return want + ": remove the surrounding spaces"
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		if !strings.Contains(s, "://") {
			return want + fmt.Sprintf(": add the scheme, as in %q", "http://"+s)
		}
		if err != nil {
			if ue, ok := errors.AsType[*url.Error](err); ok {
				err = ue.Err
			}
			return want + ": " + err.Error()
		}
		return want
	}
	switch u.Scheme {
	case "http", "https":
	default:
		return want + fmt.Sprintf(": scheme %q is not supported", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return want + ": the host is missing"
	}
	if u.User != nil {
		return "must not hold a user or password: put credentials in spec.mesos.credentialsFile"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return want + fmt.Sprintf(": port %s is not in 1-65535", port)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "must be a base URL without a query or fragment, such as \"http://10.0.0.5:5050\""
	}
	return ""
}

// checkRole applies Mesos's role name rules (a role must be a valid directory name; a
// hierarchical role is such names joined by '/'), returning "" when the role is valid.
func checkRole(role string) string {
	const how = `: write "*" for unreserved resources, or a Mesos role name such as "analytics" or "eng/frontend"`
	if role == DefaultRole {
		return ""
	}
	for _, part := range strings.Split(role, "/") {
		switch {
		case part == "":
			return "must not start or end with '/' or hold '//'" + how
		case part == "." || part == "..":
			return "must not be or contain the path parts '.' or '..'" + how
		case part == "*":
			return "'*' is only valid as the whole role" + how
		case strings.HasPrefix(part, "-"):
			return "must not start with '-'" + how
		case strings.ContainsFunc(part, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\\' }):
			return "must not contain whitespace, control characters or '\\'" + how
		}
	}
	return ""
}

// awsRegion matches AWS region names such as us-east-1, eu-central-2 and us-gov-west-1.
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

func validateAutoScalingGroup(g *AutoScalingGroupSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	namePath := path.Child("name")
	switch {
	case g.Name == "":
		errs = append(errs, field.Required(namePath, "set the name of the pool's Auto Scaling group, such as mesos-agents-general"))
	case len(g.Name) > MaxAutoScalingGroupNameLength:
		errs = append(errs, field.TooLong(namePath, g.Name, MaxAutoScalingGroupNameLength))
	case strings.HasPrefix(g.Name, "arn:"):
		errs = append(errs, field.Invalid(namePath, g.Name, "give the group's name, not its ARN: the part after autoScalingGroupName/"))
	case g.Name != strings.TrimSpace(g.Name) || strings.ContainsFunc(g.Name, unicode.IsControl):
		errs = append(errs, field.Invalid(namePath, g.Name, "must not start or end with spaces or contain control characters: copy the name exactly as AWS shows it"))
	}
	if g.Region != "" && !awsRegion.MatchString(g.Region) {
		errs = append(errs, field.Invalid(path.Child("region"), g.Region,
			"must be an AWS region name such as us-east-1, or be left out to use the AWS default region"))
	}
	return errs
}

func validateUtilization(u *UtilizationSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	resPath := path.Child("resources")
	if u.Resources != nil && len(u.Resources) == 0 {
		errs = append(errs, field.Required(resPath, "list at least one resource to count, such as [cpus, mem], or leave resources out for that default"))
	}
	seen := make(map[string]int, len(u.Resources))
	for i, r := range u.Resources {
		p := resPath.Index(i)
		if !isSupportedResource(r) {
			errs = append(errs, field.NotSupported(p, r, SupportedResources))
			continue
		}
		if j, dup := seen[r]; dup {
			d := field.Duplicate(p, r)
			d.Detail = fmt.Sprintf("already listed at %s: list each resource once", resPath.Index(j))
			errs = append(errs, d)
			continue
		}
		seen[r] = i
	}
	upPath, downPath := path.Child("scaleUpPercent"), path.Child("scaleDownPercent")
	upErrs := percent(u.ScaleUpPercent, upPath, 1)
	downErrs := percent(u.ScaleDownPercent, downPath, 0)
	errs = append(errs, upErrs...)
	errs = append(errs, downErrs...)
	if len(upErrs) == 0 && len(downErrs) == 0 && u.ScaleUpPercent != nil && u.ScaleDownPercent != nil &&
		*u.ScaleDownPercent >= *u.ScaleUpPercent {
		errs = append(errs, field.Invalid(downPath, *u.ScaleDownPercent,
			fmt.Sprintf("must be less than %s (%d)", upPath, *u.ScaleUpPercent)))
	}
	return errs
}

func isSupportedResource(name string) bool { return slices.Contains(SupportedResources, name) }

// oneMiB is the smallest mem or disk a node shape may state.
var oneMiB = resource.MustParse("1Mi")

func validateNodeShape(shape map[string]resource.Quantity, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(shape) {
		q := shape[k]
		p := path.Key(k)
		if !isSupportedResource(k) {
			errs = append(errs, field.NotSupported(p, k, SupportedResources))
			continue
		}
		if q.Sign() <= 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be positive"+shapeExample(k)))
			continue
		}
		switch k {
		case ResourceCPUs:
			if q.Format == resource.BinarySI {
				errs = append(errs, field.Invalid(p, q.String(), "cpus is a count of cores, not bytes: write it as 8, 0.5 or 500m"))
			}
		case ResourceGPUs:
			if _, whole := q.AsInt64(); !whole || q.Format == resource.BinarySI {
				errs = append(errs, field.Invalid(p, q.String(), "gpus is a whole number of devices, such as 1 or 8"))
			}
		case ResourceMem, ResourceDisk:
			if q.Cmp(oneMiB) < 0 {
				errs = append(errs, field.Invalid(p, q.String(), "must be at least 1Mi: "+bytesHint(q)))
			}
		}
	}
	return errs
}

func shapeExample(name string) string {
	switch name {
	case ResourceCPUs:
		return ", in cores, such as 8"
	case ResourceMem:
		return ", as a byte quantity such as 32Gi"
	case ResourceDisk:
		return ", as a byte quantity such as 100Gi"
	default:
		return ", in devices, such as 1"
	}
}

// bytesHint explains a too-small mem or disk quantity. The usual cause is a bare number meant
// as MiB (Mesos's unit), which a quantity reads as bytes.
func bytesHint(q resource.Quantity) string {
	n, whole := q.AsInt64()
	if !whole || q.Format == resource.BinarySI || n <= 0 {
		return "write a byte quantity such as 32Gi or 32768Mi"
	}
	const why = "this is %d bytes (a number without a unit means bytes); "
	if n%1024 == 0 {
		return fmt.Sprintf(why+"write %dGi or %dMi", n, n/1024, n)
	}
	return fmt.Sprintf(why+"write %dMi", n, n)
}

func nonNegative(v *int32, path *field.Path, unit string) field.ErrorList {
	if v == nil || *v >= 0 {
		return nil
	}
	return field.ErrorList{field.Invalid(path, *v, "must not be negative (in "+unit+")")}
}

func percent(v *int32, path *field.Path, lowest int32) field.ErrorList {
	if v == nil || (*v >= lowest && *v <= 100) {
		return nil
	}
	return field.ErrorList{field.Invalid(path, *v, fmt.Sprintf("must be a whole percent from %d to 100", lowest))}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// validateOverhead checks spec.autoScalingGroup.instanceOverhead: keys cpus, mem, disk with
// non-negative values; mem and disk are byte quantities.
func validateOverhead(o map[string]resource.Quantity, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedKeys(o) {
		q := o[name]
		p := path.Key(name)
		switch name {
		case ResourceCPUs, ResourceMem, ResourceDisk:
		default:
			errs = append(errs, field.NotSupported(p, name, []string{ResourceCPUs, ResourceMem, ResourceDisk}))
			continue
		}
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must not be negative"))
		}
	}
	return errs
}
