package resp

import (
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"
)

// info answers INFO [section ...]: Redis's sections that clients read
// (redis_version, loading), then the Server's own and Config.Info's, then
// an empty Keyspace.
func (s *Server) info(c *client, rc redcon.Conn, args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	st := s.Stats()
	port := ""
	if a, ok := s.Addr().(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	}
	uptime := int64(s.cfg.Now().Sub(s.started).Seconds())
	sections := []Section{
		{Name: "Server", Fields: []Field{
			{"redis_version", Version},
			{"redis_mode", "standalone"},
			{"sessionmesh_sidecar", "1"},
			{"process_id", strconv.Itoa(os.Getpid())},
			{"tcp_port", port},
			{"uptime_in_seconds", strconv.FormatInt(uptime, 10)},
			{"default_ttl_seconds", strconv.FormatInt(int64(s.cfg.DefaultTTL.Seconds()), 10)},
			{"key_prefix", s.cfg.Prefix},
		}},
		{Name: "Clients", Fields: []Field{
			{"connected_clients", strconv.FormatInt(st.Clients, 10)},
			{"maxclients", strconv.Itoa(s.cfg.MaxClients)},
		}},
		{Name: "Persistence", Fields: []Field{{"loading", "0"}}},
		{Name: "Stats", Fields: []Field{
			{"total_connections_received", strconv.FormatUint(st.Connections, 10)},
			{"total_commands_processed", strconv.FormatUint(st.Commands, 10)},
			{"rejected_connections", strconv.FormatUint(st.Refused, 10)},
			{"keyspace_hits", strconv.FormatUint(st.Hits, 10)},
			{"keyspace_misses", strconv.FormatUint(st.Misses, 10)},
			{"cluster_errors", strconv.FormatUint(st.Errors, 10)},
		}},
		{Name: "Replication", Fields: []Field{{"role", "master"}, {"connected_slaves", "0"}}},
	}
	if s.cfg.Info != nil {
		sections = append(sections, s.cfg.Info()...)
	}
	// Last, as in Redis. Empty, as Redis's is with no keys: the values are
	// spread over the cluster, and counting this server's prefix would scan
	// the store. The Cluster section's values_held counts what this member
	// holds, of every kind.
	sections = append(sections, Section{Name: "Keyspace"})
	var b strings.Builder
	for _, sec := range sections {
		if !all && !want[strings.ToLower(sec.Name)] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + sec.Name + "\r\n")
		for _, f := range sec.Fields {
			b.WriteString(f.Key + ":" + f.Value + "\r\n")
		}
	}
	c.pending += b.Len()
	rc.WriteBulkString(b.String())
}
