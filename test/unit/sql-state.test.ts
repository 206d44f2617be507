import { permanentDataError } from '../../db/sql-state';

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('permanentDataError', () => {
  it.each([
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22P05', 'unsupported Unicode escape sequence'],
    ['22003', 'numeric field overflow'],
    ['23502', 'null value in column violates not-null constraint'],
    ['23503', 'insert violates foreign key constraint'],
    ['23514', 'new row violates check constraint'],
  ])('classifies SQLSTATE %s as permanent', (code, message) => {
    expect(permanentDataError(pgError(code, message))).toEqual({ sqlState: code, message });
  });

  it.each([
    ['40001', 'could not serialize access'],
    ['23505', 'duplicate key value violates unique constraint'],
    ['57P01', 'terminating connection due to administrator command'],
    ['08006', 'connection failure'],
  ])('leaves SQLSTATE %s to be retried', (code, message) => {
    expect(permanentDataError(pgError(code, message))).toBeUndefined();
  });

  it('finds the driver error a query builder wrapped, and keeps its message (not the parameters)', () => {
    const wrapped = new Error('Failed query: insert … params: a\u0000b', {
      cause: pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00'),
    });
    expect(permanentDataError(wrapped)).toEqual({
      sqlState: '22021',
      message: 'invalid byte sequence for encoding "UTF8": 0x00',
    });
  });

  it('ignores errors without a SQLSTATE', () => {
    expect(permanentDataError(new Error('socket hang up'))).toBeUndefined();
    expect(permanentDataError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(permanentDataError('not an error')).toBeUndefined();
  });
});
