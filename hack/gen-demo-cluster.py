#!/usr/bin/env python3
"""Writes testdata/demo/: a small Mesos 1.x cluster state, its Auto Scaling group (as printed by
`aws autoscaling describe-auto-scaling-groups`), its instances (`aws ec2 describe-instances`) and
Marathon's queue (GET /v2/queue). Shaped like the real captures in ../shared/fixtures; the
numbers are ours. Deterministic: run it again and the files do not change.

    python3 hack/gen-demo-cluster.py
"""
import json, os, uuid

OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "demo")
CLUSTER = "4b1e8d2c-6d6e-4f5a-9a53-2f7c1d0e9b10"
rng_ns = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")

def uid(*parts):
    return str(uuid.uuid5(rng_ns, "/".join(map(str, parts))))

def res(cpus, mem, disk, ports=None, gpus=0):
    r = {"disk": disk, "mem": mem, "gpus": gpus, "cpus": cpus}
    if ports:
        r["ports"] = ports
    return r

EXEC = (0.1, 32)  # Marathon's command executor: 0.1 cpus, 32 MiB per task

# (agent name, ip, pool, cpus, mem MiB, disk MiB, instance id, zone)
agents = [
    ("general-1", "10.0.1.10", "general", 8, 30720, 94000, "i-0a1b2c3d4e5f60001", "us-east-1a"),
    ("general-2", "10.0.1.11", "general", 8, 30720, 94000, "i-0a1b2c3d4e5f60002", "us-east-1b"),
    ("general-3", "10.0.1.12", "general", 8, 30720, 94000, "i-0a1b2c3d4e5f60003", "us-east-1c"),
    ("general-4", "10.0.1.13", "general", 8, 30720, 94000, "i-0a1b2c3d4e5f60004", "us-east-1a"),
    ("general-5", "10.0.1.14", "general", 8, 30720, 94000, "i-0a1b2c3d4e5f60005", "us-east-1b"),
    ("batch-1", "10.0.2.10", "batch", 16, 62464, 190000, "i-0b1b2c3d4e5f60001", "us-east-1a"),
    ("public-1", "10.0.3.10", "public", 4, 14018, 35577, "i-0c1b2c3d4e5f60001", "us-east-1a"),
]
# Marathon apps: id -> (cpus, mem, disk, placements as agent indexes)
apps = {
    "/web/frontend": (1, 2048, 0, [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4]),
    "/web/api": (2, 4096, 0, [0, 0, 1, 1, 2, 2, 3, 4]),
    "/batch/report": (4, 8192, 1024, [5, 5]),
    "/public/edge-lb": (1, 1024, 0, [6, 6]),
}
slaves, tasks = [], []
used = [[0.0, 0.0, 0.0] for _ in agents]
for app, (c, m, d, where) in sorted(apps.items()):
    safe = app.lstrip("/").replace("/", "_")
    name = ".".join(reversed(app.lstrip("/").split("/")))
    for n, a in enumerate(where):
        inst = uid(app, n)
        aid = f"{CLUSTER}-S{a}"
        tasks.append({
            "id": f"{safe}.instance-{inst}._app.1",
            "name": name,
            "framework_id": f"{CLUSTER}-0001",
            "executor_id": "",
            "slave_id": aid,
            "state": "TASK_RUNNING",
            "resources": res(c, m, d, "[31000-31000]"),
            "role": "slave_public" if app.startswith("/public") else "*",
            "statuses": [{"state": "TASK_RUNNING", "timestamp": 1764500000.5 + n,
                          "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": agents[a][1]}]}]}}],
        })
        used[a][0] += c + EXEC[0]
        used[a][1] += m + EXEC[1]
        used[a][2] += d
# A Metronome job run on general-5: a non-Marathon framework, grouped by framework and task name.
tasks_metronome = [{
    "id": "nightly-backup_20261130120000.uuid-1", "name": "nightly-backup", "framework_id": f"{CLUSTER}-0002",
    "executor_id": "", "slave_id": f"{CLUSTER}-S4", "state": "TASK_RUNNING",
    "resources": res(0.5, 1024, 0), "statuses": [{"state": "TASK_RUNNING", "timestamp": 1764504000.1}],
}]
used[4][0] += 0.5 + EXEC[0]
used[4][1] += 1024 + EXEC[1]

