// Package webbench holds no code, only benchmarks (webbench_test.go) of the
// web session stores against what users run today: scs with scsstore
// against scs's redisstore, and gorilla/sessions with gorillastore against
// boj/redistore, each Redis store on a redis-server of the benchmark's own.
// They live in a package of their own so that the Redis clients stay out of
// every other package's imports, tests included.
//
//	go test -run '^$' -bench . -benchtime 1s -count 3 ./internal/webbench
//
// docs/performance.md ("Web sessions vs Redis") has the figures.
package webbench
