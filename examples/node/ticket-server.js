'use strict';
// An HTTPS server that encrypts session tickets with the cluster's rotating
// ticket key, which its local sidecar hands out: any server of the fleet
// resumes a ticket any other issued, in TLS 1.2 and 1.3, and no key is ever
// on disk.
//
//   node ticket-server.js --port 8443 --sidecar 127.0.0.1:6380 --cert cert.pem --key key.pem
//
// It listens on every interface, so that clients on other hosts reach it
// (--host 127.0.0.1 for this host only). The sidecar's password, if it has
// one, comes from SESSIONMESH_REQUIREPASS, as the sidecar's does.
//
// It serves once it has a key: started before its sidecar (or with it), it
// says it is waiting and serves as soon as the sidecar answers. The key is
// fetched again every --refresh seconds (default 30): the sidecars switch
// keys within a second of each other, and Node holds one key, so a ticket
// from before a rotation gets a full handshake (and a new ticket) once. If
// the sidecar dies, the server keeps the key it has: tickets resume across
// servers until the cluster's next rotation (hourly by default), after which
// the other servers have moved on and its tickets resume only on itself, until
// it can fetch again. Every server of the fleet must set the same
// sessionIdContext.
const https = require('node:https');
const { parseFlags, sidecar, tlsFiles, listenHost, handler, stopOn, isAuthError } = require('./common');

const flags = parseFlags(process.argv.slice(2), {
  name: `ticket-${process.pid}`, host: '', port: '8443', sidecar: '127.0.0.1:6380',
  cert: 'cert.pem', key: 'key.pem', refresh: '30', context: 'sessionmesh-example',
});
const redis = sidecar(flags.sidecar, flags.name);

// fetchKey returns the cluster's current ticket key: 48 bytes, key name,
// HMAC secret, AES key.
const fetchKey = () => redis.callBuffer('SESSIONMESH.TICKETKEY');

// firstKey waits until the sidecar answers and hands out a key, saying so
// once if the sidecar does not answer at first. A password the sidecar
// refuses is not something waiting mends: it exits.
async function firstKey() {
  let said = false;
  let authFailed;
  const refused = new Promise((_, reject) => { authFailed = reject; });
  refused.catch(() => {}); // raced below; never unhandled
  const onError = (err) => {
    if (isAuthError(err)) authFailed(new Error(redis.explain(err)));
    else if (!said) {
      console.error(`${flags.name}: waiting for the sidecar at ${flags.sidecar} (start it first)`);
      said = true;
    }
  };
  redis.on('error', onError);
  try {
    for (;;) {
      if (redis.status !== 'ready') {
        await Promise.race([new Promise((resolve) => redis.once('ready', resolve)), refused]);
      }
      try {
        return await fetchKey();
      } catch (err) {
        if (isAuthError(err)) throw new Error(redis.explain(err));
        redis.log('fetching the ticket key', err);
        // Connected but no key (the sidecar lost its cluster?): again in a
        // moment. Disconnected: at the next 'ready'.
        if (redis.status === 'ready') await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  } finally {
    redis.off('error', onError);
  }
}

async function main() {
  let current = await firstKey();
  const server = https.createServer({
    ...tlsFiles(flags),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ticketKeys: current,
    sessionIdContext: flags.context,
  }, handler(flags.name));

  const refresh = setInterval(async () => {
    try {
      const next = await fetchKey();
      if (!next.equals(current)) {
        server.setTicketKeys(next);
        current = next;
      }
    } catch (err) {
      redis.log('fetching the ticket key (keeping the one it has)', err);
    }
  }, Number(flags.refresh) * 1000);

  server.listen(Number(flags.port), listenHost(flags.host), () => {
    console.log(`ticket-server ${flags.name} port=${server.address().port}`);
  });
  stopOn(server, redis, [refresh]);
}

main().catch((err) => {
  console.error(`${flags.name}: ${err.message}`);
  process.exit(1);
});
