// Usage: node resume.js TLSv1.3 host:port host:port
// Connects to the first address, keeps the session the server sends, offers
// it to the second, and prints "New" or "Reused" for each connection.
'use strict';
const tls = require('tls');

const [version, first, second] = process.argv.slice(2);

function connect(addr, session) {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    let saved;
    const s = tls.connect({
      host: addr.slice(0, i), port: Number(addr.slice(i + 1)), servername: 'a.example',
      rejectUnauthorized: false, minVersion: version, maxVersion: version, session,
    });
    s.on('session', (sess) => { saved = sess; });
    s.on('data', () => {});
    s.on('end', () => resolve({ reused: s.isSessionReused(), session: saved }));
    s.on('error', reject);
  });
}

(async () => {
  const a = await connect(first);
  console.log(a.reused ? 'Reused' : 'New');
  if (!a.session) throw new Error('the server sent no session');
  const b = await connect(second, a.session);
  console.log(b.reused ? 'Reused' : 'New');
})().catch((e) => { console.error(e.message); process.exit(1); });
