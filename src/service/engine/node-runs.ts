/**
 * The runs of a multi-node parallel job's attempt (core/multinode.ts): one per node, each with its node range's
 * container, its own log stream, and AWS's multi-node variables. The main node keeps the job's own log stream.
 */
import { randomBytes } from 'node:crypto';
import { containersPerNode } from '../../core/multinode.js';
import type { ExitReport, NodeRunSpec } from '../../core/ports.js';
import type { Job, NodeState } from '../../core/types.js';
import { resolveResources } from '../../core/job-spec.js';

/** Node runs of the job's next attempt; `environment` is the main node's (its container's plus AWS_BATCH_*). */
export function nodeRuns(
  job: Job,
  environment: Record<string, string>,
  logStreamName: string,
  defName: string,
): { nodes: NodeRunSpec[]; mainNode: number } {
  const np = job.nodeProperties!;
  const containers = containersPerNode(np, np.numNodes, undefined, 'nodeProperties');
  const mainOwn = new Set((job.containerProperties.environment ?? []).map((kv) => kv.name ?? ''));
  const common = Object.fromEntries(Object.entries(environment).filter(([k]) => !mainOwn.has(k)));
  const mnp = {
    AWS_BATCH_JOB_NUM_NODES: String(np.numNodes),
    AWS_BATCH_JOB_MAIN_NODE_INDEX: String(np.mainNode),
  };
  Object.assign(environment, mnp, { AWS_BATCH_JOB_NODE_INDEX: String(np.mainNode) });
  const nodes = containers.map((cp, index): NodeRunSpec => {
    const env: Record<string, string> = {};
    for (const kv of cp.environment ?? []) if (kv.name) env[kv.name] = kv.value ?? '';
    Object.assign(env, common, mnp, { AWS_BATCH_JOB_NODE_INDEX: String(index) });
    return {
      index,
      command: cp.command ?? [],
      environment: index === np.mainNode ? environment : env,
      containerProperties: cp,
      resources: resolveResources(cp, `node ${index}`),
      logStreamName: index === np.mainNode ? logStreamName : `${defName}/default/${randomBytes(16).toString('hex')}`,
    };
  });
  return { nodes, mainNode: np.mainNode };
}

/** The node states after the attempt ended: each node's exit as the runtime reported it; closes their log streams. */
export function endNodes(
  job: Job,
  states: readonly NodeState[],
  report: ExitReport,
  close: (logStreamName: string) => void,
): NodeState[] {
  const main = job.nodeProperties?.mainNode ?? 0;
  return states.map((st, index) => {
    if (st.logStreamName !== job.container.logStreamName) close(st.logStreamName);
    const r = index === main ? report : report.nodes?.find((n) => n.index === index);
    return {
      logStreamName: st.logStreamName,
      ...(r?.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
      ...(r?.reason !== undefined ? { reason: r.reason } : {}),
    };
  });
}
