/**
 * The engine state the leader publishes through the store (at most every 100 ms while things change), so that every
 * replica explains why a RUNNABLE job waits, and shows capacity, exactly as the leader sees it.
 */
import type { ShareUsage } from '../../scheduler/fair-share.js';
import type { SchedComputeEnvironment, SchedHost, Snapshot } from '../../scheduler/schedule.js';
import type { ActivitySample } from './activity-history.js';

/** How many RUNNABLE jobs of each queue are published in run order (AWS's GetJobQueueSnapshot shows 100). */
export const ENGINE_STATE_FRONT = 100;

export interface EngineState {
  epoch: number;
  at: number;
  host: SchedHost;
  computeEnvironments: SchedComputeEnvironment[];
  /** Per queue ARN: the first RUNNABLE job ids in the order they will run, how many are RUNNABLE, what runs. */
  queues: Record<string, PublishedQueue>;
  running: number;
  active: number;
  queued: number;
  /** The last hour's activity, oldest first (absent in states published before it existed). */
  history?: ActivitySample[];
}

/** One queue as the leader sees it. */
export interface PublishedQueue {
  /** The first RUNNABLE job ids in run order (FIFO, or the fair-share picks). */
  front: string[];
  /** For each of `front`: when it took its place (went RUNNABLE; an array child: when its parent was released). */
  frontSince?: number[];
  runnable: number;
  /** vCPUs the queue's jobs run now. */
  usedVcpus?: number;
  /** A fair-share queue: each share's usage record and whether it has jobs. */
  shares?: { id: string; usage: ShareUsage; hasJobs: boolean }[];
}

/** The state before any leader published one: nothing runs, nothing is known. */
export function emptyEngineState(host: SchedHost): EngineState {
  return { epoch: 0, at: 0, host, computeEnvironments: [], queues: {}, running: 0, active: 0, queued: 0 };
}

/** A scheduler snapshot (without queues) from published state: what explainWait needs. */
export function snapshotOf(state: EngineState): Snapshot {
  return {
    host: state.host,
    computeEnvironments: new Map(state.computeEnvironments.map((c) => [c.arn, c])),
    queues: [],
  };
}
