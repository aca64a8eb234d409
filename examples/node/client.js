'use strict';
// A Node.js TLS client that makes a session on one server and offers it to
// another, and says whether the second resumed it:
//
//   node client.js --from 127.0.0.1:8443 --to OTHER_HOST:8443
//   check 127.0.0.1:8443 -> OTHER_HOST:8443: Reused TLSv1.3
//
// --tls TLSv1.2 or TLSv1.3 pins the version; by default the servers pick
// (TLS 1.3 from ticket-server.js, TLS 1.2 from cache-server.js).
const tls = require('node:tls');
const { parseFlags } = require('./common');

const usage = 'usage: node client.js --from HOST:PORT --to HOST:PORT [--tls TLSv1.2|TLSv1.3] [--servername NAME]';
const flags = parseFlags(process.argv.slice(2), { from: '', to: '', tls: '', servername: 'localhost' });
const addrOK = (a) => /^.+:\d+$/.test(a);
if (!addrOK(flags.from) || !addrOK(flags.to) || !['', 'TLSv1.2', 'TLSv1.3'].includes(flags.tls)) {
  console.error(usage);
  process.exit(2);
}
const versions = flags.tls ? { minVersion: flags.tls, maxVersion: flags.tls } : { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };

// get makes one request and resolves with the last session the server gave
// (a TLS 1.3 ticket arrives after the handshake) and whether it resumed.
function get(addr, session) {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve, reject) => {
    let last = null;
    let reused = false;
    let proto = '';
    const s = tls.connect({
      host, port: Number(addr.slice(i + 1)), servername: flags.servername,
      rejectUnauthorized: false, ...versions, session,
    }, () => {
      reused = s.isSessionReused();
      proto = s.getProtocol();
      s.end('GET / HTTP/1.0\r\n\r\n');
    });
    s.on('session', (sess) => { last = sess; });
    s.on('data', () => {});
    s.on('error', (err) => reject(new Error(`${addr}: ${err.message}`)));
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
