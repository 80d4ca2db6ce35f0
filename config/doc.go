// Package config holds Lambda Scale's deployment files, not Go code: the ScalingPolicy CRD
// generated from api/v1alpha1 (crd/bases), example policies (samples), the Kubernetes and
// Marathon manifests of the controller (manager). Its tests parse every one of them, check that
// they agree with the API, the Dockerfile, the Makefile and the command's flags, and validate the
// samples against the CRD's schema.
package config
