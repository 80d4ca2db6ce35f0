package fakeaws

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// autoScalingNS is the XML namespace of Auto Scaling answers.
const autoScalingNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"

// autoScaling answers one Auto Scaling action. Called with s.mu, after advance(now).
func (s *Server) autoScaling(action string, form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	switch action {
	case "DescribeAutoScalingGroups":
		return s.describeAutoScalingGroups(form, reqID)
	case "DescribeScalingActivities":
		return s.describeScalingActivities(form, reqID)
	case "SetDesiredCapacity":
		return s.setDesiredCapacity(form, now, reqID)
	case "TerminateInstanceInAutoScalingGroup":
		return s.terminateInstanceInAutoScalingGroup(form, now, reqID)
	case "SetInstanceProtection":
		return s.setInstanceProtection(form, reqID)
	case "UpdateAutoScalingGroup":
		return s.updateAutoScalingGroup(form, now, reqID)
	case "CompleteLifecycleAction":
		return s.completeLifecycleAction(form, now, reqID)
	case "EnterStandby":
		return s.enterStandby(form, now, reqID)
	case "ExitStandby":
		return s.exitStandby(form, now, reqID)
	case "DetachInstances":
		return s.detachInstances(form, now, reqID)
	case "SuspendProcesses":
		return s.suspendProcesses(form, now, reqID, true)
	case "ResumeProcesses":
		return s.suspendProcesses(form, now, reqID, false)
	case "SetInstanceHealth":
		return s.setInstanceHealth(form, now, reqID)
	case "":
		return nil, &apiError{code: "MissingAction", message: "The request must contain the parameter Action", status: http.StatusBadRequest}
	}
	return nil, &apiError{code: "InvalidAction", message: fmt.Sprintf("The action %s is not valid for this web service.", action), status: http.StatusBadRequest}
}

// list is an awsQuery list: <Name><member>...</member></Name>.
type list[T any] struct {
	Member []T `xml:"member"`
}

// responseMetadata closes every awsQuery answer.
type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// marshalResponse writes <{action}Response xmlns=...>{result}<ResponseMetadata/></...>;
// result nil writes no Result element (actions without output).
func marshalResponse(action, reqID string, result any) ([]byte, *apiError) {
	type response struct {
		XMLName  xml.Name
		Xmlns    string           `xml:"xmlns,attr"`
		Result   any              `xml:",omitempty"`
		Metadata responseMetadata `xml:"ResponseMetadata"`
	}
	r := response{XMLName: xml.Name{Local: action + "Response"}, Xmlns: autoScalingNS, Metadata: responseMetadata{RequestID: reqID}}
	if result != nil {
		r.Result = result
	}
	b, err := xml.Marshal(r)
	if err != nil {
		return nil, &apiError{code: "InternalFailure", message: "marshalling the answer: " + err.Error(), status: http.StatusInternalServerError}
	}
	return append(b, '\n'), nil
}

type xmlGroup struct {
	Name                             string             `xml:"AutoScalingGroupName"`
	ARN                              string             `xml:"AutoScalingGroupARN"`
	LaunchTemplate                   *xmlLaunchTemplate `xml:"LaunchTemplate,omitempty"`
	MixedInstancesPolicy             *xmlMixedInstances `xml:"MixedInstancesPolicy,omitempty"`
	MinSize                          int32              `xml:"MinSize"`
	MaxSize                          int32              `xml:"MaxSize"`
	DesiredCapacity                  int32              `xml:"DesiredCapacity"`
	DefaultCooldown                  int32              `xml:"DefaultCooldown"`
	AvailabilityZones                list[string]       `xml:"AvailabilityZones"`
	LoadBalancerNames                list[string]       `xml:"LoadBalancerNames"`
	TargetGroupARNs                  list[string]       `xml:"TargetGroupARNs"`
	HealthCheckType                  string             `xml:"HealthCheckType"`
	HealthCheckGracePeriod           int32              `xml:"HealthCheckGracePeriod"`
	Instances                        list[xmlInstance]  `xml:"Instances"`
	CreatedTime                      string             `xml:"CreatedTime"`
	SuspendedProcesses               list[xmlSuspended] `xml:"SuspendedProcesses"`
	VPCZoneIdentifier                string             `xml:"VPCZoneIdentifier"`
	EnabledMetrics                   list[string]       `xml:"EnabledMetrics"`
	Tags                             list[string]       `xml:"Tags"`
	TerminationPolicies              list[string]       `xml:"TerminationPolicies"`
	NewInstancesProtectedFromScaleIn bool               `xml:"NewInstancesProtectedFromScaleIn"`
	ServiceLinkedRoleARN             string             `xml:"ServiceLinkedRoleARN"`
	CapacityRebalance                bool               `xml:"CapacityRebalance"`
	TrafficSources                   list[string]       `xml:"TrafficSources"`
	AvailabilityZoneDistribution     *xmlAZDistribution `xml:"AvailabilityZoneDistribution,omitempty"`
}

