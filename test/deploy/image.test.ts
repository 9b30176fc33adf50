import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (...p: string[]) => readFileSync(join(ROOT, ...p), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  version: string;
  engines: { node: string };
  scripts: Record<string, string>;
};

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ op: string; args: string; stage: number }> {
  const out: Array<{ op: string; args: string; stage: number }> = [];
  let stage = -1;
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    if (m[1] === 'FROM') stage++;
    out.push({ op: m[1]!, args: m[2]!.trim(), stage });
  }
  return out;
}

describe('the image (docker/Dockerfile)', () => {
  const all = instructions(read('docker', 'Dockerfile'));
  const last = Math.max(...all.map((i) => i.stage));
  const runtime = all.filter((i) => i.stage === last);
  const args = Object.fromEntries(
    all.filter((i) => i.op === 'ARG' && i.stage === -1).map((i) => i.args.split('=') as [string, string]),
  );
  const from = (i: { args: string }) => i.args.replace(/\$\{(\w+)\}/g, (_, n: string) => args[n] ?? '');
  const jsonArgs = (op: string) => JSON.parse(runtime.find((i) => i.op === op)!.args) as string[];

  it('is multi-stage on Node 22, production dependencies from the lock file only', () => {
    const froms = all.filter((i) => i.op === 'FROM');
    assert.ok(froms.length >= 2, 'a build stage and a runtime stage');
    for (const f of froms) assert.match(from(f), /^node:22[.-]/, 'Node 22 LTS in every stage');
    const ci = all.filter((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    assert.ok(ci.length > 0 && ci.every((i) => /--omit=dev/.test(i.args) && i.stage !== last));
    assert.ok(
      !runtime.some((i) => i.op === 'RUN' && /\bnpm (ci|install)\b/.test(i.args)),
      'nothing installed at run time',
    );
    assert.ok(runtime.some((i) => i.op === 'COPY' && /--from=deps .*node_modules/.test(i.args)));
  });

  it('runs what npm start runs, as a non-root user, under tini', () => {
    assert.deepEqual(jsonArgs('ENTRYPOINT'), ['/usr/bin/tini', '--']);
    assert.equal(
      jsonArgs('CMD').join(' '),
      (pkg.scripts.start ?? '').replace(/^exec /, ''),
      'the same command as npm start',
    );
    const user = runtime.filter((i) => i.op === 'USER').at(-1)!.args;
    assert.match(user, /^[1-9]\d*:[1-9]\d*$/, 'numeric, non-root (runAsNonRoot can check it)');
    assert.ok(runtime.some((i) => i.op === 'STOPSIGNAL' && i.args === 'SIGTERM'));
  });

  it('writes only to DATA_DIR and /tmp, both volumes', () => {
    const env = runtime
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    const dataDir = /DATA_DIR=(\S+)/.exec(env)?.[1];
    assert.ok(dataDir);
    const volumes = JSON.parse(runtime.find((i) => i.op === 'VOLUME')!.args) as string[];
    assert.deepEqual([...volumes].sort(), [dataDir, '/tmp'].sort());
    assert.match(env, /HOST=0\.0\.0\.0/);
  });

  it('checks liveness (not readiness) with a start period', () => {
    const hc = runtime.find((i) => i.op === 'HEALTHCHECK')!.args;
    assert.match(hc, /--start-period=\d+s/);
    assert.match(hc, /CMD \["node", "\/app\/docker\/healthcheck\.mjs"\]/);
    assert.match(read('docker', 'healthcheck.mjs'), /path: '\/health\/live'/);
    assert.doesNotMatch(read('docker', 'healthcheck.mjs'), /health\/ready/);
  });

  it('carries OCI labels, the demo models and mappings, and its SBOM', () => {
    const labels = runtime
      .filter((i) => i.op === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const k of ['title', 'description', 'version', 'revision', 'created', 'licenses', 'source'].filter(
      (k) => k !== 'source',
    ))
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${k}=`));
    const copies = runtime.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'));
    const sources = copies.flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const dir of ['src', 'mappings', 'models', 'fhir-profiles'])
      assert.ok(sources.includes(dir), `COPY ${dir}`);
    for (const s of sources) assert.ok(existsSync(join(ROOT, s)), `${s} exists`);
    assert.ok(runtime.some((i) => i.op === 'COPY' && /--from=sbom .*sbom\.cdx\.json/.test(i.args)));
    const sbomStage = all.filter(
      (i) => i.stage === all.find((x) => x.op === 'FROM' && /AS sbom/.test(x.args))!.stage,
    );
    assert.ok(sbomStage.some((i) => i.op === 'RUN' && /npm sbom --sbom-format cyclonedx/.test(i.args)));
  });

  it('.dockerignore keeps local state, dependencies, git and fixtures out; not what the image copies', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'data', '.git', 'fixtures', '.env']) assert.ok(ignored.includes(p), p);
    for (const p of [
      'src',
      'models',
      'mappings',
      'fhir-profiles',
      'package-lock.json',
      'docker/healthcheck.mjs',
    ])
      assert.ok(!ignored.includes(p), `${p} reaches the build`);
  });
});

describe('docker/compose.yaml', () => {
  const compose = parse(read('docker', 'compose.yaml'), { merge: true }) as {
    services: Record<string, Record<string, unknown> & { environment?: Record<string, string> }>;
    volumes: Record<string, unknown>;
    configs: Record<string, { file: string }>;
  };
  const gateways = Object.entries(compose.services).filter(([, s]) =>
    JSON.stringify(s.build ?? '').includes('docker/Dockerfile'),
  );

  it('PostgreSQL, Redis with its volume, HAPI FHIR, and two gateways sharing them', () => {
    const image = (name: string) => String(compose.services[name]?.image ?? '');
    assert.match(image('postgres'), /^postgres:\d+/);
    assert.match(image('redis'), /^redis:\d+/);
    assert.match(image('hapi'), /^hapiproject\/hapi:v\d/);
    assert.ok((compose.services.redis!.volumes as string[]).some((v) => v.endsWith(':/data')));
    assert.ok(gateways.length >= 2);
    for (const [name, g] of gateways) {
      assert.equal(g.environment?.REDIS_URL, 'redis://redis:6379', `${name} shares Redis`);
      assert.match(String(g.environment?.FHIR_BASE_URL), /^http:\/\/hapi:8080\/fhir$/);
      const dependsOn = g.depends_on as Record<string, { condition: string }>;
      assert.equal(dependsOn.postgres?.condition, 'service_healthy');
      assert.equal(dependsOn.redis?.condition, 'service_healthy');
      assert.equal(g.read_only, true);
      assert.ok((g.tmpfs as string[]).includes('/tmp'));
    }
    const ports = gateways.flatMap(([, g]) => g.ports as string[]);
    assert.equal(new Set(ports.map((p) => p.split(':')[0])).size, ports.length, 'no host port twice');
  });

  it('restart policies and health checks; no secret written in the file', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      assert.equal(s.restart, 'unless-stopped', `${name} restarts`);
      const env = Object.entries(s.environment ?? {});
      for (const [k, v] of env)
        assert.ok(
          !/PASSWORD|TOKEN|SECRET|KEY|DATABASE_URL/.test(k),
          `${name}: ${k}=${v} belongs in an env file`,
        );
    }
    for (const name of ['postgres', 'redis']) assert.ok(compose.services[name]!.healthcheck);
    const envFiles = Object.values(compose.services).flatMap((s) =>
      ((s.env_file ?? []) as Array<{ path: string }>).map((f) => f.path),
    );
    assert.ok(envFiles.length >= 3);
    for (const f of new Set(envFiles)) {
      assert.ok(existsSync(join(ROOT, 'docker', `${f}.example`)), `${f}.example shows what goes in ${f}`);
      assert.match(read('.gitignore'), /^docker\/\*\.env$/m, 'the real env files are not committed');
    }
    const example = read('docker', 'gateway.env.example');
    assert.match(example, /^GATEWAY_ADMIN_TOKEN_SHA256=/m, 'the admin token as a hash only');
    assert.doesNotMatch(example, /^GATEWAY_ADMIN_TOKEN=/m);
  });

  it('the gateway.yaml both processes read is a valid configuration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-compose-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, read('docker', compose.configs['gateway-config']!.file));
    const c = loadConfig({ GATEWAY_CONFIG: file }, dir);
    assert.ok(c.mllp.shutdownGraceMs * 1.5 <= 30_000, 'stop_grace_period (30 s) covers the MLLP drain');
  });
});

describe('supply chain and Node versions', () => {
  it('npm run sbom makes a CycloneDX SBOM of the production dependencies', () => {
    assert.match(pkg.scripts.sbom ?? '', /npm sbom --sbom-format cyclonedx/);
    const out = execFileSync(
      'npm',
      ['sbom', '--sbom-format', 'cyclonedx', '--omit', 'dev', '--package-lock-only'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        maxBuffer: 64 << 20,
      },
    );
    const bom = JSON.parse(out) as {
      bomFormat: string;
      components: Array<{ name: string; version: string }>;
    };
    assert.equal(bom.bomFormat, 'CycloneDX');
    const names = new Set(bom.components.map((c) => c.name));
    for (const n of ['pg', 'bullmq', 'onnxruntime-node', 'fastify', 'tsx']) assert.ok(names.has(n), n);
    for (const n of ['typescript', '@biomejs/biome', 'kubernetes-models'])
      assert.ok(!names.has(n), `${n} is dev only`);
  });

  it('engines admit Node 20 and 22; CI runs on both', () => {
    assert.match(pkg.engines.node, /^>=20\.\d+/);
    const ci = parse(read('.github', 'workflows', 'ci.yml')) as {
      jobs: { test: { strategy: { matrix: { node: string[] } } } };
    };
    assert.deepEqual(ci.jobs.test.strategy.matrix.node.map(String).sort(), ['20', '22']);
    const major = Number(process.versions.node.split('.')[0]);
    assert.ok(major === 20 || major >= 22, `running on Node ${process.versions.node}`);
  });
});
