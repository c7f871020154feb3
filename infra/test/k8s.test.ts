import { describe, expect, it } from 'vitest';
import { QUEUE_STATES } from '@trine/telemetry';
import * as kedaV1alpha1 from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as coreV1 from 'kubernetes-models/v1';
import { ENV_READ, defaultPort, healthServices, kubectl, kustomize, loadYamlDocs, read, walk } from './support';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [k: string]: unknown;
}

const MODELS: Record<string, Record<string, unknown>> = {
  v1: coreV1,
  'apps/v1': appsV1,
  'autoscaling/v2': autoscalingV2,
  'networking.k8s.io/v1': networkingV1,
  'policy/v1': policyV1,
  'keda.sh/v1alpha1': kedaV1alpha1,
};

/** The kubernetes-models (or KEDA models) class for an object's apiVersion/kind; an unknown one fails the test. */
async function modelClass(apiVersion: string, kind: string): Promise<new (o: unknown) => { validate(): void }> {
  const cls = MODELS[apiVersion]?.[kind];
  if (typeof cls !== 'function') throw new Error(`no model for ${apiVersion} ${kind}`);
  return cls as new (o: unknown) => { validate(): void };
}

async function validateAll(objects: K8sObject[], where: string): Promise<void> {
  expect(objects.length, where).toBeGreaterThan(0);
  for (const o of objects) {
    const Model = await modelClass(o.apiVersion, o.kind);
    expect(() => new Model(o).validate(), `${where}: ${o.kind}/${o.metadata.name}`).not.toThrow();
  }
}

/** Resource files named by the kustomizations (patches are partial objects: not validated on their own). */
function resourceFiles(): string[] {
  const files: string[] = [];
  for (const k of walk('infra/k8s', (n) => n === 'kustomization.yaml')) {
    const dir = k.slice(0, -'/kustomization.yaml'.length);
    const doc = loadYamlDocs(read(k))[0] as { resources?: string[] };
    for (const r of doc.resources ?? []) if (/\.ya?ml$/.test(r)) files.push(`${dir}/${r}`);
  }
  return files;
}

