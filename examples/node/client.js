'use strict';
// A Node.js TLS client that makes a session on one server and offers it to
// another, and says whether the second resumed it:
//
//   node client.js --from 127.0.0.1:8443 --to 127.0.0.1:8444 --tls TLSv1.3
//   check 127.0.0.1:8443 -> 127.0.0.1:8444: Reused TLSv1.3
const tls = require('node:tls');
const { parseFlags } = require('./common');

const flags = parseFlags(process.argv.slice(2), { from: '', to: '', tls: 'TLSv1.3', servername: 'localhost' });

// get makes one request and resolves with the last session the server gave
// (a TLS 1.3 ticket arrives after the handshake) and whether it resumed.
function get(addr, session) {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    let last = null;
    let reused = false;
    let proto = '';
    const s = tls.connect({
      host: addr.slice(0, i), port: Number(addr.slice(i + 1)), servername: flags.servername,
      rejectUnauthorized: false, minVersion: flags.tls, maxVersion: flags.tls, session,
    }, () => {
      reused = s.isSessionReused();
      proto = s.getProtocol();
      s.end('GET / HTTP/1.0\r\n\r\n');
    });
    s.on('session', (sess) => { last = sess; });
    s.on('data', () => {});
    s.on('error', reject);
    s.on('close', () => resolve({ session: last || s.getSession(), reused, proto }));
  });
}

(async () => {
  const first = await get(flags.from);
  const second = await get(flags.to, first.session);
  console.log(`check ${flags.from} -> ${flags.to}: ${second.reused ? 'Reused' : 'New'} ${second.proto}`);
})().catch((err) => {
  console.error(`client: ${err.message}`);
  process.exit(1);
});
