/** The columns of `pi_secret_values`, the same in both dialects (store/sqlite and store/postgres secret-values.ts). */
export const SECRET_VALUE_COLUMNS = [
  'kind',
  'name',
  'pi',
  'arn',
  'type',
  'description',
  'value_enc',
  'version',
  'version_id',
  'previous_enc',
  'previous_type',
  'previous_version_id',
  'created_at',
  'updated_at',
  'updated_by',
  'deletion_date',
] as const;

/** What a replacement writes: every column but the key. */
export const SECRET_VALUE_UPDATED = SECRET_VALUE_COLUMNS.filter((c) => c !== 'kind' && c !== 'name');
