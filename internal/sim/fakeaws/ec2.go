package fakeaws

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ec2NS is the XML namespace of EC2 answers.
const ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ec2 answers one EC2 action. Called with s.mu, after advance(now).
func (s *Server) ec2(action string, form url.Values, _ time.Time, reqID string) ([]byte, *apiError) {
	switch action {
	case "DescribeInstances":
		return s.describeInstances(form, reqID)
	case "DescribeInstanceTypes":
		return s.describeInstanceTypes(form, reqID)
	case "":
		return nil, &apiError{code: "MissingAction", message: "The request must contain the parameter Action", status: http.StatusBadRequest}
	}
	return nil, &apiError{code: "InvalidAction", message: fmt.Sprintf("The action %s is not valid for this web service.", action), status: http.StatusBadRequest}
}

type ec2Reservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Groups        struct{}      `xml:"groupSet"`
	Instances     []ec2Instance `xml:"instancesSet>item"`
}

type ec2Instance struct {
	InstanceID     string `xml:"instanceId"`
	ImageID        string `xml:"imageId"`
	InstanceState  ec2State
	PrivateDNSName string `xml:"privateDnsName"`
	DNSName        string `xml:"dnsName"`
	Reason         string `xml:"reason"`
	AmiLaunchIndex int    `xml:"amiLaunchIndex"`
	InstanceType   string `xml:"instanceType"`
	LaunchTime     string `xml:"launchTime"`
	Placement      struct {
		AvailabilityZone string `xml:"availabilityZone"`
		GroupName        string `xml:"groupName"`
		Tenancy          string `xml:"tenancy"`
	} `xml:"placement"`
	Monitoring struct {
		State string `xml:"state"`
	} `xml:"monitoring"`
	SubnetID         string `xml:"subnetId,omitempty"`
	VpcID            string `xml:"vpcId"`
	PrivateIPAddress string `xml:"privateIpAddress,omitempty"`
	Architecture     string `xml:"architecture"`
	RootDeviceType   string `xml:"rootDeviceType"`
}

type ec2State struct {
	XMLName xml.Name `xml:"instanceState"`
	Code    int      `xml:"code"`
	Name    string   `xml:"name"`
}

// ec2StateCodes are EC2's numeric instance state codes.
var ec2StateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

