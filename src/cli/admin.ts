/**
 * `openbatch admin ...`: thin clients of the signed admin API (`POST /admin/v1/<op>`). Credentials are found as the
 * aws CLI finds them (environment, AWS_PROFILE / --profile in ~/.aws/credentials, ...); they must be root's or an
 * admin user's. The database is never opened directly.
 */
import { clientConfig } from './client.js';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Command, Option } from 'commander';

interface GlobalOpts {
  endpointUrl?: string;
  profile?: string;
  region?: string;
}

/** Signs and sends one admin call; throws with the server's message on error. */
export async function callAdmin(g: GlobalOpts, op: string, input: Record<string, unknown>): Promise<any> {
  const config = clientConfig(g);
  const endpoint = new URL(config.endpoint);
  const { region, credentials } = config;
  const signer = new SignatureV4({ service: 'batch', region, credentials, sha256: Hash.bind(null, 'sha256') });
  const body = JSON.stringify(input);
  const request = new HttpRequest({
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
    method: 'POST',
    path: `${endpoint.pathname.replace(/\/$/, '')}/admin/v1/${op}`,
    headers: { host: endpoint.host, 'content-type': 'application/json' },
    body,
  });
  let signed;
  try {
    signed = await signer.sign(request);
  } catch (err) {
    throw new Error(
      `no credentials to sign with (${(err as Error).message}): set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / --profile naming root's or an admin's profile`,
    );
  }
  let res: Response;
  try {
    res = await fetch(`${endpoint.origin}${signed.path}`, {
      method: 'POST',
      headers: signed.headers as Record<string, string>,
      body,
    });
  } catch (err) {
    throw new Error(
      `cannot reach ${endpoint.origin} (${(err as Error).message}); pass --endpoint-url or set OPENBATCH_ENDPOINT`,
    );
  }
  const text = await res.text();
  let out: any;
  try {
    out = text ? JSON.parse(text) : {};
  } catch {
    out = { message: text };
  }
  if (!res.ok) throw new Error(`${out.__type ?? res.status}: ${out.message ?? text}`);
  return out;
}

/** The leaf command being run (commander passes it last), for its own copy of the server options. */
let current: Command | undefined;

