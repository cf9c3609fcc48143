/**
 * Order keys on Redis (BullMQ's groups are a Pro feature). Every order key has a sorted set of its
 * job ids, scored by a queue-wide sequence taken when the job joined it, so the lowest score is the
 * earliest job not yet known to be finished: the head. All of a key's jobs are in BullMQ; a job
 * runs its handler only while it is the head. One that is not goes to BullMQ's delayed set,
 * "parked", and the worker that finishes the head promotes the next one; a promotion lost with a
 * killed worker costs at most `orderWaitMs`, after which the parked job looks again. A head is left
 * only when BullMQ lists it as completed or failed (or it is gone), so the order survives any
 * crash: the scripts below read BullMQ's own sets instead of trusting an event.
 */
import type { Redis } from 'ioredis';

/** Drop the finished heads of an order set; KEYS: order set, completed, failed; ARGV: job key prefix. */
const POP_DONE = `
local function popDone(orderKey, completedKey, failedKey, jobPrefix)
  while true do
    local head = redis.call('ZRANGE', orderKey, 0, 0)[1]
    if not head then return false end
    if redis.call('EXISTS', jobPrefix .. head) == 1 and not redis.call('ZSCORE', completedKey, head)
        and not redis.call('ZSCORE', failedKey, head) then
      return head
    end
    redis.call('ZREM', orderKey, head)
  end
end
`;

/**
 * KEYS: order set, sequence, completed, failed, parked; ARGV: job key prefix, job id, park (0/1),
 * renew (0/1: take a fresh sequence even if present, for an operator's retry).
 * Joins the job to its key (a fresh sequence if it is not there), drops finished heads, and answers
 * 1 if the job is the head (and no longer parked), else 0 (and parks it when asked).
 */
const JOIN = `${POP_DONE}
local id = ARGV[2]
if ARGV[4] == '1' or not redis.call('ZSCORE', KEYS[1], id) then
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), id)
end
local head = popDone(KEYS[1], KEYS[3], KEYS[4], ARGV[1])
if head == id then
  redis.call('SREM', KEYS[5], id)
  return 1
end
if ARGV[3] == '1' then redis.call('SADD', KEYS[5], id) end
return 0
`;

/**
 * KEYS: order set, completed, failed, parked; ARGV: job key prefix.
 * Drops finished heads; answers the new head's id if it was parked (the caller promotes it), else false.
 */
const ADVANCE = `${POP_DONE}
local head = popDone(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
if head and redis.call('SREM', KEYS[4], head) == 1 then return head end
return false
`;

interface OrderCommands {
  sbOrderJoin(...args: string[]): Promise<number>;
  sbOrderAdvance(...args: string[]): Promise<string | null>;
}

/** The Redis keys of one queue that the order scripts use. */
export interface OrderKeys {
  /** BullMQ's job key prefix ('bull:name:'). */
  jobPrefix: string;
  completed: string;
  failed: string;
  /** sarbridge's own keys start with this ('bull:name:sb:'). */
  own: string;
}

export class RedisOrder {
  private readonly r: Redis & OrderCommands;

  constructor(
    redis: Redis,
    private readonly keys: OrderKeys,
  ) {
    redis.defineCommand('sbOrderJoin', { numberOfKeys: 5, lua: JOIN });
    redis.defineCommand('sbOrderAdvance', { numberOfKeys: 4, lua: ADVANCE });
    this.r = redis as Redis & OrderCommands;
  }

  private set(orderKey: string): string {
    return `${this.keys.own}order:${encodeURIComponent(orderKey)}`;
  }

  /**
   * Join the job to its order key (if not there yet) and tell whether it is the head; when it is
   * not and `park`, it is marked parked, to be promoted when the head finishes.
   */
  async join(orderKey: string, jobId: string, o: { park: boolean; renew?: boolean }): Promise<boolean> {
    const k = this.keys;
    const head = await this.r.sbOrderJoin(
      this.set(orderKey),
      `${k.own}orderseq`,
      k.completed,
      k.failed,
      `${k.own}parked`,
      k.jobPrefix,
      jobId,
      o.park ? '1' : '0',
      o.renew ? '1' : '0',
    );
    return head === 1;
  }

  /** After a job of this key finished: the id of the next job to promote, or null. */
  async advance(orderKey: string): Promise<string | null> {
    const k = this.keys;
    return this.r.sbOrderAdvance(this.set(orderKey), k.completed, k.failed, `${k.own}parked`, k.jobPrefix);
  }
}
