/**
 * Multi-node parallel jobs (AWS Batch's `type: multinode`): one job that spans `numNodes` nodes, each running the
 * container of the node range (`targetNodes`) it falls in. Terms, as AWS uses them:
 * - node range: `targetNodes` `a:b`, `a:` (to the last node), `:b` (from node 0) or `n`; ranges may nest, and the
 *   narrower range's properties apply to the nodes it covers; together they must cover every node;
 * - main node (`mainNode`): the node whose exit decides the job's status, exit code and reason; when it exits the
 *   other nodes are stopped; a failure of another node alone neither fails nor retries the job;
 * - node child: `<jobId>#<index>`, what DescribeJobs and ListJobs (`multiNodeJobId`) show per node.
 * This file resolves a definition plus SubmitJob's `nodeOverrides` into one container per node; the engine runs the
 * nodes as one attempt of the job (on a Slurm pool: one allocation of N nodes).
 */
import { ClientException } from './errors.js';
import { applyOverrides, resolveResources, type ContainerOverrides } from './job-spec.js';
import type { ContainerProperties, JobResources } from './types.js';

export interface NodeRangeProperty {
  targetNodes: string;
  container?: ContainerProperties;
  [other: string]: unknown;
}

export interface NodeProperties {
  numNodes: number;
  mainNode: number;
  nodeRangeProperties: NodeRangeProperty[];
}

export interface NodeOverrides {
  numNodes?: number;
  nodePropertyOverrides?: { targetNodes?: string; containerOverrides?: ContainerOverrides; [other: string]: unknown }[];
}

/** Most nodes a job may span (AWS's documented quota is 1,000 nodes per job). */
export const MAX_NODES = 1000;

/** The node-child id `<jobId>#<index>` split into its parts, or undefined when `id` is not one. */
export function parseNodeId(id: string): { parentId: string; node: number } | undefined {
  const m = /^(.+)#(\d{1,4})$/.exec(id);
  return m ? { parentId: m[1]!, node: Number(m[2]) } : undefined;
}

/** The inclusive node indexes a `targetNodes` range names, checked against the job's node count. */
export function parseRange(range: unknown, numNodes: number, where: string): [number, number] {
  const m = typeof range === 'string' ? /^(\d*)(?::(\d*))?$/.exec(range.trim()) : null;
  if (!m || (m[1] === '' && m[2] === undefined))
    throw new ClientException(
      `${where}.targetNodes ${JSON.stringify(range)} is not a node range: write "0:3", "1:" (to the last node), ":2" (from node 0) or "0"`,
    );
  const start = m[1] === '' ? 0 : Number(m[1]);
  const end = m[2] === undefined ? start : m[2] === '' ? numNodes - 1 : Number(m[2]);
  if (start > end || end >= numNodes)
    throw new ClientException(
      `${where}.targetNodes ${JSON.stringify(range)} is outside the job's ${numNodes} nodes (indexes 0 to ${numNodes - 1}); ranges run from a lower to a higher index`,
    );
  return [start, end];
}

/** Checks a definition's nodeProperties (RegisterJobDefinition); throws a ClientException naming the field. */
export function checkNodeProperties(np: unknown, where = 'nodeProperties'): asserts np is NodeProperties {
  const p = np as Partial<NodeProperties> | undefined;
  if (!p || typeof p !== 'object')
    throw new ClientException(
      `${where} is required for a job definition of type multinode: give numNodes, mainNode and nodeRangeProperties`,
    );
  if (!Number.isInteger(p.numNodes) || p.numNodes! < 1 || p.numNodes! > MAX_NODES)
    throw new ClientException(`${where}.numNodes must be an integer from 1 to ${MAX_NODES}; got ${String(p.numNodes)}`);
  if (!Number.isInteger(p.mainNode) || p.mainNode! < 0 || p.mainNode! >= p.numNodes!)
    throw new ClientException(
      `${where}.mainNode must be a node index below numNodes (${p.numNodes}); got ${String(p.mainNode)}`,
    );
  if (!Array.isArray(p.nodeRangeProperties) || p.nodeRangeProperties.length === 0)
    throw new ClientException(
      `${where}.nodeRangeProperties must list at least one node range, e.g. [{"targetNodes": "0:", "container": {...}}]`,
    );
  p.nodeRangeProperties.forEach((r, i) => {
    const at = `${where}.nodeRangeProperties[${i}]`;
    if (!r?.container)
      throw new ClientException(
        `${at}.container is required: openbatch runs node ranges with containerProperties (give {"image": ..., "command": [...]})`,
      );
  });
  containersPerNode(p as NodeProperties, p.numNodes!, undefined, where);
}

