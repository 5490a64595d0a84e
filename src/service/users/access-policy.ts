/**
 * Who may pass which job role, and whether non-admin users may run jobs at all on this runtime.
 * A job role grants access to one lab's data, so a user may pass only their own PI's role; admins may pass any.
 */
import { AccessDeniedException } from '../../core/errors.js';
import type { Caller } from '../../core/caller.js';
import type { IdentityDirectory } from './identity-directory.js';

export class AccessPolicy {
  constructor(
    private readonly dir: IdentityDirectory,
    private readonly opts: { allowProcessRuntimeForUsers: boolean; runtimeName: () => string },
  ) {}

  /** Refuses a role that is not the caller's own PI's role (admins pass any). */
  checkJobRole(caller: Caller, roleArn: unknown, field: string): void {
    if (caller.admin || roleArn === undefined || roleArn === null || roleArn === '') return;
    const own = this.dir.roleArn(caller.pi);
    if (roleArn !== own)
      throw new AccessDeniedException(
        `User ${caller.user} may not pass job role ${JSON.stringify(roleArn)} in ${field}: a user may pass only their own PI's job role (${own}), ` +
          `since a job role grants access to a lab's data; use ${own}, leave the role out, or ask an admin`,
      );
  }

  /** Non-admin users may submit on the process runtime only when the admin opted in (it does not isolate labs). */
  checkSubmit(caller: Caller): void {
    if (caller.admin || this.opts.allowProcessRuntimeForUsers || this.opts.runtimeName() !== 'process') return;
    throw new AccessDeniedException(
      `SubmitJob is refused for user ${caller.user}: this server runs jobs with the process runtime, which runs every job as the server's own ` +
        `host user with no isolation between labs (one lab's job could read another's files and credentials). An admin can run the server ` +
        `with a container runtime (--runtime docker), or accept the risk with --allow-process-runtime-for-users`,
    );
  }

  /** The warning printed at start-up when users exist and jobs run as host processes. */
  startupWarning(): string | undefined {
    if (!this.dir.hasUsers() || this.opts.runtimeName() !== 'process') return undefined;
    return this.opts.allowProcessRuntimeForUsers
      ? 'warning: users other than root exist and jobs run with the process runtime (--allow-process-runtime-for-users): jobs of different labs run as the same host user with no isolation between them'
      : 'warning: users other than root exist but jobs run with the process runtime, which gives no isolation between labs: their SubmitJob calls are refused. Use --runtime docker, or pass --allow-process-runtime-for-users to accept the risk';
  }
}
