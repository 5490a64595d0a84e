/**
 * Consumable resources (CreateConsumableResource and its family), as AWS Batch documents them: "Once a job goes to
 * the STARTING state, the consumed resources will be subtracted from the available quantity of that resource. If the
 * resource is REPLENISHABLE, the number of consumed resources will be added back to the available quantity as soon as
 * the job has moved to either the SUCCEEDED or FAILED state, and the total quantity will remain the same. If the
 * resource is NON_REPLENISHABLE, the number of consumed resources is subtracted from both the total and available
 * quantities and won't be added back."
 *
 * The resources are few and small: kept in memory, written through to the store. What STARTING/RUNNING jobs hold is
 * counted here too (`acquire` / `release`, called by the job service), so the scheduler sees what is free.
 */
import { batchArn, nameFromNameOrArn, type ArnContext } from '../core/arn.js';
import { ClientException } from '../core/errors.js';
import { checkName, checkRange } from '../core/names.js';
import type { Clock, Store } from '../core/ports.js';
import type { ConsumableRequirement, ConsumableResource, Tags } from '../core/types.js';
import { pageList } from './pagination.js';

type Input = Record<string, any>;

/** The why-waits code when a job waits for a consumable resource (AWS publishes none for this). */
export const CONSUMABLE_WAIT = 'RESOURCE:CONSUMABLE_RESOURCE';

const TYPES = ['REPLENISHABLE', 'NON_REPLENISHABLE'] as const;
/** AWS: "The maximum number of consumable resources per account is 50k." */
const MAX_RESOURCES = 50_000;

