/**
 * Failed logins per client address: `limit` in any `windowMs` (a sliding window); beyond that, every attempt from
 * the address is refused until the oldest failure leaves the window. Kept in this process's memory (one viewer
 * process; a restart forgets), bounded to `maxClients` addresses.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number = 60_000,
    private readonly now: () => number = Date.now,
    readonly maxClients: number = 10_000,
  ) {}

  private recent(client: string): number[] {
    const since = this.now() - this.windowMs;
    const kept = (this.failures.get(client) ?? []).filter((at) => at > since);
    if (kept.length === 0) this.failures.delete(client);
    else this.failures.set(client, kept);
    return kept;
  }

  /** Whole seconds until `client` may try again; 0 when it may now. */
  retryAfter(client: string): number {
    const recent = this.recent(client);
    if (recent.length < this.limit) return 0;
    return Math.max(1, Math.ceil((recent[recent.length - this.limit] + this.windowMs - this.now()) / 1000));
  }

  failed(client: string): void {
    const recent = this.recent(client);
    this.failures.delete(client); // re-inserted last: the map's order is the order of last failure
    this.failures.set(client, [...recent, this.now()].slice(-this.limit));
    if (this.failures.size > this.maxClients) this.prune();
  }

  succeeded(client: string): void {
    this.failures.delete(client);
  }

  /** Drops addresses with no failure in the window, then the least recently failing ones beyond `maxClients`. */
  private prune(): void {
    for (const client of [...this.failures.keys()]) this.recent(client);
    for (const client of this.failures.keys()) {
      if (this.failures.size <= this.maxClients) break;
      this.failures.delete(client);
    }
  }

  get clients(): number {
    return this.failures.size;
  }
}
