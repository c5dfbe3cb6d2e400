import type { Knex } from 'knex';
import { migrationConfig } from './migrations.js';

export interface ReadyState {
  ok: boolean;
  body: { status: 'ok' | 'unavailable'; database: string; migrations?: string };
}

/** How long one answer of the database serves every /readyz asking meanwhile. */
const READY_CACHE_MS = 1000;

/**
 * Whether the database answers and is migrated, asked on a connection of its own (a pool of one,
 * short waits), at most once a second whoever asks: a full API pool or a flood of probes never makes
 * /readyz wait, and /readyz never takes a connection a request needs.
 */
export class Readiness {
  private last?: { at: number; state: ReadyState };
  private asking?: Promise<ReadyState>;

  constructor(private readonly knex: Knex) {}

  async state(): Promise<ReadyState> {
    if (this.last && Date.now() - this.last.at < READY_CACHE_MS) return this.last.state;
    this.asking ??= this.ask().then((state) => {
      this.last = { at: Date.now(), state };
      this.asking = undefined;
      return state;
    });
    return this.asking;
  }

  private async ask(): Promise<ReadyState> {
    try {
      const [, pending] = (await this.knex.migrate.list(migrationConfig)) as [unknown[], unknown[]];
      if (pending.length > 0) return { ok: false, body: { status: 'unavailable', database: 'ok', migrations: `${pending.length} pending` } };
      return { ok: true, body: { status: 'ok', database: 'ok', migrations: 'applied' } };
    } catch {
      return { ok: false, body: { status: 'unavailable', database: 'unreachable' } };
    }
  }

  close(): Promise<void> {
    return this.knex.destroy();
  }
}

