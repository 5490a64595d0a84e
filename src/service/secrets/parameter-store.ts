/**
 * SSM Parameter Store operations (`AmazonSSM.*`) over the per-PI secret store (pi-secrets.ts): what researchers need
 * to put, read, list and delete parameters with the aws CLI and the SDKs. Semantics and errors follow AWS's:
 * ParameterAlreadyExists without Overwrite, ParameterNotFound, ParameterVersionNotFound, GetParameters' and
 * DeleteParameters' InvalidParameters, SecureString values returned encrypted unless WithDecryption.
 * Kept: the current version of each parameter (a `name:version` selector naming an older one is not found).
 * Refused with a message saying so: tags, allowed patterns, policies, labels and the aws:ec2:image data type.
 */
import { ApiError } from '../../core/errors.js';
import type { Caller } from '../../core/caller.js';
import type { SecretValueRecord } from '../../core/ports.js';
import { decodeToken, encodeToken, seconds, type PiSecrets } from './pi-secrets.js';

type Input = Record<string, any>;
type Operation = (caller: Caller, input: Input) => Promise<unknown>;

const NAME_RE = /^[a-zA-Z0-9_.\-/]+$/;
const PARAM_ARN = /^arn:[\w-]+:ssm:[\w-]*:\d*:parameter(\/.+)$/;
const STANDARD_MAX = 4096;
const ADVANCED_MAX = 8192;
const MAX_LEVELS = 15;

const validation = (m: string) => new ApiError('ValidationException', 400, m);
const notFound = (name: string) => new ApiError('ParameterNotFound', 400, `Parameter ${name} not found.`);

/** A parameter's name from its name or ARN (`parameter/a/b` is `/a/b`; `parameter/a` is `a`). */
export function parameterNameOf(nameOrArn: string): string {
  const m = PARAM_ARN.exec(nameOrArn);
  if (!m) return nameOrArn;
  const rest = m[1]!.slice(1);
  return rest.includes('/') ? `/${rest}` : rest;
}

/** A reference with an optional `:version` selector (`/a/b:3`), after the ARN prefix if any. */
function parseRef(ref: string): { name: string; selector?: string } {
  const name = parameterNameOf(ref);
  const colon = name.lastIndexOf(':');
  if (colon <= 0) return { name };
  return { name: name.slice(0, colon), selector: name.slice(colon) };
}

/** AWS's naming rules for a parameter; throws ValidationException or HierarchyLevelLimitExceededException. */
function checkName(name: string): void {
  if (!NAME_RE.test(name) || /^\/?(aws|ssm)/i.test(name))
    throw validation(
      `Parameter name ${JSON.stringify(name)}: can't be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`,
    );
  if (name.includes('/') && !name.startsWith('/'))
    throw validation(
      `Parameter name ${JSON.stringify(name)} must be a fully qualified name: a name with a "/" starts with "/", e.g. /lab/db-password`,
    );
  if (name.split('/').filter(Boolean).length > MAX_LEVELS)
    throw new ApiError(
      'HierarchyLevelLimitExceededException',
      400,
      `Parameter name ${JSON.stringify(name)} has more than ${MAX_LEVELS} levels; use at most ${MAX_LEVELS}`,
    );
}

