'use strict';
// Cross-server TLS 1.2 resumption latency of cache-server.js fleets, side by
// side: for each pair FROM,TO it makes a session on FROM and resumes it on
// TO, N times, and times the resuming handshake (tls.connect to
// secureConnect, the session of the first connection offered). The pairs
// take turns, one round each at a time (the first pair first in even
// rounds, last in odd ones), so that the load of a shared machine falls on
// all of them alike.
//
//   node resumebench.js --n 500 --pairs sidecar=127.0.0.1:8443,127.0.0.1:8444+redis=127.0.0.1:8445,127.0.0.1:8446
//
//   pair       n resumed   p50 ms   p90 ms  mean ms
//   sidecar  500     500    1.234    1.567    1.301
//   redis    500     500    1.100    1.400    1.180
//
// The first --warmup rounds (default 20) are made but not counted. It exits
// 1 if any resumption was a full handshake.
const tls = require('node:tls');
const { parseFlags } = require('./common');

const flags = parseFlags(process.argv.slice(2), { n: '500', warmup: '20', pairs: '', servername: 'localhost' });
const n = Number(flags.n);
const warmup = Number(flags.warmup);
const pairs = flags.pairs.split('+').map((p) => {
  const [name, addrs] = p.split('=');
  const [from, to] = (addrs || '').split(',');
  return { name, from, to, times: [], resumed: 0 };
});
if (!(n > 0) || !(warmup >= 0) || pairs.some((p) => !p.name || !/:\d+$/.test(p.from || '') || !/:\d+$/.test(p.to || ''))) {
  console.error('usage: node resumebench.js [--n N] [--warmup N] --pairs NAME=FROM,TO[+NAME=FROM,TO...]');
  process.exit(2);
}

// connect makes one TLS 1.2 connection to addr, offering session, and
// resolves with the time from tls.connect to secureConnect (ns), whether the
// session was reused, and the connection's session.
function connect(addr, session) {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const s = tls.connect({
      host: addr.slice(0, i), port: Number(addr.slice(i + 1)), servername: flags.servername,
      rejectUnauthorized: false, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', session,
    }, () => {
      const ns = process.hrtime.bigint() - t0;
      const out = { ns, reused: s.isSessionReused(), session: s.getSession() };
      s.on('close', () => resolve(out));
      s.end();
    });
    s.on('error', (err) => reject(new Error(`${addr}: ${err.message}`)));
  });
}

async function round(p, counted) {
  const first = await connect(p.from);
  const second = await connect(p.to, first.session);
  if (!counted) return;
  p.times.push(Number(second.ns) / 1e6);
  if (second.reused) p.resumed++;
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];

(async () => {
  for (let r = 0; r < warmup + n; r++) {
    const order = r % 2 === 0 ? pairs : [...pairs].reverse();
    for (const p of order) await round(p, r >= warmup);
  }
  console.log(`${'pair'.padEnd(8)} ${'n'.padStart(5)} ${'resumed'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'mean ms'.padStart(8)}`);
  const stats = pairs.map((p) => {
    const s = [...p.times].sort((a, b) => a - b);
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    const st = { p50: quantile(s, 0.5), p90: quantile(s, 0.9), mean };
    console.log(`${p.name.padEnd(8)} ${String(s.length).padStart(5)} ${String(p.resumed).padStart(7)} ${st.p50.toFixed(3).padStart(8)} ${st.p90.toFixed(3).padStart(8)} ${mean.toFixed(3).padStart(8)}`);
    return st;
  });
  if (pairs.length === 2) {
    const [a, b] = stats;
    const r = (k) => (a[k] / b[k]).toFixed(2);
    console.log(`ratio ${pairs[0].name}/${pairs[1].name}: p50 ${r('p50')}  p90 ${r('p90')}  mean ${r('mean')}`);
  }
  if (pairs.some((p) => p.resumed !== p.times.length)) {
    console.error('resumebench: some resumptions were full handshakes');
    process.exit(1);
  }
})().catch((err) => {
  console.error(`resumebench: ${err.message}`);
  process.exit(1);
});
