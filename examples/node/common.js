'use strict';
// What both example servers share: flags, the certificate, the ioredis
// client of the local sidecar, the HTTPS handler, and a graceful stop.
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

// sidecar returns an ioredis client of the sidecar at host:port; the
// password, if the sidecar has one, comes from SESSIONMESH_REQUIREPASS.
function sidecar(addr) {
  const i = addr.lastIndexOf(':');
  return new Redis({
    host: addr.slice(0, i),
    port: Number(addr.slice(i + 1)),
    password: process.env.SESSIONMESH_REQUIREPASS || undefined,
    // A handshake must not wait long on a sidecar in trouble: fail fast and
    // do a full handshake instead.
    commandTimeout: 500,
    maxRetriesPerRequest: 1,
  });
}

function tlsFiles(flags) {
  return { cert: fs.readFileSync(flags.cert), key: fs.readFileSync(flags.key) };
}

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
    redis.quit().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

module.exports = { parseFlags, sidecar, tlsFiles, handler, stopOn };
