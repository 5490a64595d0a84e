/**
 * The node children of a multi-node parallel job (`<jobId>#<index>`, core/multinode.ts), derived from the parent on
 * read: each shows its node range's container, its own log stream and exit, `nodeDetails`, and its part of every
 * attempt of the job (its own exit code, reason and log stream, the attempt's times and status reason). A node's status
 * follows the job's while it runs; once the node (or the job) ended, its own exit decides it. The job's own status
 * is its main node's, as AWS documents.
 */
import { containersPerNode, parseNodeId } from '../core/multinode.js';
import type { Attempt, Job, JobStatus } from '../core/types.js';

/** The node child `<parent>#<index>` as a Job, or undefined when the parent has no such node. */
export function nodeChild(parent: Job, index: number): Job | undefined {
  const np = parent.nodeProperties;
  if (!np || index < 0 || index >= np.numNodes) return undefined;
  const main = index === np.mainNode;
  const state = parent.nodeStates?.[index];
  let status: JobStatus = parent.status;
  if (!main && state && (state.exitCode !== undefined || state.reason !== undefined))
    status = state.exitCode === 0 ? 'SUCCEEDED' : 'FAILED';
  const cp = containersPerNode(np, np.numNodes, undefined, 'nodeProperties')[index]!;
  const { nodeProperties: _n, nodeStates: _s, ...rest } = parent;
  return {
    ...rest,
    jobId: `${parent.jobId}#${index}`,
    jobArn: `${parent.jobArn}#${index}`,
    status,
    containerProperties: cp,
    container: {
      ...(state?.logStreamName ? { logStreamName: state.logStreamName } : {}),
      ...(state?.exitCode !== undefined ? { exitCode: state.exitCode } : {}),
      ...(state?.reason !== undefined ? { reason: state.reason } : {}),
      ...(parent.container.taskArn ? { taskArn: `${parent.container.taskArn}#${index}` } : {}),
    },
    attempts: parent.attempts.map((a) => nodeAttempt(a, index, main)),
  };
}

/** The node's part of one attempt of its job: its own exit and log stream, the attempt's times and reason. */
function nodeAttempt(a: Attempt, index: number, main: boolean): Attempt {
  const { nodes, ...rest } = a;
  const node = nodes?.[index];
  if (!node) return main ? rest : { ...rest, container: { networkInterfaces: [] } };
  const c = a.container;
  return {
    ...rest,
    container: {
      ...(node.exitCode !== undefined ? { exitCode: node.exitCode } : {}),
      ...(node.reason !== undefined ? { reason: node.reason } : {}),
      logStreamName: node.logStreamName,
      ...(c.containerInstanceArn ? { containerInstanceArn: c.containerInstanceArn } : {}),
      ...(c.taskArn ? { taskArn: `${c.taskArn}#${index}` } : {}),
      networkInterfaces: [],
    },
  };
}

/** Node ids (`<id>#<n>`) among `ids`, by parent id. */
export function nodeIdsByParent(ids: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const id of ids) {
    const p = parseNodeId(id);
    if (!p) continue;
    out.set(p.parentId, [...(out.get(p.parentId) ?? []), p.node]);
  }
  return out;
}

/** DescribeJobs' view of a multi-node job (nodeProperties, no container of its own) or of one of its nodes. */
export function withNodeFields(
  detail: Record<string, unknown>,
  job: Job,
  parent: Job | undefined,
): Record<string, unknown> {
  const id = parseNodeId(job.jobId);
  if (id && parent?.nodeProperties) {
    detail.nodeDetails = { nodeIndex: id.node, isMainNode: id.node === parent.nodeProperties.mainNode };
  } else if (job.nodeProperties) {
    detail.nodeProperties = job.nodeProperties;
    delete detail.container;
  }
  return detail;
}

/** ListJobs' `nodeProperties` summary of a multi-node job or of one of its nodes. */
export function withNodeSummary(
  summary: Record<string, unknown>,
  job: Job,
  parent: Job | undefined,
): Record<string, unknown> {
  const id = parseNodeId(job.jobId);
  const np = parent?.nodeProperties ?? job.nodeProperties;
  if (!np) return summary;
  summary.nodeProperties = id
    ? { isMainNode: id.node === np.mainNode, numNodes: np.numNodes, nodeIndex: id.node }
    : { numNodes: np.numNodes };
  return summary;
}
