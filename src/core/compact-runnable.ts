/**
 * The one constructor of CompactRunnable (a RUNNABLE job held without its document; see core/types.ts), used by the
 * stores as they read rows and by the engine as it lets go of a document.
 *
 * With 1,000,000 queued every byte of a record counts (issue 12: 1 GB of RSS, and V8 lets garbage grow to about twice
 * the live heap). A record is one small object of four fields, about 72 bytes:
 * - the parts most jobs of a queue share (queue, share identifier, priority, resources, consumables) sit in one
 *   interned CompactKind: a few hundred distinct ones where each record held five pointers of its own;
 * - statusChangedAt is kept exactly (GetJobQueueSnapshot shows it to the millisecond for the front of a queue), and
 *   createdAt as its distance before statusChangedAt, a small integer (V8 keeps it in the object, where a second
 *   millisecond timestamp took a 16-byte heap number of its own); only the rare job that waited for more than 12 days
 *   before it became RUNNABLE keeps it in a field of its own (CompactRecordFar), so no record makes V8 box the field
 *   for every other.
 */
import type { CompactRunnable, ConsumableRequirement, Job } from './types.js';

/** The parts of a compact job that most jobs of its queue share. */
interface CompactKind {
  readonly jobQueueArn: string;
  readonly shareIdentifier: string | undefined;
  readonly schedulingPriority: number | undefined;
  readonly resources: CompactRunnable['resources'];
  readonly consumableResourceProperties: CompactRunnable['consumableResourceProperties'];
}

/** Past this many distinct kinds the table starts over (kinds held by records stay; only the sharing restarts). */
const MAX_KINDS = 50_000;
/** The kinds of a share look alike but for priority and resources: a few per share, compared one by one. */
const MAX_KINDS_PER_SHARE = 16;
/**
 * Queue ARN -> share identifier ('\u0000' for none, which no identifier contains) -> its kinds, newest first. Keyed by
 * parts rather than by one string, so filing 1,000,000 records at a restart builds no key per record.
 */
const kinds = new Map<string, Map<string, CompactKind[]>>();
let kindCount = 0;

function sameConsumables(
  a: CompactRunnable['consumableResourceProperties'],
  b: CompactRunnable['consumableResourceProperties'],
): boolean {
  return a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
}

function kindOf(
  jobQueueArn: string,
  shareIdentifier: string | undefined,
  schedulingPriority: number | undefined,
  resources: CompactRunnable['resources'],
  consumableResourceProperties: CompactRunnable['consumableResourceProperties'],
): CompactKind {
  let byShare = kinds.get(jobQueueArn);
  if (!byShare) kinds.set(jobQueueArn, (byShare = new Map()));
  const shareKey = shareIdentifier ?? '\u0000';
  let list = byShare.get(shareKey);
  if (!list) byShare.set(shareKey, (list = []));
  for (const k of list) {
    const r = k.resources;
    if (
      k.schedulingPriority === schedulingPriority &&
      r.vcpus === resources.vcpus &&
      r.memoryMiB === resources.memoryMiB &&
      r.gpus === resources.gpus &&
      sameConsumables(k.consumableResourceProperties, consumableResourceProperties)
    )
      return k;
  }
  if (kindCount >= MAX_KINDS) {
    kinds.clear();
    kindCount = 0;
    return kindOf(jobQueueArn, shareIdentifier, schedulingPriority, resources, consumableResourceProperties);
  }
  const kind: CompactKind = {
    jobQueueArn,
    shareIdentifier,
    schedulingPriority,
    resources,
    consumableResourceProperties,
  };
  list.unshift(kind);
  kindCount++;
  if (list.length > MAX_KINDS_PER_SHARE) {
    list.pop();
    kindCount--;
  }
  return kind;
}

/** Distances that stay small integers (V8's Smi range, 31 bits on builds with pointer compression). */
const NEAR = 2 ** 30;

export class CompactRecord implements CompactRunnable {
  constructor(
    readonly jobId: string,
    private readonly kind: CompactKind,
    readonly statusChangedAt: number,
    /** statusChangedAt - createdAt, in milliseconds. */
    private readonly createdBefore: number,
  ) {}

  get jobQueueArn(): string {
    return this.kind.jobQueueArn;
  }

  get shareIdentifier(): string | undefined {
    return this.kind.shareIdentifier;
  }

  get schedulingPriority(): number | undefined {
    return this.kind.schedulingPriority;
  }

  get resources(): CompactRunnable['resources'] {
    return this.kind.resources;
  }

  get consumableResourceProperties(): CompactRunnable['consumableResourceProperties'] {
    return this.kind.consumableResourceProperties;
  }

  get createdAt(): number {
    return this.statusChangedAt - this.createdBefore;
  }
}

/** A record whose createdAt is too far from its statusChangedAt for a small integer. */
class CompactRecordFar extends CompactRecord {
  constructor(
    jobId: string,
    kind: CompactKind,
    statusChangedAt: number,
    private readonly created: number,
  ) {
    super(jobId, kind, statusChangedAt, 0);
  }

  override get createdAt(): number {
    return this.created;
  }
}

export function compactRunnable(
  jobId: string,
  jobQueueArn: string,
  createdAt: number,
  statusChangedAt: number,
  shareIdentifier: string | undefined,
  schedulingPriority: number | undefined,
  resources: CompactRunnable['resources'],
  consumableResourceProperties: CompactRunnable['consumableResourceProperties'],
): CompactRecord {
  const kind = kindOf(jobQueueArn, shareIdentifier, schedulingPriority, resources, consumableResourceProperties);
  const before = statusChangedAt - createdAt;
  return Number.isInteger(before) && before > -NEAR && before < NEAR
    ? new CompactRecord(jobId, kind, statusChangedAt, before)
    : new CompactRecordFar(jobId, kind, statusChangedAt, createdAt);
}

/** Whether `entry` is a compact record (not a whole job). */
export function isCompact(entry: unknown): entry is CompactRecord {
  return entry instanceof CompactRecord;
}

/** Whether a job may be held compactly: RUNNABLE, never ran, neither an array child nor a multi-node job. */
export function mayBeCompact(job: Job): boolean {
  return (
    job.status === 'RUNNABLE' &&
    job.attempts.length === 0 &&
    job.arrayProperties === undefined &&
    job.nodeProperties === undefined
  );
}

/** The compact record of a job that mayBeCompact. */
export function compactOf(job: Job): CompactRecord {
  return compactRunnable(
    job.jobId,
    job.jobQueueArn,
    job.createdAt,
    job.statusChangedAt,
    job.shareIdentifier,
    job.schedulingPriority,
    job.resources,
    job.consumableResourceProperties,
  );
}

/**
 * The scheduling fields of a job that mayBeCompact as JSON-ready values, in the order both the jobs table's `sched`
 * column (store/compact-runnable-rows.ts) and the `jobs-submitted` signal (core/submitted-signal.ts) carry them:
 * [statusChangedAt, shareIdentifier, schedulingPriority, vcpus, memoryMiB, gpus, consumableResourceProperties].
 */
export type SchedFields = [
  number,
  string | null,
  number | null,
  number,
  number,
  number,
  { consumableResourceList: ConsumableRequirement[] } | null,
];

export function schedFieldsOf(j: Job): SchedFields {
  const r = j.resources;
  return [
    j.statusChangedAt,
    j.shareIdentifier ?? null,
    j.schedulingPriority ?? null,
    r.vcpus,
    r.memoryMiB,
    r.gpus,
    j.consumableResourceProperties ?? null,
  ];
}
