/**
 * The consumable-resource operations (2016-08-10 model): admins create, update and delete resources; anyone may
 * read them and list the jobs that need one (a PI user sees only their group's jobs).
 */
import type { BatchOperationTable } from './operations.js';

export function consumableOperations(adminOnly: BatchOperationTable['adminOnly']): BatchOperationTable['table'] {
  return {
    CreateConsumableResource: adminOnly('create consumable resources', (s, _c, i) => s.registry.consumables.create(i)),
    UpdateConsumableResource: adminOnly('update consumable resources', (s, _c, i) => s.registry.consumables.update(i)),
    DeleteConsumableResource: adminOnly('delete consumable resources', (s, _c, i) =>
      s.registry.consumables.delete(i, (arn) => s.jobs.jobsNeeding(arn)),
    ),
    DescribeConsumableResource: (s, _c, i) => s.registry.consumables.describe(i),
    ListConsumableResources: (s, _c, i) => s.registry.consumables.list(i),
    ListJobsByConsumableResource: (s, ctx, i) => s.jobs.listByConsumableResource(ctx.caller, i),
  };
}
