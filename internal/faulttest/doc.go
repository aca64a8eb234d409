// Package faulttest holds sessionmesh's fault tests: whole clusters in one
// process, under handshake load, losing nodes, restarting them one by one,
// and split by a network partition. The package has no code of its own.
package faulttest
