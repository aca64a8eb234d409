'use strict';
// An HTTPS server that encrypts session tickets with the cluster's rotating
// ticket key, which its local sidecar hands out: any server of the fleet
// resumes a ticket any other issued, in TLS 1.2 and 1.3, and no key is ever
// on disk.
//
//   node ticket-server.js --port 8443 --sidecar 127.0.0.1:6380 --cert cert.pem --key key.pem
//
// The key is fetched at start and every --refresh seconds (default 30): the
// sidecars switch keys within a second of each other, and Node holds one
// key, so a ticket from before a rotation gets a full handshake (and a new
// ticket) once. Every server of the fleet must set the same sessionIdContext.
const https = require('node:https');
const { parseFlags, sidecar, tlsFiles, handler, stopOn } = require('./common');

const flags = parseFlags(process.argv.slice(2), {
  name: `ticket-${process.pid}`, host: '127.0.0.1', port: '8443', sidecar: '127.0.0.1:6380',
  cert: 'cert.pem', key: 'key.pem', refresh: '30', context: 'sessionmesh-example',
});
const redis = sidecar(flags.sidecar);

async function main() {
  let current = await redis.callBuffer('SESSIONMESH.TICKETKEY'); // 48 bytes: name, HMAC secret, AES key
  const server = https.createServer({
    ...tlsFiles(flags),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ticketKeys: current,
    sessionIdContext: flags.context,
  }, handler(flags.name));

  const refresh = setInterval(async () => {
    try {
      const next = await redis.callBuffer('SESSIONMESH.TICKETKEY');
      if (!next.equals(current)) {
        server.setTicketKeys(next);
        current = next;
      }
    } catch (err) {
      console.error(`${flags.name}: fetching the ticket key: ${err.message}`); // keep the one we have
    }
  }, Number(flags.refresh) * 1000);

  server.listen(Number(flags.port), flags.host, () => {
    console.log(`ticket-server ${flags.name} port=${server.address().port}`);
  });
  stopOn(server, redis, [refresh]);
}

main().catch((err) => {
  console.error(`${flags.name}: ${err.message}`);
  process.exit(1);
});