export class ConsumableResourceRegistry {
  private readonly byName = new Map<string, ConsumableResource>();
  /** Name -> quantity held by STARTING/RUNNING jobs. */
  private readonly held = new Map<string, number>();
  /** Called when what the scheduler reads changes (a quantity went up). */
  onChange: () => void = () => {};
  /** Update clientTokens already applied (idempotent UpdateConsumableResource). */
  private readonly appliedTokens = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly arn: ArnContext,
    private readonly clock: Clock,
  ) {}

  load(list: readonly ConsumableResource[]): void {
    for (const r of list) this.byName.set(r.consumableResourceName, r);
  }

  byNameOrArn(text: string): ConsumableResource | undefined {
    const name = nameFromNameOrArn(text, 'consumable-resource');
    return name === undefined ? undefined : this.byName.get(name);
  }

  require(text: string, field: string): ConsumableResource {
    const r = this.byNameOrArn(text);
    if (!r)
      throw new ClientException(
        `${field}: consumable resource ${JSON.stringify(text)} does not exist; list them with list-consumable-resources`,
      );
    return r;
  }

  inUse(name: string): number {
    return this.held.get(name) ?? 0;
  }

  /** What a job may still take: for NON_REPLENISHABLE the total already had every start subtracted. */
  available(r: ConsumableResource): number {
    return r.resourceType === 'NON_REPLENISHABLE'
      ? r.totalQuantity
      : Math.max(0, r.totalQuantity - this.inUse(r.consumableResourceName));
  }

  /** Resource name -> quantity free now, for the scheduler's snapshot. */
  freeMap(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.byName.values()) m.set(r.consumableResourceArn, this.available(r));
    return m;
  }

  /**
   * Resolves a job's requirements (definition, or SubmitJob's override) to resource ARNs; names the field and the
   * rule when one is wrong.
   */
  resolve(props: Input | undefined, field: string): ConsumableRequirement[] | undefined {
    const list = props?.consumableResourceList as Input[] | undefined;
    if (!list?.length) return undefined;
    const seen = new Set<string>();
    return list.map((c, i) => {
      const f = `${field}.consumableResourceList[${i}]`;
      if (typeof c.consumableResource !== 'string')
        throw new ClientException(`${f}.consumableResource is required: the name or ARN of a consumable resource`);
      const r = this.require(c.consumableResource, `${f}.consumableResource`);
      const quantity = c.quantity as number | undefined;
      if (quantity === undefined || !Number.isInteger(quantity) || quantity < 1)
        throw new ClientException(`${f}.quantity must be a whole number of at least 1; got ${quantity}`);
      if (seen.has(r.consumableResourceArn))
        throw new ClientException(`${f}: consumable resource ${r.consumableResourceName} is listed twice`);
      seen.add(r.consumableResourceArn);
      return { consumableResource: r.consumableResourceArn, quantity };
    });
  }

  /** A job goes STARTING: it holds its quantities; a NON_REPLENISHABLE resource loses them for good. */
  acquire(needs: readonly ConsumableRequirement[] | undefined, recovered = false): void {
    for (const n of needs ?? []) {
      const r = this.byNameOrArn(n.consumableResource);
      if (!r) continue;
      this.held.set(r.consumableResourceName, this.inUse(r.consumableResourceName) + n.quantity);
      if (r.resourceType === 'NON_REPLENISHABLE' && !recovered) {
        const updated = { ...r, totalQuantity: Math.max(0, r.totalQuantity - n.quantity) };
        this.byName.set(r.consumableResourceName, updated);
        void this.store.putConsumableResource(updated);
      }
    }
  }

  /** A job ended (SUCCEEDED/FAILED, or an attempt that will be retried): what it held is free again. */
  release(needs: readonly ConsumableRequirement[] | undefined): void {
    for (const n of needs ?? []) {
      const name = nameFromNameOrArn(n.consumableResource, 'consumable-resource');
      if (name === undefined) continue;
      this.held.set(name, Math.max(0, this.inUse(name) - n.quantity));
    }
    if (needs?.length) this.onChange();
  }

  /** Why-waits: the first resource a job needs more of than is free, or undefined when all are free. */
  shortfall(needs: readonly ConsumableRequirement[] | undefined): string | undefined {
    for (const n of needs ?? []) {
      const r = this.byNameOrArn(n.consumableResource);
      if (!r)
        return `${CONSUMABLE_WAIT} - consumable resource ${n.consumableResource} was deleted; this job can't start: cancel it`;
      const free = this.available(r);
      if (free >= n.quantity) continue;
      const inUse = this.inUse(r.consumableResourceName);
      const never =
        r.resourceType === 'NON_REPLENISHABLE'
          ? n.quantity > r.totalQuantity
            ? '; it is NON_REPLENISHABLE, so only an update-consumable-resource that adds more can let it start'
            : ''
          : n.quantity > r.totalQuantity
            ? `; that is more than its totalQuantity ${r.totalQuantity}, so it waits until an admin raises it`
            : '';
      return `${CONSUMABLE_WAIT} - needs ${n.quantity} of consumable resource ${r.consumableResourceName}; ${free} of ${r.totalQuantity} available, ${inUse} in use by running jobs${never}`;
    }
    return undefined;
  }

  // ---- the API ----

  async create(input: Input): Promise<{ consumableResourceName: string; consumableResourceArn: string }> {
    const name = input.consumableResourceName as string;
    checkName('consumableResourceName', name);
    if (this.byName.has(name))
      throw new ClientException(
        `consumableResourceName ${name} already exists (names are unique in the account); choose another name or change it with update-consumable-resource`,
      );
    if (this.byName.size >= MAX_RESOURCES)
      throw new ClientException(`an account can have at most ${MAX_RESOURCES} consumable resources; delete some first`);
    const totalQuantity = (input.totalQuantity as number | undefined) ?? 0;
    checkRange('totalQuantity', totalQuantity, 0, Number.MAX_SAFE_INTEGER, 'It must be non-negative');
    const type = (input.resourceType as string | undefined) ?? 'REPLENISHABLE';
    if (!(TYPES as readonly string[]).includes(type))
      throw new ClientException(
        `resourceType must be REPLENISHABLE (the default) or NON_REPLENISHABLE; got ${JSON.stringify(type)}`,
      );
    const arn = batchArn(this.arn, 'consumable-resource', name);
    const r: ConsumableResource = {
      consumableResourceName: name,
      consumableResourceArn: arn,
      totalQuantity,
      resourceType: type as ConsumableResource['resourceType'],
      createdAt: this.clock(),
      ...(input.tags ? { tags: input.tags as Tags } : {}),
    };
    await this.store.putConsumableResource(r);
    this.byName.set(name, r);
    return { consumableResourceName: name, consumableResourceArn: arn };
  }

  describe(input: Input): Record<string, unknown> {
    const r = this.require(input.consumableResource as string, 'consumableResource');
    return {
      consumableResourceName: r.consumableResourceName,
      consumableResourceArn: r.consumableResourceArn,
      totalQuantity: r.totalQuantity,
      inUseQuantity: this.inUse(r.consumableResourceName),
      availableQuantity: this.available(r),
      resourceType: r.resourceType,
      createdAt: r.createdAt,
      tags: r.tags ?? {},
    };
  }

  list(input: Input): { consumableResources: Record<string, unknown>[]; nextToken?: string } {
    checkRange('maxResults', input.maxResults as number | undefined, 1, 100);
    let list = [...this.byName.values()];
    for (const f of (input.filters as { name?: string; values?: string[] }[] | undefined) ?? []) {
      if (f.name !== 'CONSUMABLE_RESOURCE_NAME')
        throw new ClientException(
          `filters: unknown filter name ${JSON.stringify(f.name)}; ListConsumableResources filters by CONSUMABLE_RESOURCE_NAME`,
        );
      const matchers = (f.values ?? []).map((v) => {
        const lc = v.toLowerCase();
        return lc.endsWith('*')
          ? (n: string) => n.toLowerCase().startsWith(lc.slice(0, -1))
          : (n: string) => n.toLowerCase() === lc;
      });
      list = list.filter((r) => matchers.some((m) => m(r.consumableResourceName)));
    }
    const page = pageList('cr', list, input.maxResults as number | undefined, input.nextToken as string | undefined);
    return {
      consumableResources: page.items.map((r) => ({
        consumableResourceName: r.consumableResourceName,
        consumableResourceArn: r.consumableResourceArn,
        totalQuantity: r.totalQuantity,
        inUseQuantity: this.inUse(r.consumableResourceName),
        resourceType: r.resourceType,
      })),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  }

  async update(input: Input): Promise<Record<string, unknown>> {
    const r = this.require(input.consumableResource as string, 'consumableResource');
    const op = (input.operation as string | undefined) ?? 'SET';
    const quantity = input.quantity as number | undefined;
    const token = input.clientToken as string | undefined;
    const key = token && `${r.consumableResourceArn} ${op} ${quantity}`;
    const out = () => ({
      consumableResourceName: r.consumableResourceName,
      consumableResourceArn: r.consumableResourceArn,
      totalQuantity: this.byName.get(r.consumableResourceName)!.totalQuantity,
    });
    if (token && this.appliedTokens.get(token) === key) return out();
    if (!['SET', 'ADD', 'REMOVE'].includes(op))
      throw new ClientException(`operation must be SET, ADD or REMOVE; got ${JSON.stringify(op)}`);
    if (quantity === undefined)
      throw new ClientException(`quantity is required: the new total (SET) or the change (ADD, REMOVE)`);
    checkRange('quantity', quantity, 0, Number.MAX_SAFE_INTEGER, 'It must be a non-negative value');
    const total = op === 'SET' ? quantity : op === 'ADD' ? r.totalQuantity + quantity : r.totalQuantity - quantity;
    if (total < 0)
      throw new ClientException(
        `quantity: removing ${quantity} from consumable resource ${r.consumableResourceName} would leave ${total}; its totalQuantity is ${r.totalQuantity}`,
      );
    const updated = { ...r, totalQuantity: total };
    await this.store.putConsumableResource(updated);
    this.byName.set(r.consumableResourceName, updated);
    if (token) this.appliedTokens.set(token, key!);
    if (total > r.totalQuantity) this.onChange();
    return out();
  }

  /** Deletes a resource; `inUseBy` counts jobs SUBMITTED..RUNNING that need it (they would wait forever). */
  async delete(input: Input, inUseBy: (arn: string) => Promise<number>): Promise<Record<string, never>> {
    const r = this.require(input.consumableResource as string, 'consumableResource');
    const n = await inUseBy(r.consumableResourceArn);
    if (n > 0)
      throw new ClientException(
        `consumable resource ${r.consumableResourceName} is needed by ${n} job${n === 1 ? '' : 's'} that have not finished; cancel or terminate them (list-jobs-by-consumable-resource), then delete it`,
      );
    await this.store.deleteConsumableResource(r.consumableResourceArn);
    this.byName.delete(r.consumableResourceName);
    this.held.delete(r.consumableResourceName);
    return {};
  }

  /** Tags of a resource by ARN, for TagResource and friends. */
  taggable(arn: string): { tags: Tags | undefined; save: (tags: Tags) => Promise<void> } | undefined {
    const r = arn.startsWith('arn:') ? this.byNameOrArn(arn) : undefined;
    if (!r) return undefined;
    return {
      tags: r.tags,
      save: async (tags) => {
        const c = { ...this.byName.get(r.consumableResourceName)!, tags };
        await this.store.putConsumableResource(c);
        this.byName.set(c.consumableResourceName, c);
      },
    };
  }
}
