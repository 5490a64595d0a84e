/** The host's GPUs (indices 0..n-1): each is given to at most one running attempt at a time. */
export class GpuPool {
  private readonly inUse: boolean[];

  constructor(size: number) {
    this.inUse = new Array<boolean>(size).fill(false);
  }

  /** Takes `n` free GPUs, or none (undefined) when fewer are free. */
  take(n: number): number[] | undefined {
    const free = this.inUse.flatMap((used, i) => (used ? [] : [i]));
    if (free.length < n) return undefined;
    const picked = free.slice(0, n);
    for (const g of picked) this.inUse[g] = true;
    return picked;
  }

  /** Marks GPUs as taken (a container found again after a restart). */
  mark(gpus: readonly number[]): void {
    for (const g of gpus) if (g >= 0 && g < this.inUse.length) this.inUse[g] = true;
  }

  release(gpus: readonly number[]): void {
    for (const g of gpus) if (g >= 0 && g < this.inUse.length) this.inUse[g] = false;
  }
}
