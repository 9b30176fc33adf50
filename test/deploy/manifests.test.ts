import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { type K8sObject, kustomizeRoot, render } from './kustomize.js';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

/** The model class of an object from kubernetes-models' bundled API schemas (no network). */
async function modelOf(o: K8sObject): Promise<ModelClass> {
  const mod: Record<string, unknown> = o.apiVersion.startsWith('monitoring.coreos.com/')
    ? await import(`@kubernetes-models/prometheus-operator/${o.apiVersion}`)
    : await import(`kubernetes-models/${o.apiVersion}`);
  const cls = mod[o.kind];
  assert.ok(typeof cls === 'function', `no schema for ${o.apiVersion} ${o.kind}`);
  return cls as ModelClass;
}

const one = <T extends K8sObject>(objects: K8sObject[], kind: string): T => {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as T;
};

// Only the fields the checks read; every object is also validated whole against its schema.
type Probe = { httpGet?: { path: string; port: string | number } };
type Container = {
  name: string;
  image: string;
  ports: Array<{ name: string; containerPort: number; protocol?: string }>;
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe: Probe;
  readinessProbe: Probe;
  startupProbe?: Probe;
  lifecycle: { preStop: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  securityContext: {
    allowPrivilegeEscalation: boolean;
    readOnlyRootFilesystem: boolean;
    capabilities: { drop: string[] };
  };
  volumeMounts: Array<{ name: string; mountPath: string }>;
};
type Deployment = K8sObject & {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        automountServiceAccountToken: boolean;
        securityContext: { runAsNonRoot: boolean; runAsUser: number; seccompProfile: { type: string } };
        containers: Container[];
        volumes: Array<{ name: string; emptyDir?: unknown; configMap?: { name: string } }>;
      };
    };
  };
};

