package csvimport

// ProcessCPU lets BenchmarkImport1M, in package csvimport_test, time the
// importer's own CPU (PostgreSQL runs in other processes).
var ProcessCPU = processCPU
