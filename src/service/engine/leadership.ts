/**
 * Leader election over the store: one lease row with a holder, an expiry (the store's clock) and an epoch that grows
 * with every new holder. Each replica tries to take or renew the lease every `renewMs`; the holder leads until it
 * fails to renew in time (then it steps down by itself, before the lease can pass to another) or sees another
 * holder. Safety does not rest on timing: every write of the engine is fenced by its epoch (see Store.writeJobs).
 */
import type { Store } from '../../core/ports.js';

export interface LeadershipOptions {
  /** This replica's id. */
  holder: string;
  /** How long a lease lasts without renewal: the longest a dead leader blocks a takeover. */
  ttlMs: number;
  /** How often it is renewed (and how often followers try to take it). */
  renewMs: number;
}

export interface LeadershipEvents {
  /** This replica leads from now on with `epoch`. */
  elected(epoch: number): Promise<void>;
  /**
   * This replica leads no longer. `handedOver`: another replica leads now (or this one is shutting down) and owns
   * the attempts; false when the store could not be reached in time: nobody may lead meanwhile, and if this replica
   * takes its own lease back (same epoch) it resumes where it stopped.
   */
  lost(reason: string, handedOver: boolean): Promise<void>;
  /** After a loss that was not a hand-over, another replica took the lease: the attempts are its now. */
  handedOver(): Promise<void>;
}

export class Leadership {
  private held: { epoch: number; deadline: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  /** Stepped down because the store was unreachable; not yet known whether another replica took over. */
  private paused = false;
  private lastEpoch: number | undefined;
  /** The last error talking to the store, for health. */
  lastError: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly opts: LeadershipOptions,
    private readonly events: LeadershipEvents,
  ) {}

  get epoch(): number | undefined {
    return this.held?.epoch;
  }

  start(): void {
    this.timer = setInterval(() => void this.tryRound(), this.opts.renewMs);
    this.timer.unref();
    void this.tryRound();
  }

  /** Takes or renews the lease now (also what the timer does). */
  tryRound(): Promise<void> {
    this.round ??= this.renew().finally(() => (this.round = undefined));
    return this.round;
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    const asked = Date.now();
    try {
      const got = await this.store.acquireLease(this.opts.holder, this.opts.ttlMs);
      this.lastError = undefined;
      if (this.stopped) return;
      if (!got) {
        if (this.held) await this.stepDown('another replica holds the leader lease', true);
        else if (this.paused) {
          this.paused = false;
          await this.events.handedOver();
        }
        return;
      }
      if (this.paused && got.epoch !== this.lastEpoch) await this.events.handedOver(); // another led meanwhile
      this.paused = false;
      // Counted from before the request, on this replica's clock: never later than the store's own expiry.
      const deadline = asked + this.opts.ttlMs;
      if (this.held?.epoch === got.epoch) {
        this.held.deadline = deadline;
        return;
      }
      if (this.held) await this.stepDown(`the lease moved to epoch ${got.epoch}`, true);
      this.held = { epoch: got.epoch, deadline };
      this.lastEpoch = got.epoch;
      void this.events.elected(got.epoch).catch((err: unknown) => {
        void this.stepDown(`could not start leading: ${(err as Error).message}`, false);
      });
    } catch (err) {
      this.lastError = (err as Error).message;
      if (this.held && Date.now() >= this.held.deadline - this.opts.renewMs) {
        this.paused = true;
        await this.stepDown(`could not renew the leader lease: ${(err as Error).message}`, false);
      }
    }
  }

  /** Steps down now (e.g. a fenced write showed that another replica leads); the next round may take it again. */
  async lose(reason: string): Promise<void> {
    await this.stepDown(reason, true);
  }

  private async stepDown(reason: string, handedOver: boolean): Promise<void> {
    if (!this.held) return;
    this.held = undefined;
    await this.events.lost(reason, handedOver);
  }

  /** Gives the lease up (clean shutdown), so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.round;
    const held = this.held;
    await this.stepDown('shutting down', true);
    if (held) await this.store.releaseLease(this.opts.holder, held.epoch).catch(() => {});
  }
}
