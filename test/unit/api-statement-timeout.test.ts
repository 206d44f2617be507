import { API_STATEMENT_TIMEOUT_MS, statementTimeoutFor } from '../../runtime/system';

describe('the statement timeout a process runs with', () => {
  it('caps an API process at 2 s, so a statement hanging mid-way is a 503 within 3 s', () => {
    expect(API_STATEMENT_TIMEOUT_MS).toBe(2_000);
    expect(statementTimeoutFor('api', 5_000)).toBe(2_000);
    expect(statementTimeoutFor('api', 30_000)).toBe(2_000);
  });

  it('keeps a shorter configured timeout for the API, and the configured one for workers', () => {
    expect(statementTimeoutFor('api', 1_500)).toBe(1_500);
    expect(statementTimeoutFor('worker', 5_000)).toBe(5_000);
    expect(statementTimeoutFor('all', 5_000)).toBe(5_000);
  });
});
