//go:build !linux

package csvimport

// processCPU is unknown here: BenchmarkImportStream reports 0 CPU per row.
func processCPU() int64 { return 0 }