// describeInstances answers DescribeInstances for InstanceId.N (every id must exist, as in
// EC2) or for the instance-id filter (unknown ids are left out), with MaxResults/NextToken
// paging. Instances that left their group stay visible as "terminated", as in EC2.
func (s *Server) describeInstances(form url.Values, reqID string) ([]byte, *apiError) {
	ids := listParam(form, "InstanceId")
	var filterIDs []string
	var filtered bool
	for i := 1; ; i++ {
		name := form.Get(fmt.Sprintf("Filter.%d.Name", i))
		if name == "" {
			break
		}
		if name != "instance-id" {
			return nil, &apiError{code: "InvalidParameterValue", message: fmt.Sprintf("The filter '%s' is invalid", name), status: http.StatusBadRequest}
		}
		filtered = true
		filterIDs = append(filterIDs, listParam(form, fmt.Sprintf("Filter.%d.Value", i))...)
	}
	limit := 0
	if v := form.Get("MaxResults"); v != "" {
		if len(ids) > 0 {
			return nil, &apiError{code: "InvalidParameterCombination", message: "The parameter instancesSet cannot be used with the parameter maxResults", status: http.StatusBadRequest}
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 1000 {
			return nil, &apiError{code: "InvalidParameterValue", message: fmt.Sprintf("Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", v), status: http.StatusBadRequest}
		}
		limit = n
	}

	var matched []*instance
	switch {
	case len(ids) > 0:
		var missing []string
		for _, id := range ids {
			if in, ok := s.instances[id]; ok {
				matched = append(matched, in)
			} else {
				missing = append(missing, id)
			}
		}
		if len(missing) == 1 {
			return nil, &apiError{code: "InvalidInstanceID.NotFound", message: fmt.Sprintf("The instance ID '%s' does not exist", missing[0]), status: http.StatusBadRequest}
		}
		if len(missing) > 1 {
			return nil, &apiError{code: "InvalidInstanceID.NotFound", message: fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(missing, ", ")), status: http.StatusBadRequest}
		}
	default:
		want := map[string]bool{}
		for _, id := range filterIDs {
			want[id] = true
		}
		for id, in := range s.instances {
			if !filtered || want[id] {
				matched = append(matched, in)
			}
		}
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].id < matched[j].id })

	offset, end, next, aerr := ec2Page(len(matched), limit, form.Get("NextToken"))
	if aerr != nil {
		return nil, aerr
	}

	type response struct {
		XMLName      xml.Name         `xml:"DescribeInstancesResponse"`
		Xmlns        string           `xml:"xmlns,attr"`
		RequestID    string           `xml:"requestId"`
		Reservations []ec2Reservation `xml:"reservationSet>item"`
		NextToken    string           `xml:"nextToken,omitempty"`
	}
	r := response{Xmlns: ec2NS, RequestID: reqID, NextToken: next}
	for _, in := range matched[offset:end] {
		x := ec2Instance{
			InstanceID:       in.id,
			ImageID:          "ami-0c1d2e3f4a5b6c7d8",
			InstanceState:    ec2State{Code: ec2StateCodes[in.ec2State], Name: in.ec2State},
			PrivateDNSName:   in.dns,
			InstanceType:     in.instanceType,
			LaunchTime:       awsTime(in.launched),
			VpcID:            "vpc-0123456789abcdef0",
			PrivateIPAddress: in.ip,
			Architecture:     "x86_64",
			RootDeviceType:   "ebs",
		}
		x.Placement.AvailabilityZone = in.az
		x.Placement.Tenancy = "default"
		x.Monitoring.State = "disabled"
		if !in.gone {
			x.SubnetID = "subnet-" + strings.ReplaceAll(in.az, "-", "")
		}
		r.Reservations = append(r.Reservations, ec2Reservation{
			ReservationID: "r-" + strings.TrimPrefix(in.id, "i-"),
			OwnerID:       s.account,
			Instances:     []ec2Instance{x},
		})
	}
	b, err := xml.Marshal(r)
	if err != nil {
		return nil, &apiError{code: "InternalError", message: "marshalling the answer: " + err.Error(), status: http.StatusInternalServerError}
	}
	return append([]byte(xml.Header), b...), nil
}

// instanceTypeInfo is what DescribeInstanceTypes reports of one instance type.
type instanceTypeInfo struct {
	vcpus, cores int32
	memoryMiB    int64
}

// instanceTypes are the instance types DescribeInstanceTypes knows, with AWS's numbers
// (default vCPUs, default cores, memory in MiB).
var instanceTypes = map[string]instanceTypeInfo{
	"t3.medium":   {2, 1, 4096},
	"t3.large":    {2, 1, 8192},
	"t3.xlarge":   {4, 2, 16384},
	"t3.2xlarge":  {8, 4, 32768},
	"m5.large":    {2, 1, 8192},
	"m5.xlarge":   {4, 2, 16384},
	"m5.2xlarge":  {8, 4, 32768},
	"m5.4xlarge":  {16, 8, 65536},
	"m5.8xlarge":  {32, 16, 131072},
	"m5.12xlarge": {48, 24, 196608},
	"m5.16xlarge": {64, 32, 262144},
	"m5.24xlarge": {96, 48, 393216},
	"m6i.large":   {2, 1, 8192},
	"m6i.xlarge":  {4, 2, 16384},
	"m6i.2xlarge": {8, 4, 32768},
	"m6i.4xlarge": {16, 8, 65536},
	"c5.large":    {2, 1, 4096},
	"c5.xlarge":   {4, 2, 8192},
	"c5.2xlarge":  {8, 4, 16384},
	"c5.4xlarge":  {16, 8, 32768},
	"c5.9xlarge":  {36, 18, 73728},
	"c5.12xlarge": {48, 24, 98304},
	"c5.18xlarge": {72, 36, 147456},
	"c5.24xlarge": {96, 48, 196608},
	"r5.large":    {2, 1, 16384},
	"r5.xlarge":   {4, 2, 32768},
	"r5.2xlarge":  {8, 4, 65536},
	"r5.4xlarge":  {16, 8, 131072},
	"r5.8xlarge":  {32, 16, 262144},
	"r5.12xlarge": {48, 24, 393216},
	"r5.16xlarge": {64, 32, 524288},
	"r5.24xlarge": {96, 48, 786432},
}