const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Every invariant the issue names, on one rendered set of objects. */
async function checkInvariants(objects: K8sObject[]) {
  for (const o of objects) {
    const Model = await modelOf(o);
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind}/${o.metadata.name} validates`);
  }
  assert.ok(!objects.some((o) => o.kind === 'Secret'), 'no Secret is committed: they are referenced');

  const dep = one<Deployment>(objects, 'Deployment');
  const pod = dep.spec.template.spec;
  const podLabels = dep.spec.template.metadata.labels;
  assert.ok(selects(dep.spec.selector.matchLabels, podLabels));
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.automountServiceAccountToken, false);
  const c = pod.containers.find((x) => x.name === 'gateway')!;
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.livenessProbe.httpGet?.path, '/health/live', 'liveness: the process, not its dependencies');
  assert.equal(c.readinessProbe.httpGet?.path, '/health/ready');
  for (const k of ['cpu', 'memory']) {
    assert.ok(c.resources.requests[k], `requests.${k}`);
    assert.ok(c.resources.limits[k], `limits.${k}`);
  }
  const port = (name: string) => c.ports.find((p) => p.name === name);
  assert.equal(port('mllp')?.containerPort, 2575);
  assert.equal(port('http')?.containerPort, 8080);

  // Writable places: DATA_DIR and /tmp only, both emptyDir volumes.
  const mounts = new Map(c.volumeMounts.map((m) => [m.mountPath, m.name]));
  for (const path of ['/var/lib/ml-gateway', '/tmp']) {
    const v = pod.volumes.find((x) => x.name === mounts.get(path));
    assert.ok(v?.emptyDir, `${path} is a writable emptyDir`);
  }

  // Secrets by reference; the gateway reads every variable set, and the ConfigMap's gateway.yaml.
  const env = new Map(c.env.map((e) => [e.name, e]));
  for (const name of [
    'DATABASE_URL',
    'GATEWAY_ADMIN_TOKEN_SHA256',
    'GATEWAY_ENCRYPTION_KEY',
    'GATEWAY_TOKENS',
  ]) {
    assert.ok(env.get(name)?.valueFrom?.secretKeyRef, `${name} from a Secret`);
    assert.equal(env.get(name)?.value, undefined);
  }
  assert.ok(!env.has('GATEWAY_ADMIN_TOKEN'), 'the admin token itself is never given to the pod');
  const cm = objects.find(
    (o) => o.kind === 'ConfigMap' && pod.volumes.some((v) => v.configMap?.name === o.metadata.name),
  ) as (K8sObject & { data: Record<string, string> }) | undefined;
  assert.ok(cm?.data['gateway.yaml'], 'gateway.yaml in a ConfigMap mounted by the pod');
  const dir = mkdtempSync(join(tmpdir(), 'gw-k8s-'));
  writeFileSync(join(dir, 'gateway.yaml'), cm.data['gateway.yaml']!);
  const dummy: Record<string, string> = {
    DATABASE_URL: 'postgres://u:p@db:5432/gateway',
    REDIS_URL: 'redis://redis:6379',
    GATEWAY_ADMIN_TOKEN_SHA256: 'a'.repeat(64),
    GATEWAY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    GATEWAY_TOKENS: '[]',
  };
  const podEnv = Object.fromEntries(
    c.env.map((e) => [e.name, e.value ?? dummy[e.name] ?? assert.fail(`no test value for ${e.name}`)]),
  );
  const config = loadConfig({ ...podEnv, GATEWAY_CONFIG: join(dir, 'gateway.yaml') }, dir);
  assert.equal(config.http.port, 8080);
  assert.equal(config.mllp.port, 2575);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.adminTokenSha256, 'a'.repeat(64));

  // Shutdown: the preStop pause and MLLP's drain fit in the grace period, with room for the rest.
  const stop = c.lifecycle.preStop;
  const pause = stop.sleep?.seconds ?? Number(stop.exec?.command[0] === 'sleep' ? stop.exec.command[1] : 0);
  assert.ok(pause > 0, 'preStop pauses while endpoints are updated');
  const needed = pause + config.mllp.shutdownGraceMs / 1000 + config.fhir.timeoutMs / 1000;
  assert.ok(
    pod.terminationGracePeriodSeconds >= needed,
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} >= ${needed}`,
  );

  const svc = one<
    K8sObject & {
      spec: {
        selector: Record<string, string>;
        ports: Array<{ name: string; port: number; protocol: string }>;
      };
    }
  >(objects, 'Service');
  assert.ok(selects(svc.spec.selector, podLabels));
  const sp = (name: string) => svc.spec.ports.find((p) => p.name === name);
  assert.equal(sp('mllp')?.port, 2575);
  assert.equal(sp('mllp')?.protocol, 'TCP');
  assert.equal(sp('http')?.port, 8080);

  const hpa = one<
    K8sObject & {
      spec: {
        scaleTargetRef: { name: string; kind: string };
        minReplicas: number;
        metrics: Array<Record<string, { metric?: { name: string }; name?: string }>>;
      };
    }
  >(objects, 'HorizontalPodAutoscaler');
  assert.equal(hpa.spec.scaleTargetRef.kind, 'Deployment');
  assert.equal(hpa.spec.scaleTargetRef.name, dep.metadata.name);
  assert.ok(hpa.spec.metrics.some((m) => m.type === ('Resource' as never) && m.resource?.name === 'cpu'));
  assert.ok(
    hpa.spec.metrics.some((m) => m.external?.metric?.name === 'gateway_backlog_messages'),
    'scales on the backlog',
  );
  assert.ok(hpa.spec.minReplicas >= 2, 'never a single pod');

  const pdb = one<
    K8sObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }
  >(objects, 'PodDisruptionBudget');
  assert.ok(selects(pdb.spec.selector.matchLabels, podLabels));
  assert.ok(pdb.spec.minAvailable < hpa.spec.minReplicas, 'a node can still be drained');

  type Peer = { namespaceSelector?: { matchLabels: Record<string, string> }; ipBlock?: unknown };
  type Rule = { from?: Peer[]; to?: Peer[]; ports: Array<{ port: number }> };
  const np = one<
    K8sObject & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: Rule[];
        egress: Rule[];
      };
    }
  >(objects, 'NetworkPolicy');
  assert.ok(selects(np.spec.podSelector.matchLabels, podLabels));
  assert.deepEqual([...np.spec.policyTypes].sort(), ['Egress', 'Ingress']);
  const mllpRules = np.spec.ingress.filter((r) => r.ports.some((p) => p.port === 2575));
  assert.equal(mllpRules.length, 1);
  assert.ok(
    mllpRules[0]!.from?.length === 1 && mllpRules[0]!.from[0]!.namespaceSelector,
    'MLLP from one namespace',
  );
  assert.ok(
    mllpRules[0]!.ports.every((p) => p.port === 2575),
    'that rule opens MLLP only',
  );
  const egressPorts = new Set(np.spec.egress.flatMap((r) => r.ports.map((p) => p.port)));
  for (const p of [53, 5432, 6379, 443]) assert.ok(egressPorts.has(p), `egress to port ${p}`);
  return { dep, container: c, config };
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('the base renders, every object validates, and the invariants hold', async () => {
    const objects = render(kustomizeRoot('base'));
    await checkInvariants(objects);
    assert.ok(!objects.some((o) => o.kind === 'ServiceMonitor'), 'the ServiceMonitor is optional');
  });

  it('the production overlay: namespace, replicas, image, the ServiceMonitor component', async () => {
    const objects = render(kustomizeRoot('overlays', 'production'));
    const { dep, container } = await checkInvariants(objects);
    assert.ok(objects.every((o) => o.metadata.namespace === 'clinical-ml'));
    assert.equal(dep.spec.replicas, 3);
    const { version } = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'),
    );
    assert.equal(container.image, `registry.example.org/clinical/ml-gateway:${version}`, 'the release tag');
    const sm = one<
      K8sObject & {
        spec: {
          selector: { matchLabels: Record<string, string> };
          endpoints: Array<{ port: string; path: string }>;
        };
      }
    >(objects, 'ServiceMonitor');
    const svc = one(objects, 'Service');
    assert.ok(selects(sm.spec.selector.matchLabels, svc.metadata.labels ?? {}));
    assert.deepEqual(
      sm.spec.endpoints.map((e) => [e.port, e.path]),
      [['http', '/metrics']],
    );
    assert.ok(
      container.env.some((e) => e.name === 'GATEWAY_ADMIN_TOKEN_SHA256'),
      'patches merge, not replace, env',
    );
  });

  it('the renderer refuses what it does not understand, and a patch with no target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-kz-'));
    writeFileSync(join(dir, 'kustomization.yaml'), 'resources: []\nconfigMapGenerator: []\n');
    assert.throws(() => render(dir), /configMapGenerator/);
    writeFileSync(join(dir, 'kustomization.yaml'), 'resources: []\npatches:\n  - path: p.yaml\n');
    writeFileSync(join(dir, 'p.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: nope\n');
    assert.throws(() => render(dir), /no Service\/nope/);
  });

  it('an object that breaks its schema is caught', async () => {
    const dep = structuredClone(one<Deployment>(render(kustomizeRoot('base')), 'Deployment'));
    (dep.spec.template.spec.containers[0]!.ports[0] as { containerPort: unknown }).containerPort = 'mllp';
    const Model = await modelOf(dep);
    assert.throws(() => new Model(dep).validate(), /containerPort/);
  });
});
