package webbench

// Both sides run in this one process and on one machine: sessionmesh as 3
// members (internal/testmembers, Replicas 2, the default), each with its
// peer listener on loopback, mutual TLS between them; Redis as a
// redis-server of the benchmark's own on a free loopback port, without
// persistence. Every benchmark drives member 0: random keys make it the
// coordinator (first owner) of about a third of them, a holder of a copy of
// about two thirds, so a Commit is sometimes coordinated here and sometimes
// forwarded to the owner, which then writes to a second member, all over
// real sockets.
//
// Concurrency is exact: run starts exactly that many goroutines, which share
// b.N operations; ns/op is the wall time over b.N, as with RunParallel.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/boj/redistore"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/gorillastore"
	"github.com/sessionmesh/sessionmesh/internal/testmembers"
	"github.com/sessionmesh/sessionmesh/scsstore"
)

const (
	valueSize = 2048 // bytes of a session's data
	keys      = 4096 // sessions Find, Commit, Get and Save go over
)

// concurrency is how many goroutines call the store at once.
var concurrency = []int{1, 16}

// BenchmarkSCS compares scs's stores through the interfaces scs calls:
// scsstore's FindCtx, CommitCtx and DeleteCtx (scs.CtxStore) against
// redisstore's Find, Commit and Delete (it has no Ctx methods; scs calls
// them as they are). Values are 2 KB of random bytes, tokens what scs draws
// (32 random bytes, base64). Find and Commit go over 4096 existing sessions
// (a Commit replaces one, as scs does on each request that changes it);
// Delete deletes b.N sessions committed beforehand, with the timer stopped.
func BenchmarkSCS(b *testing.B) {
	pool, _ := startRedis(b, "")
	member := startCluster(b)
	mesh := scsstore.New(member.WebSessions())
	rs := scsredis.New(pool)
	replicated := startReplicatedRedis(b)
	type ops struct {
		find   func(token string) ([]byte, bool, error)
		commit func(token string, v []byte, exp time.Time) error
		delete func(token string) error
	}
	ctx := context.Background()
	stores := []struct {
		name string
		ops  ops
	}{
		{"sessionmesh", ops{
			find:   func(t string) ([]byte, bool, error) { return mesh.FindCtx(ctx, t) },
			commit: func(t string, v []byte, exp time.Time) error { return mesh.CommitCtx(ctx, t, v, exp) },
			delete: func(t string) error { return mesh.DeleteCtx(ctx, t) },
		}},
		{"redis", ops{find: rs.Find, commit: rs.Commit, delete: rs.Delete}},
		{"redis-wait", ops{find: replicated.find, commit: replicated.commit, delete: replicated.delete}},
	}
	exp := time.Now().Add(24 * time.Hour)
	tokens := make([]string, keys)
	values := make([][]byte, keys)
	for i := range tokens {
		tokens[i], values[i] = token(), random(valueSize)
	}
	for _, st := range stores {
		if err := parallel(16, keys, func(i int) error { return st.ops.commit(tokens[i], values[i], exp) }); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("member 0 holds %d of the %d sessions", member.Store().Stats().WebSessions, keys)

	for _, op := range []string{"Find", "Commit", "Delete"} {
		for _, c := range concurrency {
			for _, st := range stores {
				b.Run(fmt.Sprintf("%s/c%d/%s", op, c, st.name), func(b *testing.B) {
					b.ReportAllocs()
					switch op {
					case "Find":
						run(b, c, func(i int) error {
							v, found, err := st.ops.find(tokens[i%keys])
							if err == nil && (!found || len(v) != valueSize) {
								err = fmt.Errorf("find %s: found %v, %d bytes", tokens[i%keys], found, len(v))
							}
							return err
						})
					case "Commit":
						run(b, c, func(i int) error {
							return st.ops.commit(tokens[i%keys], values[(i+1)%keys], exp)
						})
					case "Delete":
						b.StopTimer()
						doomed := make([]string, b.N)
						for i := range doomed {
							doomed[i] = token()
						}
						if err := parallel(16, b.N, func(i int) error { return st.ops.commit(doomed[i], values[i%keys], exp) }); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
						run(b, c, func(i int) error { return st.ops.delete(doomed[i]) })
					}
				})
			}
		}
	}
}

// BenchmarkGorilla compares gorilla/sessions' stores through the
// sessions.Store interface, with an httptest request (and recorder) per
// operation, as a handler sees them: Get loads a session (New, through the
// request's registry) from a request carrying its signed cookie; Save
// stores a session of 2 KB of random bytes (gob-encoded by both stores) and
// sets its cookie; Delete is a Save with Options.MaxAge -1. Get and Save go
// over 4096 existing sessions; Delete deletes b.N sessions saved
// beforehand, with the timer stopped. Each store makes its own session IDs.
func BenchmarkGorilla(b *testing.B) {
	pool, _ := startRedis(b, "")
	member := startCluster(b)
	hashKey := random(32)
	mesh := gorillastore.New(member.WebSessions(), hashKey)
	rs, err := redistore.NewRediStoreWithPool(pool, hashKey)
	if err != nil {
		b.Fatal(err)
	}
	stores := []struct {
		name    string
		store   sessions.Store
		options *sessions.Options
	}{
		{"sessionmesh", mesh, mesh.Options},
		{"redis", rs, rs.Options},
	}
	values := make([][]byte, keys)
	for i := range values {
		values[i] = random(valueSize)
	}
	const name = "session"
	// save saves a session of value under id (a new one if id is empty)
	// and returns its ID and its cookie.
	save := func(st sessions.Store, options *sessions.Options, id string, value []byte, maxAge int) (string, string, error) {
		s := sessions.NewSession(st, name)
		opts := *options
		opts.MaxAge = maxAge
		s.Options, s.ID, s.IsNew = &opts, id, id == ""
		s.Values["data"] = value
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		w := httptest.NewRecorder()
		if err := st.Save(r, w, s); err != nil {
			return "", "", err
		}
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			return "", "", fmt.Errorf("save: %d cookies", len(cookies))
		}
		return s.ID, cookies[0].Name + "=" + cookies[0].Value, nil
	}
	type saved struct{ ids, cookies []string }
	have := map[string]saved{}
	for _, st := range stores {
		sv := saved{make([]string, keys), make([]string, keys)}
		if err := parallel(16, keys, func(i int) (err error) {
			sv.ids[i], sv.cookies[i], err = save(st.store, st.options, "", values[i], st.options.MaxAge)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		have[st.name] = sv
	}
	b.Logf("member 0 holds %d of the %d sessions", member.Store().Stats().WebSessions, keys)

	for _, op := range []string{"Get", "Save", "Delete"} {
		for _, c := range concurrency {
			for _, st := range stores {
				sv := have[st.name]
				b.Run(fmt.Sprintf("%s/c%d/%s", op, c, st.name), func(b *testing.B) {
					b.ReportAllocs()
					switch op {
					case "Get":
						run(b, c, func(i int) error {
							r := httptest.NewRequest(http.MethodGet, "/", nil)
							r.Header.Set("Cookie", sv.cookies[i%keys])
							s, err := st.store.Get(r, name)
							if err == nil && (s.IsNew || len(s.Values["data"].([]byte)) != valueSize) {
								err = fmt.Errorf("get %s: new %v", sv.ids[i%keys], s.IsNew)
							}
							return err
						})
					case "Save":
						run(b, c, func(i int) error {
							_, _, err := save(st.store, st.options, sv.ids[i%keys], values[(i+1)%keys], st.options.MaxAge)
							return err
						})
					case "Delete":
						b.StopTimer()
						doomed := make([]string, b.N)
						if err := parallel(16, b.N, func(i int) (err error) {
							doomed[i], _, err = save(st.store, st.options, "", values[i%keys], st.options.MaxAge)
							return err
						}); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
						run(b, c, func(i int) error {
							_, _, err := save(st.store, st.options, doomed[i], nil, -1)
							return err
						})
					}
				})
			}
		}
	}
}

// run times op(0) to op(b.N-1), called from exactly workers goroutines
// that take the next i in turn.
func run(b *testing.B, workers int, op func(i int) error) {
	if err := parallel(workers, b.N, op); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
}

// parallel calls op(0) to op(n-1) from workers goroutines, and returns the
// first error (after which the others stop).
func parallel(workers, n int, op func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// startCluster starts 3 members on loopback and returns the first. Their
// web sessions may take 1 GiB each, so that the b.N sessions a Delete
// benchmark commits first push none out.
func startCluster(b *testing.B) *sessionmesh.Member {
	c := testmembers.Start(b, 3, func(*sessionmesh.Member) http.Handler { return http.NotFoundHandler() },
		func(cfg *sessionmesh.Config) { cfg.WebMaxBytes = 1 << 30 })
	return c.Members[0]
}

// startRedis runs a throwaway redis-server without persistence on a free
// loopback port (a replica of the one at master, if not empty), and returns
// a pool of connections to it large enough for 16 callers, so that none
// waits for a connection or dials one.
func startRedis(b *testing.B, master string) (*redis.Pool, string) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		b.Skip("redis-server is not installed (apt-get install redis-server): nothing to compare with")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"--port", fmt.Sprint(ln.Addr().(*net.TCPAddr).Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", b.TempDir()} // a replica's sync writes an RDB file
	if master != "" {
		host, port, _ := net.SplitHostPort(master)
		args = append(args, "--replicaof", host, port)
	}
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pool := &redis.Pool{
		MaxIdle:   32,
		MaxActive: 0, // no limit
		Dial:      func() (redis.Conn, error) { return redis.Dial("tcp", addr) },
	}
	b.Cleanup(func() { pool.Close() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn := pool.Get()
		_, err := conn.Do("PING")
		conn.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("redis-server on %s did not answer: %v", addr, err)
		}
	}
	return pool, addr
}

// waitStore is the Redis that gives a write what a sessionmesh Commit gives
// it: a master with one replica, each write acknowledged by the replica
// (WAIT 1) before it returns, so that it survives the loss of either. It
// stores scs's sessions as redisstore does, under the same prefix.
type waitStore struct{ pool *redis.Pool }

// startReplicatedRedis starts a master and its replica, and waits until the
// replica has synchronised.
func startReplicatedRedis(b *testing.B) *waitStore {
	master, addr := startRedis(b, "")
	w := &waitStore{pool: master}
	startRedis(b, addr)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn := master.Get()
		n, err := redis.Int(conn.Do("WAIT", 1, 100))
		conn.Close()
		if err == nil && n == 1 {
			return w
		}
		if time.Now().After(deadline) {
			b.Fatalf("the Redis replica did not synchronise: %d replicas, %v", n, err)
		}
	}
}

func (w *waitStore) find(token string) ([]byte, bool, error) {
	conn := w.pool.Get()
	defer conn.Close()
	v, err := redis.Bytes(conn.Do("GET", "scs:session:"+token))
	if err == redis.ErrNil {
		return nil, false, nil
	}
	return v, err == nil, err
}

func (w *waitStore) commit(token string, v []byte, exp time.Time) error {
	conn := w.pool.Get()
	defer conn.Close()
	conn.Send("SET", "scs:session:"+token, v, "PXAT", exp.UnixMilli())
	return w.wait(conn)
}

func (w *waitStore) delete(token string) error {
	conn := w.pool.Get()
	defer conn.Close()
	conn.Send("DEL", "scs:session:"+token)
	return w.wait(conn)
}

// wait sends WAIT 1 after the write already sent on conn, in one round
// trip, and checks that the replica has it.
func (w *waitStore) wait(conn redis.Conn) error {
	conn.Send("WAIT", 1, 1000)
	if err := conn.Flush(); err != nil {
		return err
	}
	if _, err := conn.Receive(); err != nil {
		return err
	}
	n, err := redis.Int(conn.Receive())
	if err == nil && n < 1 {
		err = fmt.Errorf("the write reached no replica")
	}
	return err
}

// token returns a session token as scs makes them: 32 random bytes, base64.
func token() string { return base64.RawURLEncoding.EncodeToString(random(32)) }

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
