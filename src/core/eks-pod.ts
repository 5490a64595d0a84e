/**
 * Jobs for AWS Batch on EKS (`eksProperties`): a pod spec whose containers run on the compute environment's own
 * container runtime. This module checks a pod spec as Batch does, applies `eksPropertiesOverride`, and derives
 * the one thing the engine runs, a container job, the way Kubernetes would run the pod:
 * - `command` replaces the image's entrypoint and `args` its command (Kubernetes' rule), so both go to the runtime;
 * - `env` becomes the environment; requests (else limits) of cpu, memory and nvidia.com/gpu the job's resources;
 * - init containers run first, in order, each to completion; then the main container.
 * A pod has one main container here: sidecars (more entries in `containers`) are refused with a clear message.
 */
import { ClientException } from './errors.js';
import { checkEnvironment } from './job-spec.js';
import type { RunSpec } from './ports.js';
import type { ContainerProperties, JobResources, KeyValuePair } from './types.js';

export interface EksContainer {
  name?: string;
  image?: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  [other: string]: unknown;
}

export interface EksPodProperties {
  containers?: EksContainer[];
  initContainers?: EksContainer[];
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; namespace?: string };
  [other: string]: unknown;
}

export interface EksProperties {
  podProperties?: EksPodProperties;
}

export interface EksPropertiesOverride {
  podProperties?: {
    containers?: EksContainer[];
    initContainers?: EksContainer[];
    metadata?: EksPodProperties['metadata'];
  };
}

/** One container to run to completion before the main one (RunSpec.initContainers). */
export interface InitContainerRun {
  name: string;
  image: string;
  /** Replaces the image's entrypoint when set (Kubernetes' `command`). */
  entrypoint?: string[];
  /** The image's command, replaced (Kubernetes' `args`); empty = the image's own when entrypoint is unset. */
  command: string[];
  environment: KeyValuePair[];
}

/**
 * The container job an EKS pod runs as: containerProperties for the main container (what every runtime already
 * runs) plus the members runtimes read for pods: `entrypoint` and `initContainers`.
 */
export interface EksRun {
  containerProperties: ContainerProperties & { entrypoint?: string[]; initContainers?: InitContainerRun[] };
  resources: JobResources;
}

const MiB = 1024 * 1024;
const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: MiB,
  Gi: 1024 * MiB,
  Ti: 1024 * 1024 * MiB,
};

/** A Kubernetes quantity of memory ("1024Mi", "2Gi", "512M", bytes) in MiB; undefined when malformed. */
export function memoryMiB(q: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q.trim());
  if (!m) return undefined;
  return Math.ceil((Number(m[1]) * UNITS[m[2] ?? '']!) / MiB);
}

/** A Kubernetes cpu quantity ("1", "0.5", "500m") in vCPUs; undefined when malformed. */
export function cpuCount(q: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(q.trim());
  if (!m) return undefined;
  return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}

function checkContainer(c: EksContainer, field: string): void {
  if (!c.image) throw new ClientException(`${field}.image is required: name the container image to run`);
  checkEnvironment(c.env, `${field}.env`);
  const { limits = {}, requests = {} } = c.resources ?? {};
  for (const [where, map] of [
    ['limits', limits],
    ['requests', requests],
  ] as const) {
    for (const [k, v] of Object.entries(map)) {
      const f = `${field}.resources.${where}["${k}"]`;
      if (k === 'cpu') {
        const n = cpuCount(v);
        if (n === undefined || n <= 0 || Math.abs(n * 4 - Math.round(n * 4)) > 1e-9)
          throw new ClientException(`${f} must be a multiple of 0.25 vCPU such as "1", "0.5" or "250m"; got "${v}"`);
      } else if (k === 'memory') {
        const n = memoryMiB(v);
        if (n === undefined || n < 4)
          throw new ClientException(`${f} must be at least 4 MiB, written like "1024Mi" or "2Gi"; got "${v}"`);
      } else if (k === 'nvidia.com/gpu') {
        if (!/^\d+$/.test(v)) throw new ClientException(`${f} must be a whole number of GPUs; got "${v}"`);
      } else throw new ClientException(`${field}.resources.${where} has "${k}"; use cpu, memory or nvidia.com/gpu`);
    }
  }
  if (limits.memory && requests.memory && memoryMiB(limits.memory) !== memoryMiB(requests.memory))
    throw new ClientException(
      `${field}.resources: memory in limits (${limits.memory}) must equal memory in requests (${requests.memory})`,
    );
  if (limits.cpu && requests.cpu && cpuCount(limits.cpu)! < cpuCount(requests.cpu)!)
    throw new ClientException(
      `${field}.resources: cpu in limits (${limits.cpu}) must be at least cpu in requests (${requests.cpu})`,
    );
}