const objectsOf = (files: string[]): K8sObject[] => files.flatMap((f) => loadYamlDocs(read(f)) as K8sObject[]);
const base = objectsOf(resourceFiles().filter((f) => f.startsWith('infra/k8s/base/')));
const find = <T = K8sObject>(objs: K8sObject[], kind: string, name: string): T => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} missing`);
  return o as T;
};

interface Probe { grpc?: { port: number; service?: string }; tcpSocket?: { port: number } }
interface Container {
  name: string;
  ports: { name: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string } }[];
  startupProbe?: Probe; readinessProbe?: Probe; livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec { terminationGracePeriodSeconds: number; securityContext: { runAsNonRoot?: boolean }; containers: Container[] }
interface Deployment { spec: { template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec } } }

const container = (name: string): Container => find<Deployment>(base, 'Deployment', name).spec.template.spec.containers[0]!;
const envValue = (c: Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;
const portOf = (listen: string): number => Number(listen.slice(listen.lastIndexOf(':') + 1));
const config = find<{ data: Record<string, string> }>(base, 'ConfigMap', 'trine-config').data;

describe('kubernetes manifests', () => {
  it('every resource file parses and every object validates against the Kubernetes / KEDA schemas', async () => {
    const files = resourceFiles();
    expect(files).toContain('infra/k8s/base/keda-scaledobject.yaml');
    for (const f of files) await validateAll(objectsOf([f]), f);
  });

  it('every environment variable set is one the app reads (derived from its sources)', () => {
    // The shared ConfigMap goes to both: each key must be read by at least one of them.
    const either = new Set([...ENV_READ.gateway, ...ENV_READ.worker]);
    for (const key of Object.keys(config)) expect(either, `trine-config ${key}`).toContain(key);
    for (const [app, read] of [['gateway', ENV_READ.gateway], ['worker', ENV_READ.worker]] as const) {
      const c = container(`trine-${app}`);
      expect(c.envFrom?.[0]?.configMapRef?.name).toBe('trine-config');
      for (const e of c.env ?? []) expect(read, `trine-${app} env ${e.name}`).toContain(e.name);
    }
  });

  it('gateway: gRPC port and probe service names match the code', () => {
    const c = container('trine-gateway');
    const listen = envValue(c, 'TRINE_LISTEN')!;
    expect(portOf(listen)).toBe(defaultPort('apps/gateway/src/config.ts', /TRINE_LISTEN \|\| '[^']*:(\d+)'/));
    expect(c.ports.find((p) => p.name === 'grpc')?.containerPort).toBe(portOf(listen));
    const services = healthServices('apps/gateway/src/server.ts');
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
      expect(probe?.grpc?.port).toBe(portOf(listen));
      expect(services).toContain(probe?.grpc?.service ?? '');
    }
    // Readiness asks for the inference service itself, not just the process.
    expect(c.readinessProbe?.grpc?.service).toBe('trine.v1.Inference');
  });

  it('gateway: the HTTP port is the container port, the Service port and open in the NetworkPolicy', () => {
    const c = container('trine-gateway');
    const http = portOf(envValue(c, 'TRINE_HTTP_LISTEN')!);
    expect(http).toBe(defaultPort('apps/gateway/src/config.ts', /: '[^']*:(\d+)' \};/));
    expect(c.ports.find((p) => p.name === 'http')?.containerPort).toBe(http);
    const svc = find<{ spec: { ports: { name: string; port: number; targetPort: string }[] } }>(base, 'Service', 'trine-gateway');
    expect(svc.spec.ports.find((p) => p.name === 'http')).toMatchObject({ port: http, targetPort: 'http' });
    const gw = find<{ spec: { ingress: { ports: { port: number }[] }[] } }>(base, 'NetworkPolicy', 'trine-gateway');
    expect(gw.spec.ingress.flatMap((r) => r.ports.map((p) => p.port))).toContain(http);
  });

  it('worker: health port and probe service names match the code', () => {
    const c = container('trine-worker');
    const listen = envValue(c, 'TRINE_WORKER_HEALTH_LISTEN')!;
    expect(listen).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(c.ports.find((p) => p.name === 'health')?.containerPort).toBe(portOf(listen));
    const services = healthServices('apps/worker/src/health.ts');
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
      expect(probe?.grpc?.port).toBe(portOf(listen));
      expect(services).toContain(probe?.grpc?.service ?? '');
    }
  });

  it('metrics ports match the telemetry bootstraps and the scrape annotations', () => {
    for (const app of ['gateway', 'worker'] as const) {
      const d = find<Deployment>(base, 'Deployment', `trine-${app}`);
      const c = d.spec.template.spec.containers[0]!;
      const port = defaultPort(`apps/${app}/src/otel/register.mjs`, /defaultMetricsListen: '[^']*:(\d+)'/);
      expect(envValue(c, 'TRINE_METRICS_LISTEN')).toBe(`0.0.0.0:${port}`);
      expect(c.ports.find((p) => p.name === 'metrics')?.containerPort).toBe(port);
      expect(d.spec.template.metadata.annotations?.['prometheus.io/port']).toBe(String(port));
    }
  });

  it('a terminating pod outlives its drain: grace period > preStop + TRINE_SHUTDOWN_GRACE_MS >= longest request', () => {
    const graceMs = Number(config.TRINE_SHUTDOWN_GRACE_MS);
    expect(graceMs).toBeGreaterThanOrEqual(Number(config.TRINE_MAX_REQUEST_MS));
    for (const name of ['trine-gateway', 'trine-worker']) {
      const spec = find<Deployment>(base, 'Deployment', name).spec.template.spec;
      const c = spec.containers[0]!;
      const preStopS = Number(c.lifecycle?.preStop?.exec?.command.at(-1));
      expect(preStopS, name).toBeGreaterThan(0);
      expect(spec.terminationGracePeriodSeconds * 1000, name).toBeGreaterThan(preStopS * 1000 + graceMs);
      expect(spec.securityContext.runAsNonRoot, name).toBe(true);
      expect(c.resources?.requests?.cpu && c.resources?.limits?.memory, name).toBeTruthy();
    }
  });

  it('KEDA scales workers on the whole backlog gauge, not the BullMQ wait list', () => {
    const so = find<{ spec: { scaleTargetRef: { name: string }; triggers: { type: string; metadata: { query: string; threshold: string } }[] } }>(
      base, 'ScaledObject', 'trine-worker');
    expect(so.spec.scaleTargetRef.name).toBe('trine-worker');
    const [trigger] = so.spec.triggers;
    expect(trigger?.type).toBe('prometheus');
    expect(trigger?.metadata.query).toContain('trine_queue_jobs');
    for (const state of QUEUE_STATES) expect(trigger?.metadata.query).toContain(state);
    // Gateways all report the same queue: max across them, never a sum over instances.
    expect(trigger?.metadata.query).toMatch(/max by \(state\)/);
    expect(Number(trigger?.metadata.threshold)).toBe(Number(config.TRINE_MAX_BATCH));
  });

  it('NetworkPolicy: workers reach only Redis, the collector and DNS; the gateway accepts its gRPC port', () => {
    type Peer = { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: unknown; ipBlock?: unknown };
    const np = find<{ spec: { egress: { to: Peer[]; ports: { port: number }[] }[]; ingress: { ports: { port: number }[] }[] } }>(
      base, 'NetworkPolicy', 'trine-worker');
    const podTargets = np.spec.egress.flatMap((r) => r.to.map((t) => t.podSelector?.matchLabels['app.kubernetes.io/name'])).filter(Boolean);
    expect(podTargets.sort()).toEqual(['otel-collector', 'redis']);
    expect(np.spec.egress.flatMap((r) => r.to).some((t) => t.ipBlock)).toBe(false);
    expect(np.spec.ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual([portOf(envValue(container('trine-worker'), 'TRINE_METRICS_LISTEN')!)]);
    const gw = find<{ spec: { ingress: { ports: { port: number }[] }[] } }>(base, 'NetworkPolicy', 'trine-gateway');
    expect(gw.spec.ingress.flatMap((r) => r.ports.map((p) => p.port))).toContain(portOf(envValue(container('trine-gateway'), 'TRINE_LISTEN')!));
  });

  it('dev Redis runs with AOF (fsync every second) and noeviction', () => {
    const conf = find<{ data: Record<string, string> }>(objectsOf(['infra/k8s/overlays/dev/redis.yaml']), 'ConfigMap', 'redis-config').data['redis.conf']!;
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).toMatch(/^appendfsync everysec$/m);
    expect(conf).toMatch(/^maxmemory-policy noeviction$/m);
  });
});

describe.skipIf(!kubectl)('kustomize overlays (needs kubectl)', () => {
  for (const overlay of ['dev', 'prod', 'hpa']) {
    it(`${overlay} renders and every rendered object validates`, async () => {
      const objects = kustomize(`infra/k8s/overlays/${overlay}`) as K8sObject[];
      await validateAll(objects, overlay);
      expect(objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toEqual(
        expect.arrayContaining(['trine-gateway', 'trine-worker']),
      );
      const autoscalers = objects.filter((o) => o.kind === 'ScaledObject' || o.kind === 'HorizontalPodAutoscaler');
      expect(autoscalers.map((o) => o.kind)).toEqual([overlay === 'hpa' ? 'HorizontalPodAutoscaler' : 'ScaledObject']);
      // Redis: in the namespace for dev (and hpa, built on dev), external for prod.
      expect(objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'redis')).toBe(overlay !== 'prod');
      for (const o of objects) if (o.kind !== 'Namespace') expect((o.metadata as { namespace?: string }).namespace, `${o.kind}/${o.metadata.name}`).toBe('trine');
    });
  }

  it('prod mounts the TLS secret the gateway reads', () => {
    const objects = kustomize('infra/k8s/overlays/prod') as K8sObject[];
    const c = (find<Deployment>(objects, 'Deployment', 'trine-gateway')).spec.template.spec.containers[0]!;
    expect(ENV_READ.gateway).toContain('TRINE_TLS_CERT');
    expect(envValue(c, 'TRINE_TLS_CERT')).toBe('/etc/trine/tls/tls.crt');
    expect(envValue(c, 'TRINE_TLS_KEY')).toBe('/etc/trine/tls/tls.key');
    for (const e of c.env ?? []) expect(ENV_READ.gateway, e.name).toContain(e.name);
  });
});

if (!kubectl) console.warn('infra: kubectl not found; kustomize overlay rendering tests are SKIPPED');
