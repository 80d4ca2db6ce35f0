package mesos

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
)

// syntheticState describes a generated GET /master/state document shaped like a Mesos 1.x
// master's: agents with full resource maps, one big Marathon framework whose tasks carry
// statuses, labels and discovery info (about 640 bytes each), a second idle framework, and
// completed tasks and frameworks that the decoder must skip.
type syntheticState struct {
	agents         int
	tasks          int // live (TASK_RUNNING) tasks, spread round-robin over agents
	tasksPerApp    int
	completedTasks int // completed tasks of the Marathon framework (Mesos keeps 1000 by default)
}

// Per-task and per-agent amounts, chosen so that sums are exact in binary floating point.
const (
	synthAgentCPUs   = 32.0
	synthAgentMem    = 126976.0 // MiB
	synthTaskCPUs    = 0.5
	synthTaskMem     = 512.0
	synthExecCPUs    = 0.125 // command executor overhead in used_resources
	synthExecMem     = 32.0
	synthMasterID    = "4d4a3e9c-8d5b-4bb0-a27c-7f0f1c2d3e4f"
	synthMarathonFW  = synthMasterID + "-0001"
	synthMetronomeFW = synthMasterID + "-0000"
)

func (s syntheticState) agentTasks(agent int) int {
	n := s.tasks / s.agents
	if agent < s.tasks%s.agents {
		n++
	}
	return n
}

// write streams the document to w.
func (s syntheticState) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	g := gen{w: bw}
	g.s(`{"version":"1.7.3","git_sha":"d8b2a6b8c2a81d2d0e1e3f4a5b6c7d8e9f0a1b2c","git_tag":"1.7.3",`)
	g.s(`"build_date":"2019-04-20 18:33:01","build_time":1555785181.0,"build_user":"root",`)
	g.s(`"start_time":1580371212.31214,"elected_time":1580371213.02581,"id":"` + synthMasterID + `",`)
	g.s(`"pid":"master@10.0.4.10:5050","hostname":"10.0.4.10","activated_slaves":`)
	g.i(s.agents)
	g.s(`,"deactivated_slaves":0,"unreachable_slaves":0,"leader":"master@10.0.4.10:5050",`)
	g.s(`"leader_info":{"id":"` + synthMasterID + `","pid":"master@10.0.4.10:5050","port":5050,"hostname":"10.0.4.10"},`)
	g.s(`"log_dir":"/var/log/mesos","flags":{`)
	for i := 0; i < 60; i++ {
		if i > 0 {
			g.s(",")
		}
		g.s(`"flag_`)
		g.i(i)
		g.s(`":"value of a master flag, long enough to look real"`)
	}
	g.s(`},"slaves":[`)
	for a := 0; a < s.agents; a++ {
		if a > 0 {
			g.s(",")
		}
		s.writeAgent(&g, a)
	}
	g.s(`],"recovered_slaves":[],"frameworks":[`)
	g.s(`{"id":"` + synthMarathonFW + `","name":"marathon","pid":"scheduler-1e2d@10.0.4.10:15101",`)
	g.s(`"used_resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},"offered_resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},`)
	g.s(`"capabilities":["TASK_KILLING_STATE","PARTITION_AWARE"],"hostname":"10.0.4.10","webui_url":"http://10.0.4.10:8080",`)
	g.s(`"active":true,"connected":true,"recovered":false,"user":"root","failover_timeout":604800.0,"checkpoint":true,`)
	g.s(`"registered_time":1580371230.4,"unregistered_time":0.0,"principal":"dcos_marathon","role":"*","tasks":[`)
	for i := 0; i < s.tasks; i++ {
		if i > 0 {
			g.s(",")
		}
		// Mesos lists a framework's tasks in hash-map order: shuffle them (1,000,003 is a prime,
		// so i ↦ i·1,000,003 mod n is a permutation whenever n is not a multiple of it).
		s.writeTask(&g, int(uint64(i)*1_000_003%uint64(s.tasks)), "TASK_RUNNING")
	}
	g.s(`],"unreachable_tasks":[],"completed_tasks":[`)
	for t := 0; t < s.completedTasks; t++ {
		if t > 0 {
			g.s(",")
		}
		s.writeTask(&g, s.tasks+t, "TASK_KILLED")
	}
	g.s(`],"offers":[],"executors":[]},`)
	g.s(`{"id":"` + synthMetronomeFW + `","name":"metronome","pid":"scheduler-9a8b@10.0.4.10:15201","active":true,"role":"*",`)
	g.s(`"tasks":[],"unreachable_tasks":[],"completed_tasks":[],"offers":[],"executors":[]}],`)
	g.s(`"completed_frameworks":[{"id":"` + synthMasterID + `-0002","name":"spark","active":false,"role":"*","tasks":[],"completed_tasks":[`)
	for t := 0; t < 50; t++ {
		if t > 0 {
			g.s(",")
		}
		s.writeTask(&g, 10_000_000+t, "TASK_FINISHED")
	}
	g.s(`]}],"orphan_tasks":[],"unregistered_frameworks":[]}`)
	if g.err != nil {
		return g.err
	}
	return bw.Flush()
}

