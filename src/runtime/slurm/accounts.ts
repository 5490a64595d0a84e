/**
 * Which Unix account a job runs under on the cluster. The admin maps PI groups to accounts (`byPi`); every other job
 * runs under the default service account. root is refused unless the admin allowed it: a root job can read every
 * group's data on the shared disk and take over the nodes.
 */
import { spawnSync } from 'node:child_process';

export interface AccountMap {
  /** Account of jobs whose PI group has no entry. */
  default: string;
  byPi?: Record<string, string>;
  /** Jobs may run as root (uid 0). Off unless the admin says so. */
  allowRoot?: boolean;
}

export interface UnixAccount {
  name: string;
  uid: number;
  gid: number;
}

const cache = new Map<string, UnixAccount | undefined>();

/** Looks an account up in the system's user database (getent, so LDAP/SSSD accounts count). */
export function lookUpAccount(name: string): UnixAccount | undefined {
  if (!cache.has(name)) {
    const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
    const f = r.status === 0 ? r.stdout.trim().split(':') : [];
    cache.set(name, f.length >= 4 ? { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) } : undefined);
  }
  return cache.get(name);
}

/** The account for a PI group's job, or an error in words an admin can act on. */
export function accountFor(map: AccountMap, pi: string | undefined): UnixAccount | { error: string } {
  const name = (pi !== undefined ? map.byPi?.[pi] : undefined) ?? map.default;
  const acct = lookUpAccount(name);
  if (!acct)
    return {
      error: `Unix account ${JSON.stringify(name)} (for PI group ${JSON.stringify(pi ?? '')}) does not exist on the openbatch host; create it on the host and the nodes (useradd --system ${name}) or change the Slurm account map`,
    };
  if (acct.uid === 0 && !map.allowRoot)
    return {
      error: `jobs would run as root (account ${JSON.stringify(name)}); map the PI group to an unprivileged account, or allow root explicitly`,
    };
  return acct;
}
