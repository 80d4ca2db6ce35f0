package aws

import (
	"context"
	"fmt"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lambdascale/lambdascale/internal/cloud"
)

// maxInstanceTypesPerDescribe is the most instance types the client names in one EC2
// DescribeInstanceTypes request (also its page size, the API's largest MaxResults).
const maxInstanceTypesPerDescribe = 100

// InstanceTypeShapes returns the size (default vCPUs, memory in MiB) of each of the EC2
// instance types named in types, from EC2 DescribeInstanceTypes. Sizes never change, so
// they are cached for the life of the client: only types not seen before are described,
// all of them in one request (per 100 types). Empty and repeated names are ignored.
//
// When EC2 does not know a type (it answers InvalidInstanceType, naming the unknown ones,
// or leaves a type out of its answer) the error wraps cloud.ErrUnknownInstanceType; in the
// second case the map still holds the types it described. Any other failure returns a nil
// map and an error wrapping a *cloud.APIError. Two concurrent calls for the same new type
// may both describe it.
func (c *Client) InstanceTypeShapes(ctx context.Context, types []string) (map[string]cloud.InstanceTypeShape, error) {
	out := make(map[string]cloud.InstanceTypeShape, len(types))
	var missing []string
	c.mu.Lock()
	for _, t := range types {
		if t == "" {
			continue
		}
		if s, ok := c.shapes[t]; ok {
			out[t] = s
		} else if !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	slices.Sort(missing)

	found := map[string]cloud.InstanceTypeShape{}
	for start := 0; start < len(missing); start += maxInstanceTypesPerDescribe {
		chunk := missing[start:min(start+maxInstanceTypesPerDescribe, len(missing))]
		names := make([]ec2types.InstanceType, len(chunk))
		for i, t := range chunk {
			names[i] = ec2types.InstanceType(t)
		}
		p := ec2.NewDescribeInstanceTypesPaginator(c.ec2, &ec2.DescribeInstanceTypesInput{
			InstanceTypes: names,
			MaxResults:    sdkaws.Int32(maxInstanceTypesPerDescribe),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				aerr := apiError("DescribeInstanceTypes", err)
				if cloud.ErrorCode(aerr) == "InvalidInstanceType" {
					return nil, fmt.Errorf("describing EC2 instance types %s: %w: %w", quoteList(chunk), cloud.ErrUnknownInstanceType, aerr)
				}
				return nil, fmt.Errorf("describing EC2 instance types %s: %w", quoteList(chunk), aerr)
			}
			for _, it := range page.InstanceTypes {
				s, ok := shapeOf(it)
				if ok {
					found[string(it.InstanceType)] = s
				}
			}
		}
	}

	c.mu.Lock()
	for t, s := range found {
		c.shapes[t] = s
		out[t] = s
	}
	c.mu.Unlock()
	c.log.V(2).Info("Described EC2 instance types", "instanceTypes", len(found))

	var unknown []string
	for _, t := range missing {
		if _, ok := found[t]; !ok {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		return out, fmt.Errorf("describing EC2 instance types: EC2 described no %s, or no vCPUs and memory for them: %w",
			quoteList(unknown), cloud.ErrUnknownInstanceType)
	}
	return out, nil
}

// shapeOf reads the size of an SDK instance type; false when EC2 left the vCPUs or the
// memory out.
func shapeOf(it ec2types.InstanceTypeInfo) (cloud.InstanceTypeShape, bool) {
	if it.VCpuInfo == nil || it.MemoryInfo == nil {
		return cloud.InstanceTypeShape{}, false
	}
	s := cloud.InstanceTypeShape{
		VCPUs:     sdkaws.ToInt32(it.VCpuInfo.DefaultVCpus),
		MemoryMiB: sdkaws.ToInt64(it.MemoryInfo.SizeInMiB),
	}
	return s, s.VCPUs > 0 && s.MemoryMiB > 0
}
