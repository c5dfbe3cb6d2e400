import { LRUCache } from 'lru-cache';
import { InvalidTokenError, RateLimitedError } from '../errors.js';
import { clientOf } from '../shared/client-address.js';
import { hashKey, type IngestKeyStore } from './ingest-key-store.js';
import type { Logger } from '../logger.js';

/**
 * A key seen active is trusted this long at most; meanwhile the keys revoked lately are looked up every
 * `revocationCheckMs` (see forgetRevoked), so an org that posts once a minute needs no lookup per POST.
 */
const KEY_CACHE_MS = 10 * 60_000;
const KEY_CACHE_MAX = 100_000;
/**
 * A key looked up and not found (mistyped, revoked, made up) is answered from memory this long: a client
 * retrying with it costs no lookup. Keys are random, so none found now can become valid later.
 */
const UNKNOWN_KEY_MS = 60_000;
const UNKNOWN_KEY_MAX = 10_000;
const UNKNOWN_KEY = 'Unknown or revoked ingestion key';
/** Clients whose unknown keys are counted at once; past that the least recent are forgotten (memory stays bounded). */
const GUESSING_CLIENTS_MAX = 100_000;
const GUESS_WINDOW_MS = 60_000;

/** A key's last_used_at is written at most this often; keys used meanwhile are written together within USE_WRITE_MS. */
const USE_RECORD_MS = 60_000;
const USE_WRITE_MS = 1000;
/** Revocations looked for go back this much further than a cached key can live (a revoke's transaction may commit late). */
const REVOCATION_MARGIN_MS = 60_000;

/**
 * Who an ingestion key belongs to, asking PostgreSQL as little as it safely can: keys in use are
 * cached (revocations through other processes checked every `revocationCheckMs`), unknown keys are
 * remembered a while, a client guessing keys is refused lookups for the rest of its minute, and
 * last_used_at is written for many keys at once.
 */
export class IngestKeyAuth {
  /** Active keys seen lately, by hash, and when each one's last_used_at was last set by this process. */
  private readonly keyCache = new LRUCache<string, { id: string; orgId: string; touchedAt: number }>({ max: KEY_CACHE_MAX, ttl: KEY_CACHE_MS });
  private revocationsCheckedAt = 0;
  private revocationCheck?: Promise<void>;
  private readonly unknownKeys = new LRUCache<string, true>({ max: UNKNOWN_KEY_MAX, ttl: UNKNOWN_KEY_MS });
  /** Keys a client looked up in vain (in this process) in the minute since its first: past the limit, no more lookups for it. */
  private readonly guesses = new LRUCache<string, { tried: number; since: number }>({ max: GUESSING_CLIENTS_MAX, ttl: GUESS_WINDOW_MS });

  /** Keys used (ids) whose last_used_at waits for the next write (see recordUse). */
  private readonly used = new Set<string>();
  private useWrite?: NodeJS.Timeout;
  private useWriting?: Promise<void>;

  constructor(
    private readonly keys: Pick<IngestKeyStore, 'orgOf' | 'revokedWithin' | 'touchAll'>,
    private readonly opts: {
      /** How soon a key revoked through another process stops working here. */
      revocationCheckMs: number;
      /** Unknown keys one client may try per minute (see authenticate). */
      failuresPerMinute: number;
      /** Where a client reaching that limit is reported. */
      logger: Pick<Logger, 'warn'>;
    },
  ) {}