type xmlAZDistribution struct {
	CapacityDistributionStrategy string `xml:"CapacityDistributionStrategy"`
}

type xmlLaunchTemplate struct {
	LaunchTemplateID   string `xml:"LaunchTemplateId"`
	LaunchTemplateName string `xml:"LaunchTemplateName"`
	Version            string `xml:"Version"`
}

type xmlMixedInstances struct {
	LaunchTemplate struct {
		Specification xmlLaunchTemplate `xml:"LaunchTemplateSpecification"`
		Overrides     list[xmlOverride] `xml:"Overrides"`
	} `xml:"LaunchTemplate"`
}

type xmlOverride struct {
	InstanceType     string `xml:"InstanceType"`
	WeightedCapacity string `xml:"WeightedCapacity,omitempty"`
}

type xmlInstance struct {
	InstanceID           string             `xml:"InstanceId"`
	InstanceType         string             `xml:"InstanceType"`
	AvailabilityZone     string             `xml:"AvailabilityZone"`
	LifecycleState       string             `xml:"LifecycleState"`
	HealthStatus         string             `xml:"HealthStatus"`
	LaunchTemplate       *xmlLaunchTemplate `xml:"LaunchTemplate,omitempty"`
	ProtectedFromScaleIn bool               `xml:"ProtectedFromScaleIn"`
	WeightedCapacity     string             `xml:"WeightedCapacity,omitempty"`
}

type xmlSuspended struct {
	ProcessName      string `xml:"ProcessName"`
	SuspensionReason string `xml:"SuspensionReason"`
}

type xmlActivity struct {
	ActivityID           string `xml:"ActivityId"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName"`
	Description          string `xml:"Description"`
	Cause                string `xml:"Cause"`
	StartTime            string `xml:"StartTime"`
	EndTime              string `xml:"EndTime,omitempty"`
	StatusCode           string `xml:"StatusCode"`
	StatusMessage        string `xml:"StatusMessage,omitempty"`
	Progress             int32  `xml:"Progress"`
	Details              string `xml:"Details"`
	AutoScalingGroupARN  string `xml:"AutoScalingGroupARN"`
}

// launchTemplate is the template every fake group launches from.
var launchTemplate = xmlLaunchTemplate{LaunchTemplateID: "lt-0fa4e2b5c1d3e7a90", LaunchTemplateName: "mesos-agent", Version: "$Latest"}

// xmlOf renders g.
func (s *Server) xmlOf(g *group) xmlGroup {
	x := xmlGroup{
		Name:                             g.name,
		ARN:                              g.arn,
		MinSize:                          g.min,
		MaxSize:                          g.max,
		DesiredCapacity:                  g.desired,
		DefaultCooldown:                  300,
		AvailabilityZones:                list[string]{Member: g.azs},
		HealthCheckType:                  "EC2",
		HealthCheckGracePeriod:           300,
		CreatedTime:                      awsTime(g.created),
		TerminationPolicies:              list[string]{Member: []string{"Default"}},
		NewInstancesProtectedFromScaleIn: g.protectNew,
		ServiceLinkedRoleARN:             fmt.Sprintf("arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", s.account),
		AvailabilityZoneDistribution:     &xmlAZDistribution{CapacityDistributionStrategy: "balanced-best-effort"},
	}
	var subnets []string
	for _, az := range g.azs {
		subnets = append(subnets, "subnet-"+strings.ReplaceAll(az, "-", ""))
	}
	x.VPCZoneIdentifier = strings.Join(subnets, ",")
	if len(g.types) > 0 {
		m := &xmlMixedInstances{}
		m.LaunchTemplate.Specification = launchTemplate
		for _, t := range g.types {
			o := xmlOverride{InstanceType: t.InstanceType}
			if t.WeightedCapacity > 0 {
				o.WeightedCapacity = strconv.Itoa(int(t.WeightedCapacity))
			}
			m.LaunchTemplate.Overrides.Member = append(m.LaunchTemplate.Overrides.Member, o)
		}
		x.MixedInstancesPolicy = m
	} else {
		lt := launchTemplate
		x.LaunchTemplate = &lt
	}
	for _, in := range g.members {
		xi := xmlInstance{
			InstanceID:           in.id,
			InstanceType:         in.instanceType,
			AvailabilityZone:     in.az,
			LifecycleState:       in.state,
			HealthStatus:         in.health,
			ProtectedFromScaleIn: in.protected,
		}
		lt := launchTemplate
		xi.LaunchTemplate = &lt
		if in.weight > 0 {
			xi.WeightedCapacity = strconv.Itoa(int(in.weight))
		}
		x.Instances.Member = append(x.Instances.Member, xi)
	}
	for _, p := range g.suspended {
		x.SuspendedProcesses.Member = append(x.SuspendedProcesses.Member, xmlSuspended{
			ProcessName: p.process, SuspensionReason: fmt.Sprintf("User suspended at %s", awsTime(p.at)),
		})
	}
	return x
}