for i, (name, ip, pool, c, m, d, iid, az) in enumerate(agents):
    total = res(c, m, d, "[1025-2180, 2182-3887, 3889-5049, 5052-8079, 8082-8180, 8182-32000]")
    reserved = {}
    unreserved = dict(total)
    if pool == "public":
        reserved = {"slave_public": dict(total)}
        unreserved = res(0, 0, 0)
    slaves.append({
        "id": f"{CLUSTER}-S{i}",
        "pid": f"slave(1)@{ip}:5051",
        "hostname": ip,
        "registered_time": 1764490000.25 + i,
        "resources": total,
        "used_resources": res(round(used[i][0], 2), used[i][1], used[i][2]),
        "offered_resources": res(0, 0, 0),
        "reserved_resources": reserved,
        "unreserved_resources": unreserved,
        "attributes": {"pool": pool, "zone": az, "instance_type": "m5.2xlarge" if pool == "general" else "m5.4xlarge"},
        "active": True,
        "version": "1.11.0",
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
    })

state = {
    "version": "1.11.0", "git_sha": "", "build_date": "2020-11-24 20:08:55", "build_time": 1606248535.0,
    "build_user": "", "start_time": 1764480000.1, "elected_time": 1764480003.2,
    "id": CLUSTER, "pid": "master@10.0.0.5:5050", "hostname": "10.0.0.5",
    "activated_slaves": float(len(slaves)), "deactivated_slaves": 0.0, "unreachable_slaves": 0.0,
    "leader": "master@10.0.0.5:5050",
    "leader_info": {"id": CLUSTER, "pid": "master@10.0.0.5:5050", "port": 5050, "hostname": "10.0.0.5"},
    "cluster": "demo-us-east-1", "flags": {"allocation_interval": "1secs", "quorum": "2"},
    "slaves": slaves, "recovered_slaves": [],
    "frameworks": [
        {"id": f"{CLUSTER}-0001", "name": "marathon", "pid": "scheduler-1@10.0.0.5:15101", "role": "*",
         "roles": ["*", "slave_public"], "active": True, "connected": True, "recovered": False,
         "user": "root", "hostname": "10.0.0.5", "webui_url": "http://10.0.0.5:8080",
         "capabilities": ["MULTI_ROLE", "PARTITION_AWARE"], "tasks": tasks, "unreachable_tasks": [],
         "completed_tasks": [{"id": "web_frontend.instance-old._app.1", "name": "frontend.web",
                              "framework_id": f"{CLUSTER}-0001", "slave_id": f"{CLUSTER}-S0",
                              "state": "TASK_KILLED", "resources": res(1, 2048, 0), "statuses": []}],
         "offers": [], "executors": []},
        {"id": f"{CLUSTER}-0002", "name": "metronome", "role": "*", "active": True, "connected": True,
         "tasks": tasks_metronome, "unreachable_tasks": [], "completed_tasks": [], "offers": [], "executors": []},
    ],
    "completed_frameworks": [], "orphan_tasks": [], "unregistered_frameworks": [],
}

group_instances = [{
    "InstanceId": iid, "InstanceType": "m5.2xlarge", "AvailabilityZone": az, "LifecycleState": "InService",
    "HealthStatus": "Healthy", "LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0",
                                                  "LaunchTemplateName": "mesos-agent-general", "Version": "7"},
    "ProtectedFromScaleIn": False,
} for (name, ip, pool, c, m, d, iid, az) in agents if pool == "general"]
group_instances.append({
    "InstanceId": "i-0a1b2c3d4e5f60006", "InstanceType": "m5.2xlarge", "AvailabilityZone": "us-east-1c",
    "LifecycleState": "Pending", "HealthStatus": "Healthy",
    "LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0", "LaunchTemplateName": "mesos-agent-general", "Version": "7"},
    "ProtectedFromScaleIn": False})
