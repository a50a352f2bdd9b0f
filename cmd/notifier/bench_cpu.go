package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is where the CPU went so far: this process (the service and
// the bench's load), the PostgreSQL and Redis servers when they run on this
// machine, and the whole machine. Read from /proc; zero where it cannot be.
type cpuSample struct {
	at                      time.Time
	self, postgres, redis   time.Duration
	machineBusy, machineAll time.Duration
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15) cutime(16) cstime(17)
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		comm := string(b[open+1 : end])
		f := strings.Fields(string(b[end+1:]))
		if len(f) < 15 {
			continue
		}
		var ticks int64
		for _, i := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
		switch {
		case comm == "postgres" || strings.HasPrefix(comm, "postgres:"):
			s.postgres += time.Duration(ticks) * clockTick
		case strings.HasPrefix(comm, "redis-server"):
			s.redis += time.Duration(ticks) * clockTick
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := bytes.Cut(b, []byte("\n"))
		f := strings.Fields(string(line))
		for i := 1; i < len(f); i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			d := time.Duration(v) * clockTick
			s.machineAll += d
			if i != 4 && i != 5 { // idle, iowait
				s.machineBusy += d
			}
		}
	}
	return s
}

// cpuPer describes the CPU spent between two samples per unit of work;
// PostgreSQL and Redis count only when the bench uses them.
func (e *benchEnv) cpuPer(a, b cpuSample, units int64, what string) string {
	if units <= 0 {
		return ""
	}
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)/float64(units))
	}
	s := fmt.Sprintf("; CPU per %s: notifier+load %s", what, per(b.self-a.self))
	if e.dbURL != "" && b.postgres > a.postgres {
		s += ", postgres " + per(b.postgres-a.postgres)
	}
	if e.redisURL != "" && b.redis > a.redis {
		s += ", redis " + per(b.redis-a.redis)
	}
	if all := b.machineAll - a.machineAll; all > 0 {
		s += fmt.Sprintf("; machine %.0f%% busy", 100*float64(b.machineBusy-a.machineBusy)/float64(all))
	}
	return s
}