function action(fn: (...a: any[]) => Promise<void>) {
  return async (...a: any[]) => {
    current = a.at(-1) as Command;
    try {
      await fn(...a);
    } catch (err) {
      console.error(`openbatch admin: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  };
}

const print = (v: unknown) => console.log(JSON.stringify(v, null, 2));

function userLine(u: { userName: string; pi: string; admin: boolean; disabled: boolean; accessKeyIds: string[] }) {
  return `${u.userName.padEnd(20)} ${u.pi.padEnd(20)} ${(u.admin ? 'admin' : 'user').padEnd(6)} ${(u.disabled ? 'disabled' : 'enabled').padEnd(9)} ${u.accessKeyIds.join(',')}`;
}

function printNewKey(userName: string, accessKeyId: string, secretAccessKey: string) {
  console.log(`Access key for ${userName} (the secret is shown only now; hand it over safely):`);
  console.log(`[${userName}]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}`);
}

/** The `admin` command tree. */
export function adminCommand(): Command {
  const admin = new Command('admin')
    .description('manage users, PI groups, job roles and read the audit log (root or admin credentials)')
    .addOption(
      new Option('--endpoint-url <url>', 'openbatch server [OPENBATCH_ENDPOINT] (default http://127.0.0.1:8000)'),
    )
    .addOption(new Option('--profile <name>', 'credentials profile, as the aws CLI [AWS_PROFILE]'))
    .addOption(new Option('--region <region>', 'signing region [AWS_REGION] (default us-east-1)'))
    // `role set --endpoint-url` is the lab's object store; the server's --endpoint-url then goes before `role`.
    .enablePositionalOptions();
  // Server options are accepted both before the subcommand and on every leaf (`users list --endpoint-url ...`),
  // except `role set`, whose --endpoint-url is the lab's object store.
  const g = (): GlobalOpts => ({
    ...admin.opts<GlobalOpts>(),
    ...(current && current.name() !== 'set' ? current.opts<GlobalOpts>() : {}),
  });

  admin
    .command('onboard <user> <pi>')
    .description('create the PI group and the user if needed and print new credentials; idempotent')
    .option('--json', 'print {"userName","pi","accessKeyId","secretAccessKey"}')
    .option('--rotate-key', 'for an existing user, replace the access key and print the new one')
    .action(
      action(async (user: string, pi: string, o: { json?: boolean; rotateKey?: boolean }) => {
        const r = await callAdmin(g(), 'onboard', { userName: user, pi, rotateKey: o.rotateKey === true });
        const accessKeyId = r.accessKeyId ?? r.user.accessKeyIds[0];
        if (o.json) {
          print({
            userName: r.user.userName,
            pi: r.user.pi,
            accessKeyId,
            ...(r.secretAccessKey ? { secretAccessKey: r.secretAccessKey } : {}),
          });
          return;
        }
        const made = Object.entries(r.created as Record<string, boolean>)
          .filter(([, v]) => v)
          .map(([k]) => k);
        console.log(
          made.length ? `created: ${made.join(', ')}` : `${user} already exists under PI ${r.user.pi}: nothing created`,
        );
        console.log(`job role for PI ${r.user.pi}: ${r.jobRoleArn}`);
        if (r.secretAccessKey) printNewKey(user, r.accessKeyId, r.secretAccessKey);
        else console.log(`access key id: ${accessKeyId} (secret not shown; use --rotate-key for a new one)`);
      }),
    );

  const users = admin.command('users').description('list, disable, enable users, rotate keys, grant admin');
  users
    .command('list')
    .option('--json', 'JSON output')
    .action(
      action(async (o: { json?: boolean }) => {
        const r = await callAdmin(g(), 'listusers', {});
        if (o.json) return print(r);
        for (const u of r.users) console.log(userLine(u));
      }),
    );
  for (const [name, op, what] of [
    ['disable', 'disableuser', 'refuse all requests of USER from now on'],
    ['enable', 'enableuser', 'accept USER again'],
  ] as const)
    users
      .command(`${name} <user>`)
      .description(what)
      .action(
        action(async (user: string) => console.log(userLine((await callAdmin(g(), op, { userName: user })).user))),
      );
  users
    .command('make-admin <user>')
    .description('grant USER admin rights (everything root may do)')
    .option('--revoke', 'take admin rights away instead')
    .action(
      action(async (user: string, o: { revoke?: boolean }) =>
        console.log(userLine((await callAdmin(g(), 'makeadmin', { userName: user, admin: !o.revoke })).user)),
      ),
    );
  users
    .command('rotate-key <user>')
    .description("replace USER's access key: the old one is refused at once")
    .option('--json', 'print {"userName","pi","accessKeyId","secretAccessKey"}')
    .action(
      action(async (user: string, o: { json?: boolean }) => {
        const r = await callAdmin(g(), 'rotatekey', { userName: user });
        if (o.json)
          return print({
            userName: r.user.userName,
            pi: r.user.pi,
            accessKeyId: r.accessKeyId,
            secretAccessKey: r.secretAccessKey,
          });
        printNewKey(user, r.accessKeyId, r.secretAccessKey);
      }),
    );

  admin
    .command('audit')
    .description('list audited calls, newest first')
    .option('--limit <n>', 'at most this many records (default 100)')
    .option('--user <name>', 'only calls by this user')
    .option('--json', 'JSON output')
    .action(
      action(async (o: { limit?: string; user?: string; json?: boolean }) => {
        const r = await callAdmin(g(), 'listaudit', {
          ...(o.limit ? { limit: Number(o.limit) } : {}),
          ...(o.user ? { userName: o.user } : {}),
        });
        if (o.json) return print(r);
        for (const a of r.records)
          console.log(
            `${a.time} ${a.userName}${a.pi ? `(${a.pi})` : ''} ${a.operation} ${a.target ?? '-'} from ${a.source ?? '-'}: ${a.outcome}`,
          );
      }),
    );

  admin
    .command('replicas')
    .description('list the server replicas sharing this database: which one leads, with which epoch')
    .option('--json', 'JSON output')
    .action(
      action(async (o: { json?: boolean }) => {
        const r = await callAdmin(g(), 'listreplicas', {});
        if (o.json) return print(r);
        for (const x of r.replicas)
          console.log(
            `${x.role.padEnd(8)} ${x.id} ${x.url || '-'} pid ${x.pid}${x.epoch !== undefined ? ` epoch ${x.epoch}` : ''} ${x.alive ? 'alive' : `last seen ${new Date(x.seenAt).toISOString()}`}`,
          );
      }),
    );

  const role = admin.command('role').description("job roles: each PI's <pi>-batchtask role");
  const roleSet = role
    .command('set <pi>')
    .description(
      "set where the credentials of PI's job role come from: STS AssumeRole (--sts-endpoint-url, --assume-role-arn) or the PI's static keys; jobs get them from the container credentials endpoint",
    )
    .requiredOption(
      '--access-key-id <id>',
      'with --sts-endpoint-url: the key that calls AssumeRole; else the PI object-store key jobs get',
    )
    .requiredOption('--secret-access-key <secret>', 'its secret')
    .option('--endpoint-url <url>', 'object-store endpoint (S3-compatible), given to jobs as AWS_ENDPOINT_URL')
    .option('--sts-endpoint-url <url>', 'STS endpoint (AWS, MinIO, Ceph RGW): jobs get temporary credentials')
    .option('--assume-role-arn <arn>', "with --sts-endpoint-url: the store's role to assume")
    .option('--duration-seconds <n>', 'lifetime of each set of temporary credentials (900-43200, default 3600)')
    .option('--policy <json>', 'session policy (JSON) narrowing the assumed role')
    .option(
      '--secrets-endpoint-url <url>',
      "an external SSM Parameter Store / Secrets Manager endpoint for job secrets, or 'aws' for AWS's own (default: openbatch's own per-PI secret store)",
    )
    .option('--role-region <region>', 'region given to jobs as AWS_DEFAULT_REGION (default: the server region)')
    .action(
      action(
        async (
          pi: string,
          o: {
            accessKeyId: string;
            secretAccessKey: string;
            endpointUrl?: string;
            roleRegion?: string;
            stsEndpointUrl?: string;
            assumeRoleArn?: string;
            durationSeconds?: string;
            policy?: string;
            secretsEndpointUrl?: string;
          },
        ) => {
          const r = await callAdmin(g(), 'setrole', {
            pi,
            accessKeyId: o.accessKeyId,
            secretAccessKey: o.secretAccessKey,
            ...(o.endpointUrl ? { endpointUrl: o.endpointUrl } : {}),
            ...(o.roleRegion ? { region: o.roleRegion } : {}),
            ...(o.stsEndpointUrl ? { stsEndpointUrl: o.stsEndpointUrl } : {}),
            ...(o.assumeRoleArn ? { assumeRoleArn: o.assumeRoleArn } : {}),
            ...(o.durationSeconds ? { durationSeconds: Number(o.durationSeconds) } : {}),
            ...(o.policy ? { policy: o.policy } : {}),
            ...(o.secretsEndpointUrl ? { secretsEndpointUrl: o.secretsEndpointUrl } : {}),
          });
          console.log(`${r.jobRoleArn}: ${o.stsEndpointUrl ? 'AssumeRole at ' + o.stsEndpointUrl : 'static keys'} set`);
        },
      ),
    );
  roleSet.addOption(new Option('--profile <name>', 'credentials profile [AWS_PROFILE]'));
  roleSet.addOption(new Option('--region <region>', 'signing region [AWS_REGION]'));
  const addServerOptions = (c: Command): void => {
    if (c.commands.length) return c.commands.forEach(addServerOptions);
    if (c === roleSet) return;
    c.addOption(new Option('--endpoint-url <url>', 'openbatch server [OPENBATCH_ENDPOINT]'));
    c.addOption(new Option('--profile <name>', 'credentials profile [AWS_PROFILE]'));
    c.addOption(new Option('--region <region>', 'signing region [AWS_REGION]'));
  };
  admin.commands.forEach(addServerOptions);
  return admin;
}
