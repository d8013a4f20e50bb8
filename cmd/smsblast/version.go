package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

func versionCommand() *command {
	return &command{
		name:    "version",
		args:    "",
		summary: "print smsblast's version, the commit it was built from and the Go version",
		examples: `  smsblast version
  smsblast version --json`,
		run: runVersion,
	}
}

// versionInfo is what `smsblast version` prints; --json prints it as is.
type versionInfo struct {
	// Version is the module version: a tag like v1.2.0 for `go install
	// …@v1.2.0`, "(devel)" for a build from a checkout.
	Version string `json:"version"`
	// Commit, Time and Modified come from the VCS stamp Go embeds; empty
	// when the binary was built with -buildvcs=false or outside a checkout.
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"commit_time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// readVersion reads the build information the Go toolchain stamped into
// the binary; read is debug.ReadBuildInfo, replaceable in tests.
func readVersion(read func() (*debug.BuildInfo, bool)) versionInfo {
	v := versionInfo{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := read()
	if !ok {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line form: "smsblast devel (commit 1a2b3c4d5e6f, 2026-11-27, modified) go1.26.8 linux/amd64".
func (v versionInfo) String() string {
	s := "smsblast " + v.Version
	switch {
	case v.Commit != "":
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if t, err := time.Parse(time.RFC3339, v.Time); err == nil {
			s += ", " + t.UTC().Format("2006-01-02")
		}
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	case v.Version == "devel":
		s += " (commit unknown: built without VCS stamping, e.g. -buildvcs=false)"
	}
	return s + " " + v.Go + " " + v.Platform
}

func runVersion(_ context.Context, a *app, fs *flagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	v := readVersion(debug.ReadBuildInfo)
	if *asJSON {
		writeJSON(a.stdout, v)
		return nil
	}
	fmt.Fprintln(a.stdout, v)
	return nil
}