type ec2InstanceType struct {
	InstanceType      string `xml:"instanceType"`
	CurrentGeneration bool   `xml:"currentGeneration"`
	VCPUInfo          struct {
		DefaultVCpus          int32 `xml:"defaultVCpus"`
		DefaultCores          int32 `xml:"defaultCores"`
		DefaultThreadsPerCore int32 `xml:"defaultThreadsPerCore"`
	} `xml:"vCpuInfo"`
	MemoryInfo struct {
		SizeInMiB int64 `xml:"sizeInMiB"`
	} `xml:"memoryInfo"`
	Hypervisor string `xml:"hypervisor"`
}

// describeInstanceTypes answers DescribeInstanceTypes for InstanceType.N (every type must
// be known, else InvalidInstanceType naming the unknown ones, as EC2 answers), or for every
// known type, with MaxResults (5 to 100) / NextToken paging. Filters are refused.
func (s *Server) describeInstanceTypes(form url.Values, reqID string) ([]byte, *apiError) {
	if form.Get("Filter.1.Name") != "" {
		return nil, &apiError{code: "InvalidParameterValue", message: "The fake's DescribeInstanceTypes supports no filter", status: http.StatusBadRequest}
	}
	names := listParam(form, "InstanceType")
	if len(names) == 0 {
		for n := range instanceTypes {
			names = append(names, n)
		}
	}
	var unknown []string
	seen := map[string]bool{}
	var matched []string
	for _, n := range names {
		if _, ok := instanceTypes[n]; !ok {
			unknown = append(unknown, n)
			continue
		}
		if !seen[n] {
			seen[n] = true
			matched = append(matched, n)
		}
	}
	if len(unknown) > 0 {
		return nil, &apiError{code: "InvalidInstanceType", message: fmt.Sprintf("The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", ")), status: http.StatusBadRequest}
	}
	sort.Strings(matched)
	limit := len(matched)
	if v := form.Get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 100 {
			return nil, &apiError{code: "InvalidParameterValue", message: fmt.Sprintf("Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 100.", v), status: http.StatusBadRequest}
		}
		limit = n
	}
	offset, end, next, aerr := ec2Page(len(matched), limit, form.Get("NextToken"))
	if aerr != nil {
		return nil, aerr
	}

	type response struct {
		XMLName   xml.Name          `xml:"DescribeInstanceTypesResponse"`
		Xmlns     string            `xml:"xmlns,attr"`
		RequestID string            `xml:"requestId"`
		Types     []ec2InstanceType `xml:"instanceTypeSet>item"`
		NextToken string            `xml:"nextToken,omitempty"`
	}
	r := response{Xmlns: ec2NS, RequestID: reqID, NextToken: next}
	for _, n := range matched[offset:end] {
		info := instanceTypes[n]
		x := ec2InstanceType{InstanceType: n, CurrentGeneration: true, Hypervisor: "nitro"}
		x.VCPUInfo.DefaultVCpus = info.vcpus
		x.VCPUInfo.DefaultCores = info.cores
		x.VCPUInfo.DefaultThreadsPerCore = info.vcpus / info.cores
		x.MemoryInfo.SizeInMiB = info.memoryMiB
		r.Types = append(r.Types, x)
	}
	b, err := xml.Marshal(r)
	if err != nil {
		return nil, &apiError{code: "InternalError", message: "marshalling the answer: " + err.Error(), status: http.StatusInternalServerError}
	}
	return append([]byte(xml.Header), b...), nil
}

// ec2Page is page with EC2's error for a bad token.
func ec2Page(n, limit int, token string) (lo, hi int, next string, aerr *apiError) {
	lo, hi, next, aerr = page(n, limit, token)
	if aerr != nil {
		aerr.code, aerr.message = "InvalidParameterValue", "Invalid value '"+token+"' for nextToken"
	}
	return lo, hi, next, aerr
}