function checkContainerList(list: EksContainer[] | undefined, field: string, seen: Set<string>): void {
  if (list && list.length > 10)
    throw new ClientException(`${field} has ${list.length} entries; at most 10 are allowed`);
  list?.forEach((c, i) => {
    checkContainer(c, `${field}[${i}]`);
    if (c.name !== undefined) {
      if (seen.has(c.name))
        throw new ClientException(`${field}[${i}].name "${c.name}" is used twice; every container needs its own name`);
      seen.add(c.name);
    }
  });
}

/** Checks eksProperties as RegisterJobDefinition does; `field` names where they came from. */
export function checkEksProperties(ep: EksProperties, field: string): void {
  const pod = ep.podProperties;
  if (!pod?.containers?.length)
    throw new ClientException(
      `${field}.podProperties.containers is required: give one container, e.g. [{"image": "...", "command": [...]}]`,
    );
  if (pod.containers.length > 1)
    throw new ClientException(
      `${field}.podProperties.containers has ${pod.containers.length} containers; openbatch runs pods with one main container (sidecars are not supported): move the others into initContainers or separate jobs`,
    );
  const seen = new Set<string>();
  checkContainerList(pod.containers, `${field}.podProperties.containers`, seen);
  checkContainerList(pod.initContainers, `${field}.podProperties.initContainers`, seen);
}

function mergeEnv(base: EksContainer['env'], over: EksContainer['env']): EksContainer['env'] {
  if (!over) return base;
  const m = new Map((base ?? []).map((e) => [e.name, e]));
  for (const e of over) m.set(e.name, e);
  return [...m.values()];
}

function overrideList(
  base: EksContainer[] | undefined,
  over: EksContainer[] | undefined,
  field: string,
): EksContainer[] | undefined {
  if (!over?.length) return base;
  const out = (base ?? []).map((c) => ({ ...c }));
  over.forEach((o, i) => {
    const idx = o.name === undefined ? (out.length === 1 ? 0 : -1) : out.findIndex((c) => c.name === o.name);
    if (idx < 0)
      throw new ClientException(
        o.name === undefined
          ? `${field}[${i}].name is required when the pod has ${out.length} such containers: name the one to override`
          : `${field}[${i}].name "${o.name}" matches no container of the job definition; use one of ${out.map((c) => JSON.stringify(c.name)).join(', ') || '(none)'}`,
      );
    const c = out[idx]!;
    if (o.image !== undefined) c.image = o.image;
    if (o.command !== undefined) c.command = [...o.command];
    if (o.args !== undefined) c.args = [...o.args];
    const env = mergeEnv(c.env, o.env);
    if (env) c.env = env;
    if (o.resources)
      c.resources = {
        ...((c.resources?.limits ?? o.resources.limits)
          ? { limits: { ...c.resources?.limits, ...o.resources.limits } }
          : {}),
        ...((c.resources?.requests ?? o.resources.requests)
          ? { requests: { ...c.resources?.requests, ...o.resources.requests } }
          : {}),
      };
  });
  return out;
}