// maxRecords reads MaxRecords: def when absent, a ValidationError outside [1, 100].
func maxRecords(form url.Values, def int) (int, *apiError) {
	v := form.Get("MaxRecords")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, validation("1 validation error detected: Value '%s' at 'maxRecords' failed to satisfy constraint: Member must be a number", v)
	}
	if n > 100 {
		return 0, validation("1 validation error detected: Value '%d' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100", n)
	}
	if n < 1 {
		return 0, validation("1 validation error detected: Value '%d' at 'maxRecords' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
	}
	return n, nil
}

// pageToken and parseToken encode the offset of the next page.
func pageToken(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte("fakeaws:" + strconv.Itoa(offset)))
}

func parseToken(tok string) (int, *apiError) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.StdEncoding.DecodeString(tok)
	rest, ok := strings.CutPrefix(string(b), "fakeaws:")
	n, aerr := strconv.Atoi(rest)
	if err != nil || !ok || aerr != nil || n < 0 {
		return 0, &apiError{code: "InvalidNextToken", message: "The token '" + tok + "' is invalid.", status: http.StatusBadRequest}
	}
	return n, nil
}

// page returns the window [lo, hi) of n sorted results that the request's NextToken and
// limit (0 for none) select, and the token of the next page ("" after the last).
func page(n, limit int, token string) (lo, hi int, next string, aerr *apiError) {
	lo, aerr = parseToken(token)
	if aerr != nil {
		return 0, 0, "", aerr
	}
	lo = min(lo, n)
	hi = n
	if limit > 0 {
		hi = min(lo+limit, n)
	}
	if hi < n {
		next = pageToken(hi)
	}
	return lo, hi, next, nil
}

// describeAutoScalingGroups answers DescribeAutoScalingGroups. Names that match no group are
// left out, as AWS does: an unknown name is not an error.
func (s *Server) describeAutoScalingGroups(form url.Values, reqID string) ([]byte, *apiError) {
	limit, aerr := maxRecords(form, 50)
	if aerr != nil {
		return nil, aerr
	}
	names := listParam(form, "AutoScalingGroupNames.member")
	if len(names) > limit {
		// AWS refuses more names than MaxRecords ("By default, you can only specify up to 50
		// names. You can optionally increase this limit using the MaxRecords property"); the
		// wording of its message is not confirmed.
		return nil, validation("The number of AutoScalingGroupNames (%d) exceeds MaxRecords (%d).", len(names), limit)
	}
	if s.maxPage > 0 && limit > s.maxPage {
		limit = s.maxPage
	}
	var matched []*group
	if len(names) == 0 {
		for _, g := range s.groups {
			matched = append(matched, g)
		}
	} else {
		seen := map[string]bool{}
		for _, n := range names {
			if g, ok := s.groups[n]; ok && !seen[n] {
				seen[n] = true
				matched = append(matched, g)
			}
		}
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].name < matched[j].name })

	offset, end, next, aerr := page(len(matched), limit, form.Get("NextToken"))
	if aerr != nil {
		return nil, aerr
	}
	type result struct {
		XMLName   xml.Name       `xml:"DescribeAutoScalingGroupsResult"`
		Groups    list[xmlGroup] `xml:"AutoScalingGroups"`
		NextToken string         `xml:"NextToken,omitempty"`
	}
	r := result{NextToken: next}
	for _, g := range matched[offset:end] {
		r.Groups.Member = append(r.Groups.Member, s.xmlOf(g))
	}
	return marshalResponse("DescribeAutoScalingGroups", reqID, r)
}

