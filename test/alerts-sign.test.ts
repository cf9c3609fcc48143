/**
 * Our webhook signatures against the reference: the `standardwebhooks` package (the Standard
 * Webhooks project's own verifier) accepts what signWebhook makes, and refuses a forged body, a wrong
 * secret and an old (replayed) timestamp. The HMAC is also checked against the spec's published
 * example (id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, secret
 * whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, body {"test": 2432232314}).
 */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { isWebhookSecret, newWebhookSecret, signWebhook, webhookHeaders } from '../src/alerts/sign.js';
import { ValidationError } from '../src/errors.js';

const nowS = () => Math.floor(Date.now() / 1000);
const body = JSON.stringify({ specversion: '1.0', id: '7-0', type: 'item.published', data: { a: 1 } });

describe('signWebhook', () => {
  it('matches the Standard Webhooks example signature', () => {
    const sig = signWebhook(
      ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('is verified by the standardwebhooks package', () => {
    const secret = newWebhookSecret();
    const ts = nowS();
    const headers = webhookHeaders([secret], '7-0', ts, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('with two secrets (rotation), each one verifies', () => {
    const oldSecret = newWebhookSecret();
    const newSecret = newWebhookSecret(64);
    const ts = nowS();
    const headers = webhookHeaders([newSecret, oldSecret], '7-1', ts, body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, headers)).not.toThrow();
  });

  it('a forged body, a wrong secret, a replayed old timestamp and a future one are refused', () => {
    const secret = newWebhookSecret();
    const wh = new Webhook(secret);
    const ts = nowS();
    const headers = webhookHeaders([secret], '7-2', ts, body);
    expect(() => wh.verify(body.replace('"a":1', '"a":2'), headers)).toThrow(/signature/i);
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow(/signature/i);
    const old = webhookHeaders([secret], '7-2', ts - 600, body);
    expect(() => wh.verify(body, old)).toThrow(/timestamp/i);
    const future = webhookHeaders([secret], '7-2', ts + 600, body);
    expect(() => wh.verify(body, future)).toThrow(/timestamp/i);
    // the replayed header with its old timestamp swapped for a fresh one no longer matches
    expect(() => wh.verify(body, { ...old, 'webhook-timestamp': String(ts) })).toThrow(/signature/i);
  });

  it('new secrets are whsec_ + base64 of 24..64 random bytes, all different', () => {
    const seen = new Set<string>();
    for (const size of [24, 32, 64]) {
      const s = newWebhookSecret(size);
      expect(s).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(s.slice(6), 'base64')).toHaveLength(size);
      expect(isWebhookSecret(s)).toBe(true);
      seen.add(s);
    }
    expect(seen.size).toBe(3);
    expect(() => newWebhookSecret(16)).toThrow(ValidationError);
    expect(() => newWebhookSecret(65)).toThrow(ValidationError);
  });

  it.each([
    ['no secrets', [], '1-0', 1, /at least one secret/],
    ['no prefix', ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], '1-0', 1, /whsec_/],
    ['not base64', ['whsec_not*base64!!'], '1-0', 1, /not base64/],
    [
      'too short a key',
      [`whsec_${Buffer.alloc(8).toString('base64')}`],
      '1-0',
      1,
      /24 to 64 key bytes, got 8/,
    ],
    ['too long a key', [`whsec_${Buffer.alloc(100).toString('base64')}`], '1-0', 1, /got 100/],
    ['empty id', [newWebhookSecret()], '', 1, /webhook-id/],
    ['fractional timestamp', [newWebhookSecret()], '1-0', 1.5, /webhook-timestamp/],
    ['negative timestamp', [newWebhookSecret()], '1-0', -1, /webhook-timestamp/],
  ] as const)('refuses %s', (_name, secrets, id, ts, message) => {
    expect(() => signWebhook([...secrets], id, ts, body)).toThrow(ValidationError);
    expect(() => signWebhook([...secrets], id, ts, body)).toThrow(message);
  });
});