func (s syntheticState) writeAgent(g *gen, a int) {
	n := s.agentTasks(a)
	ip := func() {
		g.s("10.")
		g.i(1 + a/65536)
		g.s(".")
		g.i(a / 256 % 256)
		g.s(".")
		g.i(a % 256)
	}
	g.s(`{"id":"` + synthMasterID + `-S`)
	g.i(a)
	g.s(`","hostname":"`)
	ip()
	g.s(`","port":5051,"attributes":{"rack":"r`)
	g.i(a % 40)
	g.s(`","zone":"us-east-1`)
	g.s([]string{"a", "b", "c"}[a%3])
	g.s(`","instance_type":"m5.8xlarge"},"pid":"slave(1)@`)
	ip()
	g.s(`:5051","registered_time":1580371222.4631,"resources":{"disk":240000.0,"mem":`)
	g.f(synthAgentMem)
	g.s(`,"gpus":0.0,"cpus":`)
	g.f(synthAgentCPUs)
	g.s(`,"ports":"[1025-2180, 2182-3887, 3889-5049, 5052-8079, 8082-8180, 8182-32000]"},`)
	g.s(`"used_resources":{"disk":0.0,"mem":`)
	g.f(float64(n) * (synthTaskMem + synthExecMem))
	g.s(`,"gpus":0.0,"cpus":`)
	g.f(float64(n) * (synthTaskCPUs + synthExecCPUs))
	g.s(`,"ports":"[31000-31020]"},"offered_resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},"reserved_resources":{},`)
	g.s(`"unreserved_resources":{"disk":240000.0,"mem":`)
	g.f(synthAgentMem)
	g.s(`,"gpus":0.0,"cpus":`)
	g.f(synthAgentCPUs)
	g.s(`,"ports":"[1025-2180, 2182-3887, 3889-5049, 5052-8079, 8082-8180, 8182-32000]"},`)
	g.s(`"active":true,"version":"1.7.3","capabilities":["MULTI_ROLE","HIERARCHICAL_ROLE","RESERVATION_REFINEMENT","RESOURCE_PROVIDER"]}`)
}

// writeTask writes a task of app "/team-<k>/app-<n>" with a Marathon 1.8+ task id
// ("team-3_app-42.instance-<uuid>._app.1") and name ("app-42.team-3").
func (s syntheticState) writeTask(g *gen, t int, state string) {
	app := t / s.tasksPerApp
	appName := func() { g.s("app-"); g.i(app) }
	group := func() { g.s("team-"); g.i(app % 17) }
	port := func() { g.i(31000 + t%1000) }
	g.s(`{"id":"`)
	group()
	g.s("_")
	appName()
	g.s(".instance-")
	g.uuid(t)
	g.s(`._app.1","name":"`)
	appName()
	g.s(".")
	group()
	g.s(`","framework_id":"` + synthMarathonFW + `","executor_id":"","slave_id":"` + synthMasterID + `-S`)
	g.i(t % s.agents)
	g.s(`","state":"` + state + `","resources":{"disk":0.0,"mem":`)
	g.f(synthTaskMem)
	g.s(`,"gpus":0.0,"cpus":`)
	g.f(synthTaskCPUs)
	g.s(`,"ports":"[`)
	port()
	g.s("-")
	port()
	g.s(`]"},"role":"*","statuses":[{"state":"` + state + `","timestamp":1580371301.23456,`)
	g.s(`"container_status":{"container_id":{"value":"`)
	g.uuid(t)
	g.s(`"},"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"10.0.1.2"}]}]}}],`)
	g.s(`"labels":[{"key":"HAPROXY_GROUP","value":"external"},{"key":"owner","value":"`)
	group()
	g.s(`"}],"discovery":{"visibility":"FRAMEWORK","name":"`)
	appName()
	g.s(".")
	group()
	g.s(`","ports":{"ports":[{"number":`)
	port()
	g.s(`,"protocol":"tcp"}]}}}`)
}

// gen writes JSON text, keeping the first error.
type gen struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (g *gen) s(s string) {
	if g.err == nil {
		_, g.err = g.w.WriteString(s)
	}
}

func (g *gen) i(n int) {
	g.buf = strconv.AppendInt(g.buf[:0], int64(n), 10)
	g.write()
}

// uuid writes a version-1-looking UUID derived from n.
func (g *gen) uuid(n int) {
	g.buf = g.buf[:0]
	g.buf = hex(g.buf, uint64(n), 8)
	g.buf = append(g.buf, '-')
	g.buf = hex(g.buf, uint64(n%0x10000), 4)
	g.buf = append(g.buf, "-11ea-8f22-"...)
	g.buf = hex(g.buf, uint64(n)*7919, 12)
	g.write()
}

func hex(dst []byte, v uint64, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		dst = append(dst, "0123456789abcdef"[v>>(4*uint(i))&0xf])
	}
	return dst
}

func (g *gen) write() {
	if g.err == nil {
		_, g.err = g.w.Write(g.buf)
	}
}

func (g *gen) f(v float64) {
	g.buf = strconv.AppendFloat(g.buf[:0], v, 'f', -1, 64)
	if bytes.IndexByte(g.buf, '.') < 0 {
		g.buf = append(g.buf, ".0"...) // Mesos prints 512.0
	}
	g.write()
}

// pipe returns a reader that generates the document on the fly, so that the input never sits in
// memory as a whole.
func (s syntheticState) pipe() io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.write(pw)) }()
	return pr
}

// countingWriter counts bytes.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