asg = {"AutoScalingGroups": [{
    "AutoScalingGroupName": "mesos-agents-general",
    "AutoScalingGroupARN": "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:5d3b0b7e-1b0e-4a5e-9c1e-2f7a3c4d5e6f:autoScalingGroupName/mesos-agents-general",
    "LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0", "LaunchTemplateName": "mesos-agent-general", "Version": "7"},
    "MinSize": 2, "MaxSize": 20, "DesiredCapacity": 6, "DefaultCooldown": 300,
    "AvailabilityZones": ["us-east-1a", "us-east-1b", "us-east-1c"], "LoadBalancerNames": [], "TargetGroupARNs": [],
    "HealthCheckType": "EC2", "HealthCheckGracePeriod": 300, "Instances": group_instances,
    "CreatedTime": "2026-01-12T09:30:00.000Z", "SuspendedProcesses": [], "VPCZoneIdentifier": "subnet-0a,subnet-0b,subnet-0c",
    "EnabledMetrics": [], "Tags": [], "TerminationPolicies": ["Default"], "NewInstancesProtectedFromScaleIn": False,
    "ServiceLinkedRoleARN": "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
    "CapacityRebalance": False, "TrafficSources": []}]}

reservations = []
for (name, ip, pool, c, m, d, iid, az) in agents + [("general-6", "10.0.1.15", "general", 8, 30720, 94000, "i-0a1b2c3d4e5f60006", "us-east-1c")]:
    state_name = "pending" if iid.endswith("60006") else "running"
    launched = "2026-11-30T11:58:30+00:00" if state_name == "pending" else "2026-11-30T09:00:00+00:00"
    reservations.append({"ReservationId": "r-" + iid[2:], "OwnerId": "123456789012", "Groups": [], "Instances": [{
        "InstanceId": iid, "InstanceType": "m5.2xlarge" if pool == "general" else "m5.4xlarge",
        "ImageId": "ami-0abcdef1234567890", "LaunchTime": launched,
        "Placement": {"AvailabilityZone": az, "GroupName": "", "Tenancy": "default"},
        "PrivateDnsName": "ip-" + ip.replace(".", "-") + ".ec2.internal", "PrivateIpAddress": ip,
        "State": {"Code": 0 if state_name == "pending" else 16, "Name": state_name},
        "SubnetId": "subnet-0a", "VpcId": "vpc-0123456789abcdef0"}]})
instances = {"Reservations": reservations}

queue = {"queue": [{
    "count": 6, "delay": {"timeLeftSeconds": 0, "overdue": True}, "since": "2026-11-30T11:58:00.000Z",
    "app": {"id": "/web/api", "cmd": "./api --port $PORT0", "instances": 14, "cpus": 2, "mem": 4096, "disk": 0,
            "gpus": 0, "constraints": [["hostname", "MAX_PER", "2"], ["pool", "CLUSTER", "general"]],
            "acceptedResourceRoles": ["*"], "labels": {}, "version": "2026-11-30T11:58:00.000Z"}}]}

apps_doc = {"apps": [{
    "id": app, "cmd": "./run", "instances": len(where), "cpus": c, "mem": m, "disk": d, "gpus": 0,
    "constraints": ([["hostname", "MAX_PER", "2"]] if app == "/web/api" else []) + ([["pool", "CLUSTER", "general"]] if app.startswith("/web") else []),
    "acceptedResourceRoles": ["slave_public"] if app.startswith("/public") else ["*"],
    "tasksRunning": len(where), "tasksStaged": 0, "version": "2026-11-30T09:00:00.000Z",
} for app, (c, m, d, where) in sorted(apps.items())]}

os.makedirs(OUT, exist_ok=True)
for fname, doc in [("state.json", state), ("asg.json", asg), ("instances.json", instances), ("queue.json", queue), ("apps.json", apps_doc)]:
    with open(os.path.join(OUT, fname), "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
for i, u in enumerate(used):
    print(agents[i][0], [round(x, 2) for x in u])
