'use strict';
// What both example servers share: flags, the certificate, the ioredis
// client of the local sidecar, a rate-limited error log, the HTTPS handler,
// and a graceful stop.
const fs = require('node:fs');
const Redis = require('ioredis');

// parseFlags reads --name value pairs into an object over the defaults.
function parseFlags(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--?/, '');
    if (!(name in defaults) || i + 1 >= argv.length) {
      console.error(`unknown flag or missing value: ${argv[i]} (flags: ${Object.keys(defaults).map((k) => '--' + k).join(' ')})`);
      process.exit(2);
    }
    out[name] = argv[i + 1];
  }
  return out;
}

// rateLimited returns a function log(msg, kind) that logs the first message
// of each kind at once and then at most one line a minute per kind, saying
// how many it held back: a server next to a dead sidecar fails every
// handshake's store and every reconnect, and must not write a line for
// each; but a new kind of trouble (a wrong password after a restart) is not
// held back behind an old one.
function rateLimited(prefix, interval = 60_000) {
  const kinds = new Map(); // kind -> { held, last, timer }
  const flush = (kind) => {
    const k = kinds.get(kind);
    if (k.held === 0) {
      kinds.delete(kind); // quiet for a whole interval: the next one logs at once
      return;
    }
    console.error(`${prefix}: ${k.held} more in the last minute; the last: ${k.last}`);
    k.held = 0;
    k.timer = setTimeout(flush, interval, kind).unref();
  };
  return (msg, kind = '') => {
    const k = kinds.get(kind);
    if (!k) {
      console.error(`${prefix}: ${msg}`);
      kinds.set(kind, { held: 0, last: '', timer: setTimeout(flush, interval, kind).unref() });
      return;
    }
    k.held++;
    k.last = msg;
  };
}

// kindOf sorts sidecar errors for the log: a password refused, the sidecar
// out of reach, anything else.
function kindOf(err) {
  const m = err.message || String(err);
  if (/NOAUTH|WRONGPASS|invalid password/.test(m)) return 'auth';
  if (/ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|isn't writeable|Connection is closed/.test(m)) return 'down';
  return 'other';
}

// explain turns an ioredis error into what to do about it.
function explain(err, addr) {
  const m = err.message || String(err);
  if (m.includes('NOAUTH')) {
    return `the sidecar at ${addr} has a password: set SESSIONMESH_REQUIREPASS for this server too, to the sidecar's (${m})`;
  }
  if (m.includes('WRONGPASS') || m.includes('invalid password')) {
    return `SESSIONMESH_REQUIREPASS is not the password of the sidecar at ${addr} (${m})`;
  }
  if (kindOf(err) === 'down') {
    return `the sidecar at ${addr} does not answer (is it running?): ${m}`;
  }
  return m;
}

// isAuthError reports whether err is the sidecar refusing this server's
// password (or its lack): waiting does not mend it.
const isAuthError = (err) => kindOf(err) === 'auth';

// sidecar returns an ioredis client of the sidecar at host:port; the
// password, if the sidecar has one, comes from SESSIONMESH_REQUIREPASS. Its
// errors go to a rate-limited log, which client.log(what, err) shares, and
// client.explain(err) says what to do about one.
//
// While the sidecar is down, commands fail at once instead of waiting in
// ioredis's offline queue (which made every handshake wait for the
// timeout): the cache server does full handshakes, the ticket server keeps
// the key it has. ioredis reconnects by itself, every 2 s at most.
function sidecar(addr, name) {
  const i = addr.lastIndexOf(':');
  const log = rateLimited(name);
  const redis = new Redis({
    host: addr.slice(0, i),
    port: Number(addr.slice(i + 1)),
    password: process.env.SESSIONMESH_REQUIREPASS || undefined,
    enableOfflineQueue: false,
    // A handshake must not wait long on a sidecar in trouble: fail fast and
    // do a full handshake instead.
    commandTimeout: 500,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
  });
  let lastError = null; // why the connection failed, while it is down
  let failing = false;
  redis.on('error', (err) => {
    lastError = err;
    failing = true;
    log(explain(err, addr), kindOf(err));
  });
  redis.on('ready', () => {
    if (failing) console.error(`${name}: the sidecar at ${addr} answers again`);
    lastError = null;
    failing = false;
  });
  // A command refused for want of a connection is logged as why there is
  // none.
  const unconnected = (err) => /isn't writeable|Connection is closed/.test(err.message || '');
  const cause = (err) => (unconnected(err) && lastError) || err;
  redis.explain = (err) => {
    if (unconnected(err) && !lastError) return `not connected to the sidecar at ${addr} (yet)`;
    return explain(cause(err), addr);
  };
  // redis.log(what, err) logs "what: why", rate-limited with the client's
  // own errors.
  redis.log = (what, err) => log(`${what}: ${redis.explain(err)}`, kindOf(cause(err)));
  return redis;
}

function tlsFiles(flags) {
  return { cert: fs.readFileSync(flags.cert), key: fs.readFileSync(flags.key) };
}

// listenHost is the --host flag as server.listen takes it: empty means
// every interface (IPv6 and IPv4), as Node's default.
const listenHost = (host) => host || undefined;

// handler answers which server served the request and whether the TLS
// session was resumed.
function handler(name) {
  return (req, res) => {
    const s = req.socket;
    res.end(`${name} ${s.getProtocol()} resumed=${s.isSessionReused()}\n`);
  };
}

// stopOn closes the server and the sidecar client on SIGINT and SIGTERM.
function stopOn(server, redis, timers = []) {
  const stop = () => {
    timers.forEach(clearInterval);
    server.close();
    server.closeAllConnections?.();
    redis.quit().catch(() => {}).finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

module.exports = { parseFlags, rateLimited, explain, isAuthError, sidecar, tlsFiles, listenHost, handler, stopOn };
