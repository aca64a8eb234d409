'use strict';
// An HTTPS server whose TLS sessions live in the sessionmesh cluster, through
// its local sidecar: any server of the fleet resumes a session any other made.
//
//   node cache-server.js --port 8443 --sidecar 127.0.0.1:6380 --cert cert.pem --key key.pem
//
// It listens on every interface, so that clients on other hosts reach it
// (--host 127.0.0.1 for this host only). The sidecar's password, if it has
// one, comes from SESSIONMESH_REQUIREPASS, as the sidecar's does.
//
// When the sidecar is down, handshakes are full ones (nothing is stored or
// resumed) and take no longer; one line is logged, then one a minute; the
// sessions are shared again as soon as ioredis reconnects (within 2 s).
//
// TLS 1.2 only: Node's TLS 1.3 stateful resumption does not work even on one
// server (the ID newSession reports is not the one the client's ticket
// carries later), so use ticket-server.js for TLS 1.3. Every server of the
// fleet must set the same sessionIdContext: Node's default is derived from
// the command line, and servers started with other arguments would refuse
// each other's sessions silently.
const https = require('node:https');
const crypto = require('node:crypto');
const { parseFlags, sidecar, tlsFiles, listenHost, handler, stopOn } = require('./common');

const flags = parseFlags(process.argv.slice(2), {
  name: `cache-${process.pid}`, host: '', port: '8443', sidecar: '127.0.0.1:6380',
  cert: 'cert.pem', key: 'key.pem', ttl: '300', context: 'sessionmesh-example',
});
const redis = sidecar(flags.sidecar, flags.name);
const ttl = Number(flags.ttl); // seconds a session stays resumable

const server = https.createServer({
  ...tlsFiles(flags),
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.2',
  secureOptions: crypto.constants.SSL_OP_NO_TICKET, // session IDs, not tickets
  sessionIdContext: flags.context,
  sessionTimeout: ttl,
}, handler(flags.name));

// Session IDs are random (32 bytes from OpenSSL); the prefix keeps them
// apart from anything else the servers keep in the sidecar.
const key = (id) => 'tls:' + id.toString('hex');

server.on('newSession', (id, data, done) => {
  redis.set(key(id), data, 'EX', ttl).then(() => done(), (err) => {
    redis.log('storing a session', err);
    done(); // the handshake goes on; the session just will not resume elsewhere
  });
});

server.on('resumeSession', (id, done) => {
  redis.getBuffer(key(id)).then((data) => done(null, data), (err) => {
    redis.log('fetching a session', err);
    done(null, null); // a full handshake, never a failed one
  });
});

server.listen(Number(flags.port), listenHost(flags.host), () => {
  console.log(`cache-server ${flags.name} port=${server.address().port}`);
});
stopOn(server, redis);