/** The container of every node, after SubmitJob's node overrides; throws when a node is in no range. */
export function containersPerNode(
  np: NodeProperties,
  numNodes: number,
  overrides: NodeOverrides['nodePropertyOverrides'],
  where: string,
): ContainerProperties[] {
  const best: { span: number; container: ContainerProperties }[] = [];
  np.nodeRangeProperties.forEach((r, i) => {
    // A definition's open range ("1:") follows the job's node count, which nodeOverrides.numNodes may change.
    const [a, b] = parseRange(r.targetNodes, numNodes, `${where}.nodeRangeProperties[${i}]`);
    for (let n = a; n <= b; n++)
      if (!best[n] || b - a < best[n]!.span) best[n] = { span: b - a, container: r.container! };
  });
  const missing = Array.from({ length: numNodes }, (_, n) => n).filter((n) => !best[n]);
  if (missing.length)
    throw new ClientException(
      `${where}.nodeRangeProperties cover no range for node(s) ${missing.slice(0, 10).join(', ')} of ${numNodes}; the ranges together must cover every node (e.g. "0:")`,
    );
  const out = best.map((b) => b.container);
  (overrides ?? []).forEach((o, i) => {
    const at = `nodeOverrides.nodePropertyOverrides[${i}]`;
    if (o.targetNodes === undefined)
      throw new ClientException(`${at}.targetNodes is required: name the nodes to override, e.g. "0:1"`);
    const [a, b] = parseRange(o.targetNodes, numNodes, at);
    for (let n = a; n <= b; n++) out[n] = applyOverrides(out[n]!, o.containerOverrides);
  });
  return out;
}

/** One node of a job as it runs: its container and resources. */
export interface NodeRun {
  index: number;
  containerProperties: ContainerProperties;
  resources: JobResources;
}

/** Resolves a multinode definition with SubmitJob's nodeOverrides: the job's node properties and each node's run. */
export function resolveNodes(
  np: NodeProperties,
  overrides: NodeOverrides | undefined,
  where: string,
): { nodeProperties: NodeProperties; nodes: NodeRun[] } {
  const numNodes = overrides?.numNodes ?? np.numNodes;
  if (!Number.isInteger(numNodes) || numNodes < 1 || numNodes > MAX_NODES)
    throw new ClientException(`nodeOverrides.numNodes must be an integer from 1 to ${MAX_NODES}; got ${numNodes}`);
  if (np.mainNode >= numNodes)
    throw new ClientException(
      `nodeOverrides.numNodes ${numNodes} leaves out the main node ${np.mainNode} of ${where}; ask for at least ${np.mainNode + 1} nodes`,
    );
  const containers = containersPerNode(np, numNodes, overrides?.nodePropertyOverrides, where);
  const nodes = containers.map((containerProperties, index) => ({
    index,
    containerProperties,
    resources: resolveResources(containerProperties, `${where}, node ${index}`),
  }));
  // What DescribeJobs shows: consecutive nodes with the same container folded back into ranges.
  const ranges: NodeRangeProperty[] = [];
  let from = 0;
  for (let n = 1; n <= numNodes; n++) {
    if (n < numNodes && JSON.stringify(containers[n]) === JSON.stringify(containers[from])) continue;
    ranges.push({ targetNodes: `${from}:${n - 1}`, container: containers[from]! });
    from = n;
  }
  return { nodeProperties: { numNodes, mainNode: np.mainNode, nodeRangeProperties: ranges }, nodes };
}

/** The job's resources for capacity: the sum of its nodes'. */
export function totalResources(nodes: readonly NodeRun[]): JobResources {
  const sum = { vcpus: 0, memoryMiB: 0, gpus: 0 };
  for (const n of nodes) {
    sum.vcpus += n.resources.vcpus;
    sum.memoryMiB += n.resources.memoryMiB;
    sum.gpus += n.resources.gpus;
  }
  return sum;
}