/** The definition's eksProperties with SubmitJob's eksPropertiesOverride applied (checked like a definition's). */
export function applyEksOverride(base: EksProperties, o: EksPropertiesOverride | undefined): EksProperties {
  const pod = structuredClone(base.podProperties ?? {});
  const op = o?.podProperties;
  if (op) {
    const field = 'eksPropertiesOverride.podProperties';
    const containers = overrideList(pod.containers, op.containers, `${field}.containers`);
    if (containers) pod.containers = containers;
    const init = overrideList(pod.initContainers, op.initContainers, `${field}.initContainers`);
    if (init) pod.initContainers = init;
    if (op.metadata)
      pod.metadata = {
        ...pod.metadata,
        ...op.metadata,
        ...(op.metadata.labels ? { labels: { ...pod.metadata?.labels, ...op.metadata.labels } } : {}),
      };
    checkEksProperties({ podProperties: pod }, 'eksPropertiesOverride');
  }
  return { podProperties: pod };
}

function amount(c: EksContainer, key: string, parse: (q: string) => number | undefined): number {
  const q = c.resources?.requests?.[key] ?? c.resources?.limits?.[key];
  return q === undefined ? 0 : (parse(q) ?? 0);
}

const toEnv = (env: EksContainer['env']): KeyValuePair[] =>
  (env ?? []).map((e) => ({ name: e.name, value: e.value ?? '' }));

/**
 * The container job a (checked) pod runs as. Resources as Kubernetes sizes a pod: the main container's, or an init
 * container's when that one asks for more (init containers run one at a time, before it).
 */
export function eksRun(ep: EksProperties, where: string): EksRun {
  const pod = ep.podProperties!;
  const main = pod.containers![0]!;
  const init = pod.initContainers ?? [];
  const max = (key: string, parse: (q: string) => number | undefined) =>
    Math.max(amount(main, key, parse), ...init.map((c) => amount(c, key, parse)));
  const vcpus = max('cpu', cpuCount);
  const memory = max('memory', memoryMiB);
  const gpus = max('nvidia.com/gpu', (q) => Number(q));
  if (vcpus <= 0)
    throw new ClientException(
      `${where}: no cpu given; set podProperties.containers[0].resources.requests or limits {"cpu": "1"}`,
    );
  if (memory < 4)
    throw new ClientException(
      `${where}: no memory given; set podProperties.containers[0].resources.requests or limits {"memory": "1024Mi"}`,
    );
  const containerProperties: EksRun['containerProperties'] = {
    image: main.image!,
    command: [...(main.args ?? [])],
    environment: toEnv(main.env),
    resourceRequirements: [
      { type: 'VCPU', value: String(vcpus) },
      { type: 'MEMORY', value: String(memory) },
      ...(gpus ? [{ type: 'GPU' as const, value: String(gpus) }] : []),
    ],
  };
  if (main.command) containerProperties.entrypoint = [...main.command];
  if (init.length)
    containerProperties.initContainers = init.map((c, i) => ({
      name: c.name ?? `init-${i}`,
      image: c.image!,
      ...(c.command ? { entrypoint: [...c.command] } : {}),
      command: [...(c.args ?? [])],
      environment: toEnv(c.env),
    }));
  return { containerProperties, resources: { vcpus, memoryMiB: memory, gpus } };
}

/** The RunSpec members of a pod job's derived container (core/eks-pod.ts); none for other jobs. */
export function podRunFields(cp: ContainerProperties): Pick<RunSpec, 'entrypoint' | 'initContainers'> {
  const pod = cp as ContainerProperties & { entrypoint?: string[]; initContainers?: InitContainerRun[] };
  return {
    ...(pod.entrypoint ? { entrypoint: pod.entrypoint } : {}),
    ...(pod.initContainers ? { initContainers: pod.initContainers } : {}),
  };
}

/** The RunSpec of a pod's init container: its own image, command and env, with the attempt's other variables. */
export function initContainerSpec(spec: RunSpec, i: number): RunSpec {
  const init = spec.initContainers![i]!;
  const mainOwn = new Set((spec.containerProperties.environment ?? []).map((e) => e.name));
  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.environment)) if (!mainOwn.has(k)) environment[k] = v;
  for (const e of init.environment) if (e.name) environment[e.name] = e.value ?? '';
  const { initContainers: _i, entrypoint: _e, ...rest } = spec;
  return {
    ...rest,
    command: init.command,
    environment,
    ...(init.entrypoint ? { entrypoint: init.entrypoint } : {}),
    containerProperties: { ...spec.containerProperties, image: init.image, environment: init.environment },
  };
}