export function parameterStoreOperations(secrets: PiSecrets): Record<string, Operation> {
  const view = (r: SecretValueRecord, decrypt: boolean, selector?: string) => ({
    Name: r.name,
    Type: r.type,
    // As AWS without WithDecryption: a SecureString's value stays encrypted (base64 of its ciphertext).
    Value:
      r.type === 'SecureString' && !decrypt
        ? Buffer.from(r.value_enc).toString('base64')
        : secrets.open(r.arn, r.value_enc),
    Version: r.version,
    ...(selector ? { Selector: selector } : {}),
    LastModifiedDate: seconds(r.updated_at),
    ARN: r.arn,
    DataType: 'text',
  });
  const metadata = (r: SecretValueRecord) => ({
    Name: r.name,
    ARN: r.arn,
    Type: r.type,
    ...(r.type === 'SecureString' ? { KeyId: 'alias/aws/ssm' } : {}),
    LastModifiedDate: seconds(r.updated_at),
    LastModifiedUser: r.updated_by,
    ...(r.description ? { Description: r.description } : {}),
    Version: r.version,
    Tier: 'Standard',
    Policies: [],
    DataType: 'text',
  });

  /** The caller's parameter a reference names; ParameterNotFound, or AccessDeniedException for another PI's. */
  const read = async (caller: Caller, ref: string, action: string) => {
    const { name, selector } = parseRef(ref);
    const r = await secrets.store.get('parameter', name);
    if (!r) throw notFound(name);
    secrets.check(caller, action, r);
    if (selector && selector !== `:${r.version}`)
      throw new ApiError(
        'ParameterVersionNotFound',
        400,
        /^:\d+$/.test(selector)
          ? `Systems Manager could not find version ${selector.slice(1)} of ${name}. openbatch keeps only the current version (${r.version}).`
          : `Systems Manager could not find label ${selector.slice(1)} of ${name}: openbatch's parameters have no labels; use the version number ${r.version} or no selector`,
      );
    return { r, selector };
  };

  const unsupported = (input: Input) => {
    for (const [field, what] of [
      ['Tags', 'tags'],
      ['AllowedPattern', 'allowed patterns'],
      ['Policies', 'parameter policies'],
    ] as const)
      if (input[field] !== undefined && !(Array.isArray(input[field]) && input[field].length === 0))
        throw validation(`${field}: openbatch's parameter store keeps no ${what}; leave ${field} out`);
    if (input.DataType !== undefined && input.DataType !== 'text')
      throw validation(`DataType ${JSON.stringify(input.DataType)} is not supported here; use "text" (the default)`);
  };

  /** Keeps rows of a `Type` filter (the one ParameterFilters key besides Name and Path that applies here). */
  const filterOf = (filters: Input[] | undefined, legacy: Input[] | undefined) => {
    const tests: ((r: SecretValueRecord) => boolean)[] = [];
    let prefix: string | undefined;
    for (const f of legacy ?? [])
      filters = [
        ...(filters ?? []),
        { Key: f.Key, Option: f.Key === 'Name' ? 'BeginsWith' : 'Equals', Values: f.Values },
      ];
    for (const f of filters ?? []) {
      const values: string[] = f.Values ?? [];
      const option = f.Option ?? 'Equals';
      if (f.Key === 'Name') {
        const names = values.map((v) => (v.startsWith('/') || !v.includes('/') ? v : `/${v}`));
        if (option === 'Equals') tests.push((r) => names.includes(r.name));
        else if (option === 'BeginsWith') tests.push((r) => names.some((v) => r.name.startsWith(v)));
        else if (option === 'Contains') tests.push((r) => names.some((v) => r.name.includes(v)));
        else
          throw new ApiError(
            'InvalidFilterOption',
            400,
            `Name filters take Equals, BeginsWith or Contains, not ${option}`,
          );
      } else if (f.Key === 'Type') {
        if (option !== 'Equals')
          throw new ApiError('InvalidFilterOption', 400, `the Type filter takes the option Equals, not ${option}`);
        tests.push((r) => values.includes(r.type));
      } else if (f.Key === 'Path') {
        const path = (values[0] ?? '/').replace(/\/?$/, '/');
        if (option === 'Recursive') prefix = path;
        else if (option === 'OneLevel') {
          prefix = path;
          tests.push((r) => !r.name.slice(path.length).includes('/'));
        } else
          throw new ApiError('InvalidFilterOption', 400, `the Path filter takes Recursive or OneLevel, not ${option}`);
      } else
        throw new ApiError(
          'InvalidFilterKey',
          400,
          `filter key ${JSON.stringify(f.Key)} is not supported here; use Name, Type or Path (parameters have no tags, labels or tiers here)`,
        );
    }
    return { prefix, keep: (r: SecretValueRecord) => tests.every((t) => t(r)) };
  };
  const nextToken = (token: unknown) =>
    decodeToken(
      token,
      () => new ApiError('InvalidNextToken', 400, 'The NextToken is not valid; start over without it'),
    );

  return {
    async PutParameter(caller, input) {
      const name = String(input.Name);
      checkName(name);
      unsupported(input);
      const value = String(input.Value);
      const max = input.Tier === 'Advanced' || input.Tier === 'Intelligent-Tiering' ? ADVANCED_MAX : STANDARD_MAX;
      if (value.length > max)
        throw validation(
          `Value: Standard tier parameters support a maximum parameter value of ${STANDARD_MAX} characters (Advanced: ${ADVANCED_MAX}); this one has ${value.length}`,
        );
      const now = secrets.clock();
      const existing = await secrets.store.get('parameter', name);
      if (existing) {
        secrets.check(caller, 'ssm:PutParameter', existing);
        if (input.Overwrite !== true)
          throw new ApiError(
            'ParameterAlreadyExists',
            400,
            'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
          );
        const next: SecretValueRecord = {
          ...existing,
          type: input.Type ?? existing.type,
          description: input.Description ?? existing.description,
          value_enc: secrets.seal(existing.arn, value),
          version: existing.version + 1,
          updated_at: now,
          updated_by: secrets.principalArn(caller),
        };
        if (!(await secrets.store.replace(next, existing.version)))
          throw new ApiError(
            'TooManyUpdates',
            400,
            `${name} was changed by another request at the same time; try again`,
          );
        return { Version: next.version, Tier: 'Standard' };
      }
      if (input.Type === undefined)
        throw validation(
          'A parameter type is required when you create a parameter: add --type String, StringList or SecureString',
        );
      const arn = secrets.parameterArn(name);
      const inserted = await secrets.store.insert(
        secrets.created(caller, now, {
          kind: 'parameter',
          name,
          arn,
          type: String(input.Type),
          description: input.Description ?? null,
          value_enc: secrets.seal(arn, value),
          version: 1,
          version_id: null,
        }),
      );
      if (!inserted)
        throw new ApiError(
          'ParameterAlreadyExists',
          400,
          'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
        );
      return { Version: 1, Tier: 'Standard' };
    },

    async GetParameter(caller, input) {
      const { r, selector } = await read(caller, String(input.Name), 'ssm:GetParameter');
      return { Parameter: view(r, input.WithDecryption === true, selector) };
    },

    async GetParameters(caller, input) {
      const Parameters: unknown[] = [];
      const InvalidParameters: string[] = [];
      for (const ref of input.Names as string[]) {
        try {
          const { r, selector } = await read(caller, ref, 'ssm:GetParameters');
          Parameters.push(view(r, input.WithDecryption === true, selector));
        } catch (err) {
          if (err instanceof ApiError && (err.code === 'ParameterNotFound' || err.code === 'ParameterVersionNotFound'))
            InvalidParameters.push(ref);
          else throw err;
        }
      }
      return { Parameters, InvalidParameters };
    },

    async GetParametersByPath(caller, input) {
      const path = String(input.Path);
      if (!path.startsWith('/'))
        throw validation(`Path ${JSON.stringify(path)} must start with "/" (a hierarchy), e.g. /lab/`);
      const prefix = path.replace(/\/?$/, '/');
      const { keep } = filterOf(input.ParameterFilters, undefined);
      const oneLevel = input.Recursive !== true;
      const page = await secrets.page(
        caller,
        'parameter',
        { prefix, ...opt('after', nextToken(input.NextToken)), limit: input.MaxResults ?? 10 },
        (r) => keep(r) && (!oneLevel || !r.name.slice(prefix.length).includes('/')),
      );
      return {
        Parameters: page.rows.map((r) => view(r, input.WithDecryption === true)),
        ...(page.next ? { NextToken: encodeToken(page.next) } : {}),
      };
    },

    async DescribeParameters(caller, input) {
      const { prefix, keep } = filterOf(input.ParameterFilters, input.Filters);
      const page = await secrets.page(
        caller,
        'parameter',
        { ...opt('prefix', prefix), ...opt('after', nextToken(input.NextToken)), limit: input.MaxResults ?? 50 },
        keep,
      );
      return {
        Parameters: page.rows.map(metadata),
        ...(page.next ? { NextToken: encodeToken(page.next) } : {}),
      };
    },

    async DeleteParameter(caller, input) {
      const { r } = await read(caller, String(input.Name), 'ssm:DeleteParameter');
      if (!(await secrets.store.delete('parameter', r.name))) throw notFound(r.name);
      return {};
    },

    async DeleteParameters(caller, input) {
      const DeletedParameters: string[] = [];
      const InvalidParameters: string[] = [];
      for (const ref of input.Names as string[]) {
        const name = parameterNameOf(ref);
        const r = await secrets.store.get('parameter', name);
        if (r) secrets.check(caller, 'ssm:DeleteParameters', r);
        if (r && (await secrets.store.delete('parameter', name))) DeletedParameters.push(ref);
        else InvalidParameters.push(ref);
      }
      return { DeletedParameters, InvalidParameters };
    },
  };
}

function opt<K extends string>(key: K, v: string | undefined): { [P in K]?: string } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: string };
}