  /**
   * The org of an ingestion key. Keys are cached; a key revoked through this process stops at once,
   * through another one within `revocationCheckMs`. Unknown keys are remembered a while, and a client
   * (its `address`; see clientOf) that has tried `failuresPerMinute` unknown ones within a minute
   * gets 429 for keys not cached here, without a lookup: guessing keys cannot keep the database busy.
   * Keys in use (cached) go on working from that client. Counted in an LRU, so a flood of addresses
   * costs bounded memory (past it, the least recent are forgotten and may look up again).
   */
  async authenticate(key: string, address: string): Promise<string> {
    await this.forgetRevoked();
    const hash = hashKey(key);
    let hit = this.keyCache.get(hash);
    if (!hit) {
      if (this.unknownKeys.has(hash)) throw new InvalidTokenError(UNKNOWN_KEY);
      const client = clientOf(address);
      this.refuseClientGuessing(client);
      const found = await this.keys.orgOf(hash);
      if (!found) {
        this.unknownKeys.set(hash, true);
        this.countGuess(client);
        throw new InvalidTokenError(UNKNOWN_KEY);
      }
      hit = { ...found, touchedAt: 0 };
      this.keyCache.set(hash, hit);
    }
    const now = Date.now();
    if (hit.touchedAt < now - USE_RECORD_MS) {
      hit.touchedAt = now;
      this.recordUse(hit.id);
    }
    return hit.orgId;
  }

  /**
   * last_used_at of the keys used within a second is written in one UPDATE: one transaction a second
   * at most, however many orgs post, instead of one per key a minute (and one per org's first POST).
   * No timer runs while no key is used.
   */
  private recordUse(id: string): void {
    this.used.add(id);
    this.useWrite ??= setTimeout(() => void this.flushLastUsed(), USE_WRITE_MS).unref();
  }

  /** Writes the last_used_at waiting now (also when the process is stopping); resolves when written. */
  flushLastUsed(): Promise<void> {
    clearTimeout(this.useWrite);
    this.useWrite = undefined;
    const ids = [...this.used];
    this.used.clear();
    if (ids.length === 0) return this.useWriting ?? Promise.resolve();
    // Best effort: a failed write leaves last_used_at a minute or so behind, nothing else.
    const writing: Promise<void> = this.keys
      .touchAll(ids)
      .catch(() => {})
      .finally(() => {
        if (this.useWriting === writing) this.useWriting = undefined;
      });
    this.useWriting = writing;
    return writing;
  }


  /** Forgets every cached key (one was revoked through this process: it stops at once). */
  forgetCached(): void {
    this.keyCache.clear();
  }

  /** One more unknown key from `client`; the one that reaches the limit is logged (once per client and minute). */
  private countGuess(client: string): void {
    const guessed = this.guesses.get(client) ?? { tried: 0, since: Date.now() }; // the window runs from the first guess
    if (guessed.tried === 0) this.guesses.set(client, guessed);
    guessed.tried++;
    if (guessed.tried === this.opts.failuresPerMinute) {
      this.opts.logger.warn(
        { client, unknown_keys: guessed.tried },
        `ingest: ${client} tried ${guessed.tried} unknown ingestion keys within a minute; its keys not in use here are refused (429) for the rest of that minute`,
      );
    }
  }

  private refuseClientGuessing(client: string): void {
    const guessed = this.guesses.get(client);
    if (!guessed || guessed.tried < this.opts.failuresPerMinute) return;
    const seconds = Math.max(1, Math.ceil((guessed.since + GUESS_WINDOW_MS - Date.now()) / 1000));
    throw new RateLimitedError(`Too many unknown ingestion keys from this client (${this.opts.failuresPerMinute} per minute); retry in ${seconds} s`, seconds);
  }

  /**
   * Drops cached keys revoked lately, at most once per `revocationCheckMs` and only while keys are
   * cached: one small query per interval for the whole process, instead of one lookup per POST (every
   * POST of an org posting less often than every few seconds). Requests meanwhile wait for it.
   */
  private forgetRevoked(): Promise<void> | undefined {
    const now = Date.now();
    if (this.keyCache.size === 0) this.revocationsCheckedAt = now; // keys cached from now on are read fresh
    if (now - this.revocationsCheckedAt < this.opts.revocationCheckMs) return undefined;
    this.revocationCheck ??= this.keys
      .revokedWithin((KEY_CACHE_MS + REVOCATION_MARGIN_MS) / 1000)
      .then((hashes) => {
        for (const hash of hashes) this.keyCache.delete(hash);
        this.revocationsCheckedAt = now;
      })
      .finally(() => (this.revocationCheck = undefined));
    return this.revocationCheck;
  }
}
