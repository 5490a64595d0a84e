/** How the Docker runtime words an engine's failures, in AWS's reasons where AWS has them. */

/** The engine's own words for a failed call (dockerode wraps them in "(HTTP code 404) ..."). */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

/**
 * AWS's reason for an image that could not be pulled; a registry's refusal of the job's own credentials says so, as
 * the Docker daemon words it on AWS Batch's EC2 hosts.
 */
export function pullFailure(image: string, err: unknown, withJobCredentials: boolean): string {
  const message = engineMessage(err);
  if (withJobCredentials && /unauthorized|denied|authentication required|no basic auth/i.test(message))
    return `CannotPullContainerError: Error response from daemon: pull access denied for ${image}, repository does not exist or may require authorization: ${message} (the registry refused the username and password of repositoryCredentials.credentialsParameter)`;
  return `CannotPullContainerError: ${message}`;
}
