package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// progressSample is how many of a job's tasks had finished at a moment of its run.
type progressSample struct {
	at       time.Duration // since the job was posted
	finished int
}

// tenthRates returns the completions per second in each tenth of a job of planned tasks: tenth
// k runs from when the finished count reached k*planned/10 to when it reached (k+1)*planned/10,
// each found by linear interpolation between the samples. The first tenth starts at the first
// sample with a finished task, so the time to plan and dispatch the first task is not in it.
// It returns nil when the samples do not reach planned.
func tenthRates(samples []progressSample, planned int) []float64 {
	if planned < 10 || len(samples) == 0 || samples[len(samples)-1].finished < planned {
		return nil
	}
	start := -1
	for i, s := range samples {
		if s.finished > 0 {
			start = i
			break
		}
	}
	if start < 0 {
		return nil
	}
	prevAt, prevN := samples[start].at.Seconds(), float64(samples[start].finished)
	rates := make([]float64, 0, 10)
	for k := 1; k <= 10; k++ {
		thr := float64(k * planned / 10)
		at := reachedAt(samples[start:], thr)
		if thr <= prevN || at <= prevAt {
			// The whole tenth finished between two samples (or before the first): it takes the
			// rate of the next tenth that spans a sample interval.
			rates = append(rates, 0)
			continue
		}
		rates = append(rates, (thr-prevN)/(at-prevAt))
		prevAt, prevN = at, thr
	}
	// Tenths that fell inside one interval share the next measured tenth's rate.
	for k := len(rates) - 2; k >= 0; k-- {
		if rates[k] == 0 {
			rates[k] = rates[k+1]
		}
	}
	return rates
}

// reachedAt is when the finished count reached n, in seconds, interpolated between samples.
func reachedAt(samples []progressSample, n float64) float64 {
	for i, s := range samples {
		if float64(s.finished) < n {
			continue
		}
		if i == 0 {
			return s.at.Seconds()
		}
		p := samples[i-1]
		frac := (n - float64(p.finished)) / float64(s.finished-p.finished)
		return p.at.Seconds() + frac*(s.at-p.at).Seconds()
	}
	return samples[len(samples)-1].at.Seconds()
}

// loadAverage is the machine's 1-minute load average, or -1 if it cannot be read.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// pidsWithArg returns the processes whose command line has an argument containing every one
// of parts (e.g. the emulator's port), so the bench can read the Java emulator's memory.
func pidsWithArg(parts ...string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		cmd := string(b)
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(cmd, p)
		}
		if ok {
			if pid, err := strconv.Atoi(filepath.Base(d)); err == nil && pid != os.Getpid() {
				out = append(out, pid)
			}
		}
	}
	return out
}

// javaRSSMB is the resident memory of the Java processes serving on port, in MB.
func javaRSSMB(port string) (float64, error) {
	pids := pidsWithArg("java", "--port="+port)
	if len(pids) == 0 {
		return 0, fmt.Errorf("no java process with %s in its command line", port)
	}
	total := 0.0
	for _, pid := range pids {
		mb, err := rssMB(pid)
		if err != nil {
			return 0, err
		}
		total += mb
	}
	return total, nil
}
