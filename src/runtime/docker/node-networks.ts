/**
 * The networks of multi-node attempts on Docker (runtime/local-multi-node.ts): one user-defined bridge network per
 * attempt, labelled like its containers, which every node container joins; the main node's address on it is what
 * the other nodes get as AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS.
 */
import type Docker from 'dockerode';
import { LABEL } from './container-config.js';

/** Runs an engine call, riding out an engine restart (DockerRuntime.withEngine). */
type WithEngine = <T>(call: () => Promise<T>) => Promise<T>;

export class NodeNetworks {
  constructor(
    private readonly docker: Docker,
    /** The server label's value: networks of this server only. */
    private readonly server: string,
    private readonly withEngine: WithEngine,
    /** The engine's own words for a failed call. */
    private readonly message: (err: unknown) => string,
  ) {}

  /** Makes the attempt's network; one left by a server that stopped mid-attempt is replaced. */
  async create(name: string, jobId: string, attempt: number): Promise<string> {
    const create = () =>
      this.withEngine(() =>
        this.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: { [LABEL.server]: this.server, [LABEL.network]: jobId, [LABEL.attempt]: String(attempt) },
        }),
      );
    try {
      await create();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409) throw new Error(this.message(err));
      await this.remove(name);
      await create();
    }
    return name;
  }

  async remove(name: string): Promise<void> {
    try {
      await this.docker.getNetwork(name).remove();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw new Error(this.message(err));
    }
  }

  /** The container's IPv4 address on `network` (the engine assigns it at start). */
  async addressOn(container: Docker.Container, network: string): Promise<string | undefined> {
    const info = await this.withEngine(() => container.inspect());
    return info.NetworkSettings.Networks[network]?.IPAddress || undefined;
  }

  /** Removes every node network of this server (after a restart: multi-node attempts are not re-attached). */
  async removeAll(): Promise<void> {
    const networks = await this.docker.listNetworks({ filters: { label: [`${LABEL.server}=${this.server}`] } });
    for (const n of networks) if (n.Labels?.[LABEL.network]) await this.remove(n.Name).catch(() => undefined);
  }
}
