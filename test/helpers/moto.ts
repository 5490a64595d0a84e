/**
 * A real S3/STS/IAM/SSM/Secrets Manager endpoint for tests: `moto_server` with IAM enforcement on
 * (INITIAL_NO_AUTH_ACTION_COUNT), so a request the caller's policies do not allow is really denied. The first three
 * requests (unauthenticated) create an all-powerful `admin` user whose keys do the rest of a test's setup.
 * Each lab gets a bucket `<lab>-data` and a role `<lab>-s3` allowed its own bucket and reading SSM parameters and
 * Secrets Manager secrets (moto cannot scope those two by resource); a broker user (what openbatch calls AssumeRole with) may assume any `*-s3` role.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { python, requireBinary } from './clients.js';

export interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Moto {
  url: string;
  admin: Keys;
  /** Environment for boto3 / aws CLI as moto's admin. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export const MOTO_ACCOUNT = '123456789012';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs python code with boto3 against moto (as its admin unless env says otherwise); returns parsed JSON stdout. */
export function boto(moto: Pick<Moto, 'env'>, code: string, env: NodeJS.ProcessEnv = {}): any {
  const r = python(`import boto3, json, os\n${code}`, { ...moto.env, ...env });
  if (r.status !== 0) throw new Error(`boto3 script failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
}

export async function startMoto(): Promise<Moto> {
  requireBinary('moto_server', 'pip install "moto[server]" (the machine image has it)');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  proc.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  };
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`${url}/moto-api/`);
      break;
    } catch {
      if (proc.exitCode !== null || Date.now() > end) {
        await stop();
        throw new Error(`moto_server did not start on ${url}:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: url,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bootstrap',
    AWS_SECRET_ACCESS_KEY: 'bootstrap',
  };
  const admin = boto(
    { env: base },
    `iam = boto3.client('iam')
iam.create_user(UserName='admin')
iam.put_user_policy(UserName='admin', PolicyName='all', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
k = iam.create_access_key(UserName='admin')['AccessKey']
print(json.dumps({'accessKeyId': k['AccessKeyId'], 'secretAccessKey': k['SecretAccessKey']}))`,
  ) as Keys;
  const env = { ...base, AWS_ACCESS_KEY_ID: admin.accessKeyId, AWS_SECRET_ACCESS_KEY: admin.secretAccessKey };
  return { url, admin, env, stop };
}

/** Buckets and roles for the labs, and the broker user; returns the broker's keys. */
export function setUpLabs(moto: Moto, labs: string[]): Keys {
  return boto(
    moto,
    `iam = boto3.client('iam'); s3 = boto3.client('s3')
doc = lambda *st: json.dumps({'Version': '2012-10-17', 'Statement': list(st)})
trust = doc({'Effect': 'Allow', 'Principal': {'AWS': '*'}, 'Action': 'sts:AssumeRole'})
for lab in ${JSON.stringify(labs)}:
    s3.create_bucket(Bucket=lab + '-data')
    iam.create_role(RoleName=lab + '-s3', AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=lab + '-s3', PolicyName='lab', PolicyDocument=doc(
        {'Effect': 'Allow', 'Action': 's3:*', 'Resource': ['arn:aws:s3:::%s-data' % lab, 'arn:aws:s3:::%s-data/*' % lab]},
        # moto matches SSM and Secrets Manager requests against no resource: only "*" grants them.
        {'Effect': 'Allow', 'Action': ['ssm:GetParameter', 'secretsmanager:GetSecretValue'], 'Resource': '*'}))
iam.create_user(UserName='openbatch-broker')
iam.put_user_policy(UserName='openbatch-broker', PolicyName='assume', PolicyDocument=doc(
    {'Effect': 'Allow', 'Action': 'sts:AssumeRole', 'Resource': 'arn:aws:iam::${MOTO_ACCOUNT}:role/*-s3'}))
k = iam.create_access_key(UserName='openbatch-broker')['AccessKey']
print(json.dumps({'accessKeyId': k['AccessKeyId'], 'secretAccessKey': k['SecretAccessKey']}))`,
  ) as Keys;
}