// xmlActivityOf renders a.
func (s *Server) xmlActivityOf(a *activity) xmlActivity {
	x := xmlActivity{
		ActivityID:           a.id,
		AutoScalingGroupName: a.group,
		Description:          a.description,
		Cause:                a.cause,
		StartTime:            awsTime(a.start),
		StatusCode:           a.status,
		StatusMessage:        a.statusMessage,
		Progress:             a.progress,
		Details:              a.details,
	}
	if g, ok := s.groups[a.group]; ok {
		x.AutoScalingGroupARN = g.arn
	}
	if !a.end.IsZero() {
		x.EndTime = awsTime(a.end)
	}
	return x
}

// describeScalingActivities answers DescribeScalingActivities, newest first.
func (s *Server) describeScalingActivities(form url.Values, reqID string) ([]byte, *apiError) {
	limit, aerr := maxRecords(form, 100)
	if aerr != nil {
		return nil, aerr
	}
	name := form.Get("AutoScalingGroupName")
	ids := map[string]bool{}
	for _, id := range listParam(form, "ActivityIds.member") {
		ids[id] = true
	}
	var matched []*activity
	for i := len(s.activities) - 1; i >= 0; i-- { // newest first
		a := s.activities[i]
		if (name == "" || a.group == name) && (len(ids) == 0 || ids[a.id]) {
			matched = append(matched, a)
		}
	}
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].start.After(matched[j].start) })
	offset, end, next, aerr := page(len(matched), limit, form.Get("NextToken"))
	if aerr != nil {
		return nil, aerr
	}
	type result struct {
		XMLName    xml.Name          `xml:"DescribeScalingActivitiesResult"`
		Activities list[xmlActivity] `xml:"Activities"`
		NextToken  string            `xml:"NextToken,omitempty"`
	}
	r := result{NextToken: next}
	for _, a := range matched[offset:end] {
		r.Activities.Member = append(r.Activities.Member, s.xmlActivityOf(a))
	}
	return marshalResponse("DescribeScalingActivities", reqID, r)
}

// requiredGroup returns the group named by AutoScalingGroupName.
func (s *Server) requiredGroup(form url.Values) (*group, *apiError) {
	name := form.Get("AutoScalingGroupName")
	if name == "" {
		return nil, validation("1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null")
	}
	g, ok := s.groups[name]
	if !ok {
		// The text AWS answers SetDesiredCapacity and UpdateAutoScalingGroup for an unknown
		// group (other actions word it differently).
		return nil, validation("AutoScalingGroup name not found - null")
	}
	return g, nil
}

// intParam reads a required integer parameter named field in AWS's error texts.
func intParam(form url.Values, key, field string) (int32, *apiError) {
	v := form.Get(key)
	if v == "" {
		return 0, validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a number", v, field)
	}
	return int32(n), nil
}

// setDesiredCapacity answers SetDesiredCapacity, then converges the group.
func (s *Server) setDesiredCapacity(form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	g, aerr := s.requiredGroup(form)
	if aerr != nil {
		return nil, aerr
	}
	n, aerr := intParam(form, "DesiredCapacity", "desiredCapacity")
	if aerr != nil {
		return nil, aerr
	}
	if n > g.max {
		return nil, validation("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", n, g.max)
	}
	if n < g.min {
		return nil, validation("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", n, g.min)
	}
	if n != g.desired {
		g.cause = fmt.Sprintf("At %s a user request explicitly set group desired capacity changing the desired capacity from %d to %d.",
			awsTime(now), g.desired, n)
		g.desired = n
		s.converge(g, now)
	}
	return marshalResponse("SetDesiredCapacity", reqID, nil)
}

