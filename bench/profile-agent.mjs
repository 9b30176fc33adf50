// Preloaded into a gateway process by bench/profile.ts (`node --import ./bench/profile-agent.mjs`),
// never by the gateway itself. On the parent's 'start' it starts the V8 CPU profiler and counts
// the SQL statements the pg driver sends (by their first words, no parameters: no PHI); on 'stop'
// it writes the profile, the counts and the process CPU time to PROFILE_OUT (a path prefix) and
// answers 'stopped'.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import pg from 'pg';

const out = process.env.PROFILE_OUT;
const counts = new Map();
let counting = false;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  if (counting) {
    const text = typeof config === 'string' ? config : config?.text;
    const key = statementKey(typeof text === 'string' ? text : '?');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return query.call(this, config, ...rest);
};

/** The statement's kind and its table: `insert into lineage`, `select … from inbox`, `begin`. */
function statementKey(text) {
  const t = text.replace(/\s+/g, ' ').trim().toLowerCase();
  const verb = t.split(' ')[0] ?? '?';
  const table =
    /^(?:insert into|update|delete from) ([a-z_."]+)/.exec(t)?.[1] ??
    /\bfrom ([a-z_."]+)/.exec(t)?.[1] ??
    /^select ([a-z_]+)\(/.exec(t)?.[1] ??
    '';
  return table ? `${verb} ${table}` : t.slice(0, 40);
}

const session = new Session();
session.connect();
const post = (method, params = {}) =>
  new Promise((resolve, reject) =>
    session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
  );
let cpu0;
let t0;
process.on('message', async (m) => {
  if (m === 'start') {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
    counting = true;
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    process.send?.('started');
  } else if (m === 'stop') {
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - t0;
    counting = false;
    const { profile } = await post('Profiler.stop');
    writeFileSync(`${out}.cpuprofile`, JSON.stringify(profile));
    writeFileSync(
      `${out}.json`,
      JSON.stringify({
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000,
        wallMs,
        sql: Object.fromEntries(counts),
      }),
    );
    process.send?.('stopped');
  }
});
