import { describe, expect, it } from 'vitest';
import { explainRefusal } from '../src/reasons';

describe('explainRefusal', () => {
  it('turns a known code into a sentence and keeps the server words as the detail', () => {
    const r = explainRefusal('IDEMPOTENCY_KEY_REUSED: idempotency_key: already used for a different item');
    expect(r.plain).toMatch(/already saved under the same id/);
    expect(r.plain).not.toContain('IDEMPOTENCY_KEY_REUSED');
    expect(r.detail).toBe('IDEMPOTENCY_KEY_REUSED: idempotency_key: already used for a different item');
  });

  it('a bare code is known too; an unknown code or plain text falls back to a neutral sentence', () => {
    expect(explainRefusal('QUESTION_NOT_FOUND').plain).toMatch(/no longer available/);
    expect(explainRefusal('SOMETHING_NEW: why').plain).toBe('The server refused it.');
    expect(explainRefusal('score: must be between 0 and 1')).toEqual({ plain: 'The server refused it.', detail: 'score: must be between 0 and 1' });
    expect(explainRefusal(undefined)).toEqual({ plain: 'The server refused it.', detail: '' });
  });
});