// terminateInstanceInAutoScalingGroup answers TerminateInstanceInAutoScalingGroup. Like AWS
// it terminates an instance protected from scale in: protection only keeps AWS from choosing
// it.
func (s *Server) terminateInstanceInAutoScalingGroup(form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	id := form.Get("InstanceId")
	if id == "" {
		return nil, validation("1 validation error detected: Value null at 'instanceId' failed to satisfy constraint: Member must not be null")
	}
	decrement, err := strconv.ParseBool(form.Get("ShouldDecrementDesiredCapacity"))
	if err != nil {
		return nil, validation("1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	in, ok := s.instances[id]
	if !ok || in.gone || in.detached {
		return nil, validation("Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	g := s.groups[in.group]
	switch in.state {
	case StateTerminating, StateTerminatingWait, StateTerminatingProceed, StateDetaching:
		// Not a confirmed AWS text: AWS refuses to terminate an instance twice.
		return nil, validation("The instance %s is already terminating.", id)
	}
	// While Terminate is suspended the fake still honors this explicit request: AWS's
	// documentation says the suspension stops the group's own scale-in, and does not say
	// what it does to TerminateInstanceInAutoScalingGroup (not confirmed either way).
	from := g.capacity()
	var cause string
	if decrement {
		if g.desired-in.capacity() < g.min {
			return nil, validation("Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.min)
		}
		cause = fmt.Sprintf("At %s instance %s was taken out of service in response to a user request, shrinking the capacity from %d to %d.",
			awsTime(now), id, from, from-in.capacity())
		g.cause = fmt.Sprintf("At %s a user request explicitly set group desired capacity changing the desired capacity from %d to %d.",
			awsTime(now), g.desired, g.desired-in.capacity())
		g.desired -= in.capacity()
	} else {
		cause = fmt.Sprintf("At %s instance %s was taken out of service in response to a user request.", awsTime(now), id)
	}
	a := s.terminate(in, now, cause)
	s.converge(g, now) // launches the replacement when not decrementing
	type result struct {
		XMLName  xml.Name    `xml:"TerminateInstanceInAutoScalingGroupResult"`
		Activity xmlActivity `xml:"Activity"`
	}
	return marshalResponse("TerminateInstanceInAutoScalingGroup", reqID, result{Activity: s.xmlActivityOf(a)})
}

// setInstanceProtection answers SetInstanceProtection.
func (s *Server) setInstanceProtection(form url.Values, reqID string) ([]byte, *apiError) {
	g, aerr := s.requiredGroup(form)
	if aerr != nil {
		return nil, aerr
	}
	ids := listParam(form, "InstanceIds.member")
	if len(ids) == 0 {
		return nil, validation("1 validation error detected: Value null at 'instanceIds' failed to satisfy constraint: Member must not be null")
	}
	protect, err := strconv.ParseBool(form.Get("ProtectedFromScaleIn"))
	if err != nil {
		return nil, validation("1 validation error detected: Value null at 'protectedFromScaleIn' failed to satisfy constraint: Member must not be null")
	}
	var members []*instance
	for _, id := range ids {
		in := g.member(id)
		if in == nil {
			return nil, validation("The instance %s is not part of Auto Scaling group %s.", id, g.name)
		}
		members = append(members, in)
	}
	for _, in := range members {
		in.protected = protect
	}
	// The action has an output shape without members: AWS answers an empty Result element.
	type result struct {
		XMLName xml.Name `xml:"SetInstanceProtectionResult"`
	}
	return marshalResponse("SetInstanceProtection", reqID, result{})
}

// updateAutoScalingGroup answers UpdateAutoScalingGroup for MinSize, MaxSize and
// DesiredCapacity, with AWS's rules: a new MinSize above the desired capacity raises it, a
// new MaxSize below it lowers it.
func (s *Server) updateAutoScalingGroup(form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	g, aerr := s.requiredGroup(form)
	if aerr != nil {
		return nil, aerr
	}
	lo, hi, want := g.min, g.max, g.desired
	var setDesired bool
	for _, p := range []struct {
		key, field string
		dst        *int32
		set        *bool
	}{
		{"MinSize", "minSize", &lo, nil},
		{"MaxSize", "maxSize", &hi, nil},
		{"DesiredCapacity", "desiredCapacity", &want, &setDesired},
	} {
		if form.Get(p.key) == "" {
			continue
		}
		v, aerr := intParam(form, p.key, p.field)
		if aerr != nil {
			return nil, aerr
		}
		*p.dst = v
		if p.set != nil {
			*p.set = true
		}
	}
	if lo > hi {
		return nil, validation("Max bound, %d, must be greater than or equal to min bound, %d", hi, lo)
	}
	if setDesired && (want < lo || want > hi) {
		return nil, validation("Desired capacity:%d must be between the specified min size:%d and max size:%d", want, lo, hi)
	}
	if !setDesired {
		want = max(min(want, hi), lo)
	}
	if want != g.desired {
		g.cause = fmt.Sprintf("At %s a user request update of AutoScalingGroup constraints to min: %d, max: %d, desired: %d changing the desired capacity from %d to %d.",
			awsTime(now), lo, hi, want, g.desired, want)
	}
	g.min, g.max, g.desired = lo, hi, want
	s.converge(g, now)
	return marshalResponse("UpdateAutoScalingGroup", reqID, nil)
}

// xmlEscape escapes s for XML character data.
func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
